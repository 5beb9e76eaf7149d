"""The daemon's edges (issue 11, item 7), driven through ``irqd run`` on fixture copies.

Each daemon here runs with ``--no-netlink`` on a copy, its state and socket
in the test's tmp dir, so nothing on the host is touched.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tests.support.clikit import Daemon, assert_clean, irqd


@pytest.mark.parametrize("value", ["-1", "nan", "1e-9", "inf", "0", "-inf", "1e9"])
def test_interval_flag_has_the_configs_bounds(value, fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    try:
        out = irqd("run", "--root", root, "--no-netlink", "--state", tmp_path / "s.json",
                   "--socket", tmp_path / "sock", f"--interval={value}", timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"--interval {value}: the daemon started (busy-looping or waiting) instead of refusing")
    assert_clean(out, f"--interval {value}")
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "interval" in out.stderr, out.stderr


def test_a_storm_of_sighup_does_not_kill_it(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    with Daemon(root, tmp_path, "--interval", "60") as d:
        d.wait_ready()
        end = time.monotonic() + 2.0
        sent = 0
        while time.monotonic() < end and d.alive():
            os.kill(d.proc.pid, signal.SIGHUP)   # about 1,000 a second
            sent += 1
            time.sleep(0.001)
        time.sleep(0.5)
        assert d.alive(), f"died after {sent} SIGHUPs: {d.stderr()}"
        out = irqd("status", "--socket", d.socket, "--format", "json", timeout=20)
        assert out.returncode == 0, out.stderr
        assert d.stop(10) == 0, d.stderr()
    assert "Traceback" not in d.stderr()


def test_a_client_that_never_reads_does_not_block_status(fixture_copy, tmp_path):
    root = fixture_copy("intel-2s-i40e-ice")   # a status reply of ~340 KB: more than a socket buffer
    with Daemon(root, tmp_path, "--interval", "60") as d:
        d.wait_ready()
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        idle.connect(str(d.socket))
        try:
            time.sleep(0.5)
            t0 = time.monotonic()
            out = irqd("status", "--socket", d.socket, "--format", "json", timeout=30)
            took = time.monotonic() - t0
        finally:
            idle.close()
        assert out.returncode == 0, f"exit {out.returncode} after {took:.1f} s: {out.stderr}"
        assert took < 5, f"irqd status took {took:.1f} s behind a client that never reads"
        d.stop()


def _proc_files(pid: int) -> dict[str, bytes]:
    out = {}
    for name in ("comm", "stat", "status", "cmdline"):
        with open(f"/proc/{pid}/{name}", "rb") as f:
            out[name] = f.read()
    return out


def _plant(root, pid: int, files: dict[str, bytes]) -> None:
    d = root / "proc" / str(pid)
    d.mkdir(parents=True)
    for name, data in files.items():
        (d / name).write_bytes(data)


@pytest.fixture
def irqbalance_procs(tmp_path):
    """The /proc/PID files of a real zombie and of a real running process, both named irqbalance."""
    exe = tmp_path / "irqbalance"
    shutil.copy("/bin/sleep", exe)
    zombie = subprocess.Popen([str(exe), "0"])
    live = subprocess.Popen([str(exe), "30"])
    try:
        for _ in range(200):
            with open(f"/proc/{zombie.pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    break
            time.sleep(0.01)
        zfiles, lfiles = _proc_files(zombie.pid), _proc_files(live.pid)
    finally:
        live.kill()
        live.wait()
        zombie.wait()
    assert zfiles["comm"] == b"irqbalance\n" and b"State:\tZ" in zfiles["status"], zfiles
    return zfiles, lfiles


def test_a_zombie_irqbalance_does_not_block_start(fixture_copy, tmp_path, irqbalance_procs):
    zfiles, lfiles = irqbalance_procs
    root = fixture_copy("dev-virtio-2cpu")
    _plant(root, 4242, zfiles)   # the zombie's own /proc files, as the kernel shows them
    out = irqd("run", "--root", root, "--no-netlink", "--cycles", "1", "--state", tmp_path / "s.json",
               "--socket", tmp_path / "sock", timeout=30)
    assert out.returncode == 0, f"refused by a zombie irqbalance: exit {out.returncode}: {out.stderr}"
    out = irqd("apply", "--root", root, "--yes", "--state", tmp_path / "s2.json")
    assert out.returncode == 0, f"apply refused by a zombie irqbalance: {out.stderr}"
    # a running irqbalance still stops it: the check is not simply gone
    _plant(root, 4243, lfiles)
    out = irqd("run", "--root", root, "--no-netlink", "--cycles", "1", "--state", tmp_path / "s3.json",
               "--socket", tmp_path / "sock", timeout=30)
    assert out.returncode == 3 and "4243" in out.stderr, (out.returncode, out.stderr)


def _status_text_and_json(root, tmp_path, config=None):
    with Daemon(root, tmp_path, "--interval", "1", config=config) as d:
        d.wait_ready()
        time.sleep(2.5)   # two samples: the first only sets the baseline
        text = irqd("status", "--socket", d.socket)
        js = irqd("status", "--socket", d.socket, "--format", "json")
        metrics = None
        if config and "metrics_path" in config:
            metrics = (tmp_path / "irqd.prom").read_text()
        rc = d.stop()
    assert text.returncode == 0 and js.returncode == 0, text.stderr + js.stderr
    import json
    return text.stdout, json.loads(js.stdout), metrics, rc, d


def test_status_text_agrees_with_itself_on_managed(fixture_copy, tmp_path):
    root = fixture_copy("intel-2s-mlx5")   # NVMe vectors the kernel manages
    text, st, _, _, _ = _status_text_and_json(root, tmp_path)
    assert st["managed"], "this tree has managed IRQs; the test needs them"
    counts = [int(n) for n in re.findall(r"(\d+) managed", text)]
    listed = re.search(r"kernel-managed IRQs left alone: (\S+)", text)
    assert listed, text
    assert counts and all(n == len(st["managed"]) for n in counts), \
        f"status names {len(st['managed'])} managed IRQs and says {counts} managed left alone:\n{text[-1500:]}"


def test_idle_cpus_are_in_status_and_metrics(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")   # counts never grow in a copy: every CPU is at 0/s
    prom = tmp_path / "irqd.prom"
    _, st, metrics, _, _ = _status_text_and_json(root, tmp_path, config=f'[daemon]\nmetrics_path = "{prom}"\n')
    online = {"0", "1"}
    assert set(st["cpu_load"]) == online, st["cpu_load"]
    found = set(re.findall(r'^irqd_cpu_irq_rate\{cpu="(\d+)"\} ', metrics, re.MULTILINE))
    assert found == online, metrics


def test_metrics_file_removed_on_stop(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    prom = tmp_path / "irqd.prom"
    with Daemon(root, tmp_path, "--interval", "1", config=f'[daemon]\nmetrics_path = "{prom}"\n') as d:
        d.wait_ready()
        for _ in range(300):
            if prom.exists():
                break
            time.sleep(0.01)
        assert prom.exists(), d.stderr()
        assert d.stop() == 0, d.stderr()
    assert not prom.exists(), "a stale .prom file is left behind after stop"
    assert not list(tmp_path.glob("irqd.prom.*")), list(tmp_path.iterdir())

"""Special files in a tree (issue 11, item 4): FIFOs, devices and links out of the root.

Reads must be bounded, regular files only, non-blocking and beneath the
root; anything else is a problem naming the path. Every command must end
(6 s here; each takes 0.3 s on this tiny tree), with no traceback, an exit status the README lists and
the path named. The commands run under a 1.5 GiB address-space limit, so a
read of /dev/zero fails fast instead of eating the machine's memory.
"""
import os
import resource
import shutil
import stat
import subprocess
import time

import pytest

from tests.support.clikit import Daemon, assert_clean, irqd

IRQ = 38   # virtio2-input.0 on dev-virtio-2cpu: the plan writes its smp_affinity
LIMIT = 3 << 29


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run(*args, timeout=6):
    try:
        return irqd(*args, timeout=timeout, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"irqd {' '.join(map(str, args[:2]))} hung (> {timeout} s)")


def every_command(root, tmp_path, tag: str) -> dict[str, subprocess.CompletedProcess]:
    outs = {
        "show": run("show", "--root", root, "--format", "json"),
        "plan": run("plan", "--root", root),
        "audit": run("audit", "--root", root),
        "apply": run("apply", "--root", root, "--yes"),
        "capture": run("capture", tmp_path / f"capture-{tag}", "--root", root),
        "restore": run("restore", "--root", root),
    }
    for name, out in outs.items():
        assert_clean(out, f"{name} ({tag})")
    return outs


def _fifo(path):
    path.unlink()
    os.mkfifo(path)


def _chardev_zero(path):
    path.unlink()
    os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))


def _link_dev_zero(path):
    path.unlink()
    os.symlink("/dev/zero", path)


@pytest.mark.parametrize("rel, damage", [
    ("proc/interrupts", _fifo),
    (f"proc/irq/{IRQ}/smp_affinity", _fifo),
    ("proc/stat", _fifo),
    ("sys/class/net/eth0/queues/rx-0/rps_cpus", _fifo),
    ("proc/stat", _chardev_zero),
    ("proc/stat", _link_dev_zero),
    (f"proc/irq/{IRQ}/smp_affinity", _link_dev_zero),
], ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_special_file_in_the_tree(rel, damage, fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    assert irqd("apply", "--root", root, "--yes").returncode == 0   # originals saved: restore has work
    target = root / rel
    damage(target)
    outs = every_command(root, tmp_path, "x")
    show = outs["show"]
    named = show.stdout + show.stderr
    # the path as given, or where its links lead inside the tree (what discovery opened)
    real = os.path.relpath(os.path.realpath(target), root) if os.path.islink(target.parent.parent.parent) else rel
    assert rel in named or real in named, f"show does not name {rel}:\n{named[-2000:]}"
    for name in ("apply", "restore"):
        if "smp_affinity" in rel or "rps_cpus" in rel:
            text = outs[name].stdout + outs[name].stderr
            assert rel in text or str(target) in text or real in text, f"{name} does not name {rel}:\n{text[-2000:]}"


def _shadow_secret() -> str | None:
    try:
        with open("/etc/shadow") as f:
            for line in f:
                if line.strip():
                    return line.strip()
    except OSError:
        return None
    return None


def test_absolute_link_to_a_host_secret_is_not_read(fixture_copy, tmp_path):
    secret = _shadow_secret()
    if not secret:
        pytest.skip("no readable /etc/shadow")
    root = fixture_copy("dev-virtio-2cpu")
    aff = root / f"proc/irq/{IRQ}/smp_affinity"
    aff.unlink()
    os.symlink("/etc/shadow", aff)
    outs = every_command(root, tmp_path, "shadow")
    for name, out in outs.items():
        for part in (secret, secret.split(":")[0] + ":" + secret.split(":")[1]):
            assert part not in out.stdout + out.stderr, f"{name} printed /etc/shadow's content"
    assert f"proc/irq/{IRQ}/smp_affinity" in outs["show"].stdout + outs["show"].stderr
    # the host file is untouched and the copy holds nothing of it
    dest = tmp_path / "capture-shadow"
    for dirpath, _, files in os.walk(dest):
        for f in files:
            if os.path.islink(os.path.join(dirpath, f)):
                continue   # a link (made relative, inside the copy): no content of its own
            with open(os.path.join(dirpath, f), "rb") as data:
                assert secret.encode() not in data.read(), f


def test_capture_does_not_copy_absolute_links(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    aff = root / f"proc/irq/{IRQ}/smp_affinity"
    aff.unlink()
    os.symlink("/etc/hostname", aff)
    dest = tmp_path / "cap"
    out = run("capture", dest, "--root", root)
    assert_clean(out, "capture")
    bad = []
    for dirpath, dirnames, files in os.walk(dest):
        for entry in dirnames + files:
            p = os.path.join(dirpath, entry)
            if os.path.islink(p):
                target = os.readlink(p)
                real = os.path.realpath(p)
                if target.startswith("/") or not real.startswith(str(dest) + "/"):
                    bad.append(f"{os.path.relpath(p, dest)} -> {target}")
    assert not bad, f"capture copied links out of the tree: {bad}"


def test_fifo_as_the_config(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    cfg = tmp_path / "irqd.toml"
    os.mkfifo(cfg)
    for args in (("config", "check", "--config", cfg), ("plan", "--root", root, "--config", cfg),
                 ("apply", "--root", root, "--yes", "--config", cfg), ("audit", "--root", root, "--config", cfg)):
        out = run(*args)
        assert_clean(out, args[0])
        assert out.returncode in (1, 2) and str(cfg) in out.stderr, (args, out.returncode, out.stderr)


def test_fifo_config_on_sighup_then_sigterm_stops(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    with Daemon(root, tmp_path, "--interval", "60", config="[daemon]\ninterval = 60\n") as d:
        d.wait_ready()
        cfg = tmp_path / "irqd.toml"
        cfg.unlink()
        os.mkfifo(cfg)
        d.proc.send_signal(1)   # SIGHUP
        time.sleep(1.0)
        assert d.alive(), d.stderr()
        status = irqd("status", "--socket", d.socket, timeout=10)
        rc = d.stop(5)
        assert rc == 0, f"SIGTERM did not stop it within 5 s (rc {rc}); status answered {status.returncode}"
        assert str(cfg) in d.stderr(), d.stderr()


@pytest.mark.skipif(shutil.which("mknod") is None, reason="mknod")
def test_restore_into_a_fifo_does_not_hang(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    assert irqd("apply", "--root", root, "--yes").returncode == 0
    _fifo(root / f"proc/irq/{IRQ}/smp_affinity")
    out = run("restore", "--root", root)
    assert_clean(out, "restore")
    assert out.returncode == 1 and f"proc/irq/{IRQ}/smp_affinity" in out.stdout + out.stderr, out

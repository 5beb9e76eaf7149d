"""A running daemon follows every ban source at once, with no restart (issue 14).

On a fixture copy: cri-o's exact PreStart writes (default_smp_affinity, then
IRQBALANCE_BANNED_CPUS in the env file), tuned's IRQBALANCE_BANNED_CPULIST,
and an `irqd ban` drop-in each move every movable IRQ, RPS and XPS map off
the banned CPUs; lifting a ban gives the CPUs back without moving an IRQ. In
a private network namespace the same holds for a veth's RPS/XPS maps on the
real kernel. The times are printed; bench/bench_bans.py measures them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from irqd.discover import discover
from tests.support.bans import BAN, LIMIT, TREE, affinities, cri_o_banned_line, cri_o_mask_without, left_on, wait_clear
from tests.support.paths import FIXTURES, REPO


@pytest.fixture
def daemon(tmp_path):
    root = tmp_path / TREE
    shutil.copytree(FIXTURES / TREE, root, symlinks=True)
    (root / "etc/sysconfig").mkdir(parents=True)
    (root / "etc/sysconfig/irqbalance").write_text("# irqbalance\nIRQBALANCE_ARGS=\n")
    proc = subprocess.Popen([sys.executable, "-m", "irqd", "run", "--root", str(root), "--no-netlink",
                             "--interval", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    sock = root / "run/irqd/irqd.sock"
    deadline = time.monotonic() + 60
    while not sock.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield root, proc
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err


def test_cri_o_prestart_and_poststop(daemon):
    root, _ = daemon
    before = (root / "proc/irq/default_smp_affinity").read_text()
    cri_o_mask_without(root, BAN)
    took = wait_clear(root, BAN)
    print(f"default_smp_affinity ban: off the CPUs in {took * 1000:.0f} ms")
    cri_o_banned_line(root, BAN)
    assert 'IRQBALANCE_BANNED_CPUS="' in (root / "etc/sysconfig/irqbalance").read_text()
    placed = affinities(root)
    # PostStop: cri-o sets the CPUs again; the env file keeps them until its next write
    (root / "proc/irq/default_smp_affinity").write_text(before.strip())
    cri_o_banned_line(root, frozenset())
    time.sleep(2.5)   # the poll and a re-plan
    assert affinities(root) == placed, "a lifted ban gives the CPUs back without moving IRQs"


def test_tuned_cpulist_and_lifting(daemon):
    root, _ = daemon
    env = root / "etc/sysconfig/irqbalance"
    tmp = env.with_name(".irqbalance.tmp")
    tmp.write_text(env.read_text() + "IRQBALANCE_BANNED_CPULIST=2-3,26-27\n")
    os.rename(tmp, env)   # editors and sed -i replace the file
    took = wait_clear(root, BAN)
    print(f"irqbalance env ban: off the CPUs in {took * 1000:.0f} ms")
    placed = affinities(root)
    tmp.write_text(env.read_text().replace("IRQBALANCE_BANNED_CPULIST=2-3,26-27\n", "IRQBALANCE_BANNED_CPULIST=\n"))
    os.rename(tmp, env)   # an empty list bans nothing
    start = time.monotonic()
    while True:
        maps = [q for nic in discover(str(root)).nics for q in nic.tx if q.xps_cpus and q.xps_cpus & BAN]
        if maps:
            break
        assert time.monotonic() - start < LIMIT, "the freed CPUs never came back into an XPS map"
        time.sleep(0.05)
    assert affinities(root) == placed


def test_irqd_ban_returns_when_done(daemon):
    root, _ = daemon
    irqd = [sys.executable, "-m", "irqd"]
    start = time.monotonic()
    out = subprocess.run([*irqd, "ban", "--root", str(root), "--owner", "pod-1234", "2-3,26-27"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    took = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    assert left_on(root, BAN) == [], "when irqd ban returns, nothing is left on the CPUs"
    print(f"irqd ban: returned after {took * 1000:.0f} ms")
    assert (root / "run/irqd/banned.d/pod-1234.cpulist").read_text().strip() == "2-3,26-27"
    bad = subprocess.run([*irqd, "ban", "--root", str(root), "--owner", ".hidden", "2"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 2 and "owner" in bad.stderr
    out = subprocess.run([*irqd, "unban", "--root", str(root), "--owner", "pod-1234"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not (root / "run/irqd/banned.d/pod-1234.cpulist").exists()


def test_irqd_ban_without_a_daemon_says_so(tmp_path):
    root = tmp_path / TREE
    shutil.copytree(FIXTURES / TREE, root, symlinks=True)
    out = subprocess.run([sys.executable, "-m", "irqd", "ban", "--root", str(root), "--owner", "p", "2"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 3 and "no daemon" in out.stderr and "irqd apply" in out.stderr
    # the one-shot apply honours the same drop-in
    assert subprocess.run([sys.executable, "-m", "irqd", "apply", "--root", str(root), "--yes"],
                          capture_output=True, text=True, cwd=REPO, timeout=120).returncode == 0
    assert left_on(root, frozenset({2})) == []


needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "ip")) or (os.cpu_count() or 1) < 2,
    reason="needs root, unshare, ip (iproute2) and 2 CPUs")


@pytest.mark.netns
@needs_netns
def test_ban_moves_rps_and_xps_of_a_real_veth(tmp_path):
    cfg = tmp_path / "irqd.toml"
    cfg.write_text('rps_virtual = true\nxps = "on"\n[daemon]\ninterval = 60\n')
    script = textwrap.dedent(f"""\
        set -e
        mount -t sysfs sysfs /sys
        mount -t tmpfs tmpfs /run
        waitfor() {{ local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
            until "$@"; do [ "$(date +%s%N)" -lt "$end" ] || return 1; sleep 0.01; done; }}
        is() {{ [ "$(cat "$1")" = "$2" ]; }}
        T={tmp_path}
        ip link add va numtxqueues 2 numrxqueues 2 type veth peer name vb
        "{sys.executable}" -m irqd run --root / --only rps,xps --state $T/state.json --config $T/irqd.toml \\
            --no-netlink > $T/out 2> $T/err &
        PID=$!
        trap 'kill $PID 2>/dev/null || true' EXIT
        waitfor 30 test -S /run/irqd/irqd.sock
        waitfor 10 is /sys/class/net/va/queues/rx-0/rps_cpus 3
        "{sys.executable}" -m irqd ban --owner veth-test 1
        cat /sys/class/net/va/queues/rx-0/rps_cpus /sys/class/net/va/queues/tx-0/xps_cpus \\
            /sys/class/net/va/queues/tx-1/xps_cpus
        "{sys.executable}" -m irqd unban --owner veth-test
        cat /sys/class/net/va/queues/rx-0/rps_cpus
        """)
    out = subprocess.run(["unshare", "-n", "-m", "bash", "-c", script], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr + (tmp_path / "err").read_text()
    rps, xps0, xps1, rps_after = [ln for ln in out.stdout.splitlines() if ln and not ln.startswith("irqd:")]
    assert rps == "1", "RPS of rx-0 holds CPU 0 only while CPU 1 is banned"
    assert {xps0, xps1} == {"1", "0"}, "CPU 0 sends through one queue, CPU 1 through none"
    assert rps_after == "3", "unbanned: both CPUs again"

"""`irqd run` against the real kernel in a private network namespace.

Netlink events drive it here: the RPS/XPS maps of a new veth must appear
long before the 60 s sampling interval, ethtool -L must re-plan, a bad
config on SIGHUP must not stop it, and SIGTERM with restore_on_exit must
bring the originals back. `--only rps,xps` keeps it off the host's IRQs.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "ip", "ethtool")),
    reason="needs root, unshare, ip (iproute2) and ethtool")


def run_in_netns(body: str, timeout=120):
    script = textwrap.dedent("""\
        set -e
        mount -t sysfs sysfs /sys
        waitfor() {  # waitfor SECONDS COMMAND...: poll every 10 ms
            local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
            until "$@"; do
                [ "$(date +%s%N)" -lt "$end" ] || return 1
                sleep 0.01
            done
        }
        nonzero() { [ -e "$1" ] && grep -q '[1-9a-f]' "$1"; }
        zero() { [ -e "$1" ] && ! grep -q '[1-9a-f]' "$1"; }
        """) + textwrap.dedent(body)
    return subprocess.run(["unshare", "-n", "-m", "bash", "-c", script], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": REPO}, timeout=timeout)


@needs
def test_daemon_follows_netlink_events(tmp_path):
    cfg = tmp_path / "irqd.toml"
    cfg.write_text('rps_virtual = true\nxps = "on"\n[daemon]\ninterval = 60\nrestore_on_exit = true\n')
    out = run_in_netns(f"""
        T={tmp_path}
        "{sys.executable}" -m irqd run --root / --only rps,xps --state $T/state.json --socket $T/sock \\
            --config $T/irqd.toml > $T/daemon.out 2> $T/daemon.err &
        PID=$!
        trap 'kill $PID 2>/dev/null || true' EXIT  # a failed step must not leave a daemon running
        waitfor 10 test -S $T/sock
        start=$(date +%s%N)
        ip link add veth0 numtxqueues 4 numrxqueues 4 type veth peer name veth1 numtxqueues 4 numrxqueues 4
        waitfor 5 nonzero /sys/class/net/veth0/queues/rx-3/rps_cpus
        waitfor 5 nonzero /sys/class/net/veth0/queues/tx-1/xps_cpus
        echo "reaction_ms=$(( ($(date +%s%N) - start) / 1000000 ))"
        # channels: down to 2, then back to 4; the new rx-2/rx-3 must get RPS again
        ethtool -L veth0 rx 2 tx 2
        ethtool -L veth0 rx 4 tx 4
        waitfor 5 nonzero /sys/class/net/veth0/queues/rx-3/rps_cpus
        echo channels=ok
        "{sys.executable}" -c "from irqd.daemon.netlink import EthtoolChannels
print('reply', EthtoolChannels().query('veth0'))"
        ip link del veth0
        sleep 0.3
        "{sys.executable}" -m irqd status --socket $T/sock --format json > $T/status.json
        # a bad config on SIGHUP: logged, old config kept, still running
        cp $T/irqd.toml $T/good.toml
        echo 'policy = "bogus"' > $T/irqd.toml
        kill -HUP $PID
        sleep 0.3
        kill -0 $PID && echo alive-after-hup
        cp $T/good.toml $T/irqd.toml
        ip link add veth2 numtxqueues 2 numrxqueues 2 type veth peer name veth3 numtxqueues 2 numrxqueues 2
        waitfor 5 nonzero /sys/class/net/veth2/queues/rx-1/rps_cpus
        kill -TERM $PID
        wait $PID
        echo "exit=$?"
        zero /sys/class/net/veth2/queues/rx-1/rps_cpus && echo restored
    """)
    assert out.returncode == 0, out.stdout + out.stderr + (tmp_path / "daemon.err").read_text()
    err = (tmp_path / "daemon.err").read_text()
    lines = out.stdout.splitlines()
    reaction = int(next(t for t in lines if t.startswith("reaction_ms=")).split("=")[1])
    assert reaction < 2000, f"RPS/XPS took {reaction} ms to appear (sampling interval is 60 s)"
    assert "channels=ok" in lines
    assert any(t.startswith("reply Event(kind='channels', ifname='veth0'") and "rx 4 tx 4" in t for t in lines)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["errors_total"] == 0, err
    assert status["last_event"] is not None and status["replans"] >= 3
    assert "alive-after-hup" in lines
    assert "invalid configuration, keeping the old one" in err
    assert "exit=0" in lines and "restored" in lines, err
    print(f"netns daemon: veth RPS/XPS written {reaction} ms after creation; channels, HUP, restore ok")

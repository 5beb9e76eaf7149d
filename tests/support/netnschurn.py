"""Device churn in a private network namespace, with ``irqd run --root /`` following it (issue 11, item 1).

One script for the CI test (tests/test_netns_churn.py, 20 s) and the long
run (bench/churn.py, 90 s). Inside ``unshare -n -m``:

- a fresh sysfs shows only the namespace's devices;
- tmpfs over /var/lib and /run: the daemon's default state
  (/var/lib/irqd/state.json) and socket (/run/irqd/irqd.sock) land there and
  never on the host;
- /proc/irq is bind-mounted read-only over itself, and the daemon runs with
  ``--only rps,xps``: the host's IRQs cannot be written from here.

Then ``loops`` loops at once (3 by default: devices vanish while the daemon
reads the others), each: ip link add a 4-queue veth; ethtool -L to 2 and
back to 4; rename it; ip link del it. At the end a last veth is made, and the time
until its RPS and XPS maps are set is measured.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.paths import REPO

CONFIG = 'rps_virtual = true\nxps = "on"\n[daemon]\ninterval = 60\n'


# the namespace's own sysfs; irqd's default state and socket on tmpfs; the host's IRQs read-only
PREAMBLE = """\
set -e
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /var/lib
mount -t tmpfs -o mode=0755 tmpfs /run
mount --bind /proc/irq /proc/irq && mount -o remount,bind,ro /proc/irq /proc/irq
findmnt -no OPTIONS /proc/irq | grep -q '^ro'
"""


def in_netns(body: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a bash ``body`` after PREAMBLE in a new network and mount namespace."""
    return subprocess.run(["unshare", "-n", "-m", "bash", "-c", PREAMBLE + textwrap.dedent(body)],
                          check=False, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=timeout)


def churn_script(seconds: float, work: Path, loops: int = 3) -> str:
    return PREAMBLE + textwrap.dedent(f"""\
        waitfor() {{  # waitfor SECONDS COMMAND...: poll every 10 ms
            local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
            until "$@"; do
                [ "$(date +%s%N)" -lt "$end" ] || return 1
                sleep 0.01
            done
        }}
        nonzero() {{ [ -e "$1" ] && grep -q '[1-9a-f]' "$1"; }}
        anynonzero() {{ grep -qs '[1-9a-f]' "$@"; }}  # XPS: 4 tx queues on 2 CPUs leave two queues empty
        W={work}
        "{sys.executable}" -m irqd run --root / --only rps,xps --config $W/irqd.toml \\
            > $W/daemon.out 2> $W/daemon.err &
        PID=$!
        trap 'kill -9 $PID 2>/dev/null || true' EXIT
        waitfor 15 test -S /run/irqd/irqd.sock
        churn() {{  # churn PREFIX: one loop; several run at once so devices vanish mid-discovery
            set +e   # a failed step is counted below, not fatal to the loop
            local i=0 errors=0 n
            while [ "$(date +%s%N)" -lt "$end" ] && kill -0 $PID 2>/dev/null; do
                n=$1x$i   # a new name each round: one log line per device can be counted
                ip link add $n numtxqueues 4 numrxqueues 4 type veth peer name $n.p numtxqueues 4 numrxqueues 4
                ethtool -L $n rx 2 tx 2 2>/dev/null || errors=$((errors + 1))
                ethtool -L $n rx 4 tx 4 2>/dev/null || errors=$((errors + 1))
                ip link set $n name $n.r
                ip link del $n.r
                i=$((i + 1))
            done
            echo "$i $errors" > $W/rounds.$1
        }}
        end=$(( $(date +%s%N) + {int(seconds * 1000)} * 1000000 ))
        loops=""
        for p in $(seq 1 {loops}); do churn c$p & loops="$loops $!"; done
        wait $loops
        echo "rounds=$(cat $W/rounds.* | awk '{{s += $1}} END {{print s + 0}}')"
        echo "ethtool_errors=$(cat $W/rounds.* | awk '{{s += $2}} END {{print s + 0}}')"
        if kill -0 $PID 2>/dev/null; then echo "alive=1"; else echo "alive=0"; fi
        start=$(date +%s%N)
        ip link add final numtxqueues 4 numrxqueues 4 type veth peer name final.p numtxqueues 4 numrxqueues 4
        if waitfor 5 nonzero /sys/class/net/final/queues/rx-3/rps_cpus \\
           && waitfor 5 anynonzero /sys/class/net/final/queues/tx-*/xps_cpus; then
            echo "reaction_ms=$(( ($(date +%s%N) - start) / 1000000 ))"
        else
            echo "reaction_ms=none"
        fi
        "{sys.executable}" -m irqd status --format json > $W/status.json 2>/dev/null || true
        kill -TERM $PID 2>/dev/null || true
        rc=0
        wait $PID || rc=$?
        echo "exit=$rc"
        trap - EXIT
        """)


def run_churn(seconds: float, work: Path, loops: int = 3, timeout: float | None = None) -> dict:
    """Run the churn; return rounds, alive, reaction_ms (None when the maps never came), exit, the log."""
    work = Path(work)
    (work / "irqd.toml").write_text(CONFIG)
    out = subprocess.run(["unshare", "-n", "-m", "bash", "-c", churn_script(seconds, work, loops)],
                         check=False, capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)},
                         timeout=timeout or seconds + 60)
    found = dict(re.findall(r"^(\w+)=(\S+)$", out.stdout, re.MULTILINE))
    log = (work / "daemon.err").read_text(errors="replace") if (work / "daemon.err").exists() else ""
    reaction = found.get("reaction_ms")
    return {
        "script_rc": out.returncode,
        "script_err": out.stderr[-2000:],
        "rounds": int(found.get("rounds", 0)),
        "ethtool_errors": int(found.get("ethtool_errors", 0)),
        "alive": found.get("alive") == "1",
        "reaction_ms": int(reaction) if reaction and reaction.isdigit() else None,
        "exit": int(found["exit"]) if found.get("exit", "").lstrip("-").isdigit() else None,
        "log": log,
        "status": _json(work / "status.json"),
    }


def _json(path: Path) -> dict | None:
    import json
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def lines_per_vanished_device(log: str) -> dict[str, int]:
    """How many log lines say each churned device (c1x17, c1x17.p, ...) went away."""
    counts: dict[str, int] = {}
    for line in log.splitlines():
        if re.search(r"went away|gone|vanished|no longer", line, re.IGNORECASE):
            for dev in set(re.findall(r"\bc\d+x\d+(?:\.[pr])?\b", line)):
                counts[dev] = counts.get(dev, 0) + 1
    return counts

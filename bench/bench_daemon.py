"""How fast and how light the daemon is. Run by hand as root, from the repository root:

    python3 -m bench.bench_daemon [--trials N] [--runs N] [--seconds S]

1. Reaction: veth creation -> RPS/XPS written, in a private netns (goal < 200 ms;
   irqbalance: never, it does no RPS or XPS). Median and worst of N trials.
2. One sampling + rebalancing cycle on the generated 256-CPU / ~1,000-IRQ tree:
   CPU time (user+sys), median of N, with an imbalance that makes it choose moves.
3. CPU use over --seconds of `irqd run --root TREE --interval 1` beside irqbalance
   (`--foreground --interval 1`) on the same tree, irqbalance in a private mount
   namespace with the tree's proc and sys bound over /proc and /sys (checked with a
   marker before it starts). Goal: irqd uses no more CPU than irqbalance.
4. systemd-analyze security --offline=yes exposure of systemd/irqd.service and of
   irqbalance's unit (goal: irqd's is lower).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.daemonkit import Clock, bump, make_daemon
from tests.support.machine import write_machine
from tests.support.trees import large_specs

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def reaction(trials: int) -> list[float]:
    """Milliseconds from `ip link add` returning to a non-zero rps_cpus and xps_cpus on the new veth."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "irqd.toml"), "w") as f:
            f.write('rps_virtual = true\nxps = "on"\n[daemon]\ninterval = 60\n')
        script = f"""
set -e
mount -t sysfs sysfs /sys
"{sys.executable}" -m irqd run --root / --only rps,xps --state {tmp}/state.json --socket {tmp}/sock \
    --config {tmp}/irqd.toml 2>{tmp}/err &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT  # a failed step must not leave a daemon running
for i in $(seq 500); do [ -S {tmp}/sock ] && break; sleep 0.01; done
for n in $(seq {trials}); do
  start=$(date +%s%N)
  ip link add v$n numtxqueues 4 numrxqueues 4 type veth peer name p$n numtxqueues 4 numrxqueues 4
  until grep -q '[1-9a-f]' /sys/class/net/v$n/queues/rx-3/rps_cpus 2>/dev/null && \
        grep -q '[1-9a-f]' /sys/class/net/v$n/queues/tx-1/xps_cpus 2>/dev/null; do
    [ $(( $(date +%s%N) - start )) -lt 5000000000 ] || break
    sleep 0.002
  done
  echo "ms $(( ($(date +%s%N) - start) / 1000 ))"
  ip link del v$n
  sleep 0.2
done
kill -TERM $PID; wait $PID || true
"""
        out = subprocess.run(["unshare", "-n", "-m", "bash", "-c", script], capture_output=True, text=True,
                             cwd=REPO, env={**os.environ, "PYTHONPATH": REPO}, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return [int(line.split()[1]) / 1000 for line in out.stdout.splitlines() if line.startswith("ms ")]


def cycle_cpu(tree: str, runs: int) -> tuple[list[float], list[float]]:
    """CPU ms of Daemon.sample() on a copy of ``tree``: steady cycles, and cycles that rebalance.

    A steady cycle reads the sample and weighs the balance; a rebalancing one
    also chooses moves and re-plans (discovery, plan, writes).
    """
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        root = Path(tmp) / "tree"
        shutil.copytree(tree, root, symlinks=True)
        d = make_daemon(root, clock=Clock())
        d.config = d.config.model_copy(update={"daemon": d.config.daemon.model_copy(update={"samples": 1})})
        d.replan("start", keep=False)
        d.sample()
        busy = [p for p in d.plan.irqs if p.after and len(p.after) == 1][:64]
        steady, rebalancing = [], []
        for n in range(2 * runs):
            hot = n % 2 == 1
            add = {p.irq: {next(iter(p.after)): 1000} for p in busy}
            if hot:  # one CPU carries far more than the rest
                add[busy[0].irq] = {next(iter(busy[0].after)): 500000}
            bump(root, add)
            d.clock.t += 10
            d.last_moved.clear()
            before = d.moves_total
            t0 = time.process_time()
            d.sample()
            ms = (time.process_time() - t0) * 1000
            (rebalancing if d.moves_total > before else steady).append(ms)
        return steady, rebalancing


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_cpu(cmd: list[str], seconds: float, env=None, settle: float = 5.0) -> tuple[float, float, str]:
    """CPU seconds (user+sys) of a command over ``seconds``, and over the part after ``settle`` s of start-up."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(settle)
    try:
        after_start = _cpu_seconds(proc.pid)
    except OSError:
        after_start = float("nan")
    time.sleep(max(0.0, seconds - settle))
    try:
        before_stop = _cpu_seconds(proc.pid)
    except OSError:
        before_stop = float("nan")
    proc.terminate()
    try:
        _, _status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:
        return float("nan"), float("nan"), "lost the process"
    err = proc.stderr.read()[-500:] if proc.stderr else ""
    return usage.ru_utime + usage.ru_stime, before_stop - after_start, err


def irqbalance_in_tree(tree: str, seconds: float) -> tuple[float, float, str]:
    """irqbalance on ``tree`` in a mount namespace with the tree's proc and sys over /proc and /sys."""
    marker = f"irqd-bench-marker-{os.getpid()}"
    open(os.path.join(tree, "proc", marker), "w").close()
    script = f"""
set -e
mount --make-rprivate /
mount --bind {tree}/proc /proc
mount --bind {tree}/sys /sys
[ -e /proc/{marker} ] || {{ echo "bind mount did not take; refusing to run irqbalance" >&2; exit 97; }}
mkdir -p /run/irqbalance
exec irqbalance --foreground --interval=1
"""
    return child_cpu(["unshare", "-m", "bash", "-c", script], seconds)


def exposure(unit: str) -> float | None:
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", out.stdout + out.stderr)
    return float(m.group(1)) if m else None


def main() -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.bench_daemon", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=60.0, help="duration of the CPU-use comparison")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root: it makes network and mount namespaces")
        return 2

    ms = reaction(args.trials)
    print(f"reaction, veth created -> RPS and XPS written (netns, {len(ms)} trials): "
          f"median {statistics.median(ms):.0f} ms, worst {max(ms):.0f} ms (goal < 200 ms) "
          f"{verdict(statistics.median(ms) < 200)}; irqbalance: never (no RPS/XPS)")

    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        tree = os.path.join(tmp, "gen-256cpu")
        write_machine(tree, large_specs()[0])
        steady, rebal = cycle_cpu(tree, args.runs)
        print(f"sampling cycle, 256 CPUs / ~1,000 IRQs: without moves median {statistics.median(steady):.1f} ms CPU "
              f"({len(steady)} cycles); cycle that rebalances (moves + re-plan) median "
              f"{statistics.median(rebal) if rebal else float('nan'):.1f} ms ({len(rebal)} cycles)")

        a = os.path.join(tmp, "a")
        b = os.path.join(tmp, "b")
        shutil.copytree(tree, a, symlinks=True)
        shutil.copytree(tree, b, symlinks=True)
        irqd_cpu, irqd_steady, _ = child_cpu(
            [sys.executable, "-m", "irqd", "run", "--root", a, "--no-netlink", "--interval", "1"], args.seconds,
            env={**os.environ, "PYTHONPATH": REPO})
        if shutil.which("irqbalance"):
            irqb_cpu, irqb_steady, irqb_err = irqbalance_in_tree(b, args.seconds)
            version = subprocess.run(["irqbalance", "--version"], capture_output=True, text=True)
            ver = ((version.stdout + version.stderr).strip().splitlines() or ["?"])[0]
        else:
            irqb_cpu = irqb_steady = float("nan")
            irqb_err, ver = "irqbalance not installed (apt-get install irqbalance)", "-"
        ratio = irqd_cpu / irqb_cpu if irqb_cpu == irqb_cpu and irqb_cpu > 0 else float("nan")
        steady = irqd_steady / irqb_steady if irqb_steady == irqb_steady and irqb_steady > 0 else float("nan")
        print(f"CPU over {args.seconds:.0f} s on the 256-CPU tree, interval 1 s: irqd {irqd_cpu:.2f} s, "
              f"irqbalance ({ver}) {irqb_cpu:.2f} s, ratio irqd/irqbalance {ratio:.2f} (goal <= 1) "
              f"{verdict(ratio <= 1)}")
        print(f"  after the first 5 s (start-up and first apply excluded): irqd {irqd_steady:.2f} s, "
              f"irqbalance {irqb_steady:.2f} s, ratio {steady:.2f}")
        if irqb_err.strip():
            print(f"  irqbalance said: {irqb_err.strip()[-300:]}")

    ours = exposure(os.path.join(REPO, "systemd", "irqd.service"))
    theirs_path = "/lib/systemd/system/irqbalance.service"
    theirs = exposure(theirs_path) if os.path.exists(theirs_path) else None
    print(f"systemd-analyze security --offline=yes: irqd.service {ours}, irqbalance.service {theirs} "
          f"(lower is safer) {verdict(ours is not None and theirs is not None and ours < theirs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

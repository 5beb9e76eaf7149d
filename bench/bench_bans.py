"""How fast a running daemon follows each ban source: write the ban, time until nothing is left on the CPUs.

    python3 -m bench.bench_bans [--tree NAME] [--rounds N]

For each source (``default_smp_affinity`` as cri-o writes it, the irqbalance
env file replaced by rename as an editor does, an ``irqd ban`` drop-in) it
bans 4 CPUs on a copy of a fixture with ``irqd run --no-netlink`` running,
and measures the time from the write until every movable IRQ, RPS and XPS
map of the tree has left them (the tree is re-read every 10 ms), then lifts
the ban. Goals (issue 14): inotify sources within 100 ms, the polled
default_smp_affinity within 1 s. Prints each round and the median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.bans import BAN, cri_o_mask_without, left_on
from tests.support.paths import FIXTURES, REPO


def _wait(root: Path, limit: float = 20.0) -> float:
    start = time.monotonic()
    while left_on(root, BAN):
        if time.monotonic() - start > limit:
            return float("inf")
        time.sleep(0.01)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default="intel-2s-mlx5")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        root = Path(tmp) / args.tree
        shutil.copytree(FIXTURES / args.tree, root, symlinks=True)
        env = root / "etc/sysconfig/irqbalance"
        env.parent.mkdir(parents=True)
        env.write_text("IRQBALANCE_ARGS=\n")
        default = (root / "proc/irq/default_smp_affinity").read_text()
        proc = subprocess.Popen([sys.executable, "-m", "irqd", "run", "--root", str(root), "--no-netlink",
                                 "--interval", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        try:
            while not (root / "run/irqd/irqd.sock").exists():
                time.sleep(0.05)
            results: dict[str, list[float]] = {"default_smp_affinity (poll)": [], "irqbalance env (inotify)": [],
                                               "banned.d drop-in (inotify)": []}
            for _ in range(args.rounds):
                cri_o_mask_without(root, BAN)
                results["default_smp_affinity (poll)"].append(_wait(root))
                (root / "proc/irq/default_smp_affinity").write_text(default)
                time.sleep(1.0)
                tmpf = env.with_name(".irqbalance.new")
                tmpf.write_text("IRQBALANCE_BANNED_CPULIST=2-3,26-27\n")
                os.rename(tmpf, env)
                results["irqbalance env (inotify)"].append(_wait(root))
                tmpf.write_text("IRQBALANCE_BANNED_CPULIST=\n")
                os.rename(tmpf, env)
                time.sleep(1.0)
                dropin = root / "run/irqd/banned.d"
                dropin.mkdir(parents=True, exist_ok=True)
                (dropin / ".b.tmp").write_text("2-3,26-27\n")
                os.rename(dropin / ".b.tmp", dropin / "bench.cpulist")
                results["banned.d drop-in (inotify)"].append(_wait(root))
                os.remove(dropin / "bench.cpulist")
                time.sleep(1.0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"ban reaction on {args.tree}, {args.rounds} round(s), 4 CPUs banned; "
          f"load average {os.getloadavg()[0]:.1f}")
    for source, times in results.items():
        ms = [t * 1000 for t in times]
        print(f"  {source:<30} median {statistics.median(ms):7.0f} ms   rounds: "
              + " ".join(f"{t:.0f}" for t in ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

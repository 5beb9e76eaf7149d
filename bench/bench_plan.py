"""How fast and how well irqd plans: plan() time on the 1,024-CPU tree, and quality on every tree.

    python3 -m bench.bench_plan [--runs N] [--trees DIR] [-v]     # from the repository root

Speed goal: ``plan(snapshot, default_config())`` on the 1,024-CPU / ~4,000-IRQ
generated tree under 100 ms (discovery not counted).

Quality, on every tree in fixtures/sysfs/ and on generated machines
(measures in tests/support/quality.py):
  off-elig   IRQs, RPS or XPS maps planned onto CPUs outside plan.eligible (goal 0)
  numa       share of queue IRQs inside their NIC's node, where it has an eligible CPU (goal 100%)
  spread     worst NIC: distinct cores / min(queues, eligible cores it may use) (goal 1.00)
  stack      worst node shared by NICs: most queues on one CPU vs ideal ceil(queues / eligible CPUs)
  smt        queues of one NIC on sibling threads while a whole core it may use is free (goal 0)
  rps        worst NIC with RPS planned on: share of its rx queues with a map (goal 100%)
  xps        worst NIC: share of its eligible near CPUs in exactly one XPS map (goal 100%)
  balance    max / mean CPU load (counts / uptime) for irqd and for an LPT greedy under the
             same constraints; PASS when irqd is within 10% of the greedy
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time

from irqd.config import default_config
from irqd.discover import discover
from irqd.planner import plan
from tests.support import quality as Q
from tests.support.machine import write_machine
from tests.support.spec import MachineSpec, NicSpec, NvmeSpec
from tests.support.trees import large_specs, trees_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GOAL_PLAN_MS = 100.0
FIXTURES = os.path.join(REPO, "fixtures", "sysfs")


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def mixed_spec() -> MachineSpec:
    """A mid-size machine that exercises what the large ones do not: isolation, shared nodes, odd counts."""
    return MachineSpec(
        sockets=2, nodes_per_socket=1, cores_per_node=16, threads_per_core=2, l3_per_node=2, offline=(47,),
        cmdline="BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,8-15,40-46 nohz_full=8-15,40-46",
        nics=(NicSpec("ens1f0", "ice", node=0, queues=24), NicSpec("ens1f1", "ice", node=0, queues=24),
              NicSpec("ens2f0", "mlx5_core", node=1, queues=12), NicSpec("ens3", "gve", node=1, queues=6),
              NicSpec("ens4", "virtio_net", node=-1, queues=4), NicSpec("eno1", "igb", node=0, queues=4)),
        nvme=(NvmeSpec("nvme0", node=0), NvmeSpec("nvme1", node=1, io_queues=16)), seed=64)


def trees(base: str) -> list[tuple[str, str]]:
    out = [(name, os.path.join(FIXTURES, name)) for name in sorted(os.listdir(FIXTURES))
           if os.path.exists(os.path.join(FIXTURES, name, "proc", "interrupts"))]
    for label, spec in [("gen-64cpu-mixed", mixed_spec())] + [(f"gen-{s.cpus}cpu", s) for s in large_specs()]:
        root = os.path.join(base, label)
        if not os.path.exists(os.path.join(root, "proc", "interrupts")):
            t = time.perf_counter()
            write_machine(root, spec)
            print(f"generated {root} in {time.perf_counter() - t:.1f} s", flush=True)
        out.append((label, root))
    return out


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def report(label: str, q: Q.Quality, verbose: bool) -> list[str]:
    spread = min(q.spread.values()) if q.spread else None
    stack = max(q.stacking, key=lambda s: s.worst - s.ideal) if q.stacking else None
    rps = min(q.coverage.rps.values()) if q.coverage.rps else None
    xps = min(q.coverage.xps.values()) if q.coverage.xps else None
    smt = sum(q.smt.values())
    bal = q.balance
    row = (f"{label:<22} {len(q.off_eligible):>4} {pct(q.numa.share):>5} "
           f"{'-' if spread is None else f'{spread:.2f}':>6} "
           f"{'-' if stack is None else f'{stack.worst}/{stack.ideal}':>6} {smt:>4} {pct(rps):>5} {pct(xps):>5} "
           f"{'-' if bal.irqd is None else f'{bal.irqd:.2f}':>6} "
           f"{'-' if bal.greedy is None else f'{bal.greedy:.2f}':>6} "
           f"{verdict(bal.within_10pct):>5}")
    lines = [row]
    details = []
    details += [f"off-eligible: {m}" for m in q.off_eligible]
    details += [f"not NUMA-local: {m}" for m in q.numa.misses]
    details += [f"spread {name}: {v:.2f}" for name, v in sorted(q.spread.items()) if v < 1]
    details += [f"stacking node {s.node} ({', '.join(s.nics)}): {s.worst} queues on one CPU, ideal {s.ideal}"
                for s in q.stacking if s.worst > s.ideal]
    details += [f"SMT collisions {name}: {n}" for name, n in sorted(q.smt.items())]
    details += [f"RPS coverage {name}: {pct(v)}" for name, v in sorted(q.coverage.rps.items()) if v < 1]
    details += [f"XPS coverage {name}: {pct(v)}" for name, v in sorted(q.coverage.xps.items()) if v < 1]
    limit = None if verbose else 4
    for d in details[:limit]:
        lines.append(f"    {d}")
    if limit is not None and len(details) > limit:
        lines.append(f"    ... {len(details) - limit} more (-v)")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.bench_plan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="timed plan() runs (median; default 7)")
    ap.add_argument("--trees", metavar="DIR", help="generate (or reuse) the trees in DIR instead of a temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss, not the first few per tree")
    args = ap.parse_args(argv)

    with trees_dir(args.trees) as base:
        all_trees = trees(base)
        config = default_config()
        snaps = {label: discover(root) for label, root in all_trees}

    big_label = max(snaps, key=lambda k: (len(snaps[k].online), len(snaps[k].irqs)))
    big = snaps[big_label]
    plan(big, config)
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        plan(big, config)
        times.append((time.perf_counter() - t) * 1000)
    ms = statistics.median(times)
    print()
    print(f"plan() on {big_label} ({len(big.online)} CPUs, {len(big.irqs)} IRQs): {ms:.1f} ms, median of "
          f"{args.runs} (goal < {GOAL_PLAN_MS:.0f} ms) {verdict(ms < GOAL_PLAN_MS)}")
    if ms >= GOAL_PLAN_MS:
        prof = cProfile.Profile()
        prof.enable()
        plan(big, config)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print("hotspots: cProfile of plan(), by own time")
        for line in lines[start:start + 9]:
            print("  " + line.replace(REPO + "/", ""))

    print()
    print("planner quality (default config)")
    print(f"{'tree':<22} {'off':>4} {'numa':>5} {'spread':>6} {'stack':>6} {'smt':>4} {'rps':>5} {'xps':>5} "
          f"{'irqd':>6} {'greedy':>6} {'<=10%':>5}")
    print(f"{'goal':<22} {'0':>4} {'100%':>5} {'1.00':>6} {'ideal':>6} {'0':>4} {'100%':>5} {'100%':>5} "
          f"{'max/mean load':>13} {'':>5}")
    totals = dict(off=0, numa_miss=0, smt=0, balance_miss=0)
    for label, _ in all_trees:
        snap = snaps[label]
        q = Q.measure(snap, plan(snap, config))
        totals["off"] += len(q.off_eligible)
        totals["numa_miss"] += q.numa.total - q.numa.good
        totals["smt"] += sum(q.smt.values())
        totals["balance_miss"] += q.balance.within_10pct is False
        for line in report(label, q, args.verbose):
            print(line)
    print()
    print(f"off-eligible placements: {totals['off']} (goal 0) {verdict(totals['off'] == 0)}")
    print(f"queue IRQs off their NIC's node (where it has an eligible CPU): {totals['numa_miss']} (goal 0) "
          f"{verdict(totals['numa_miss'] == 0)}")
    print(f"SMT collisions: {totals['smt']} (goal 0) {verdict(totals['smt'] == 0)}")
    print(f"trees where irqd's load balance is not within 10% of the greedy: {totals['balance_miss']} (goal 0) "
          f"{verdict(totals['balance_miss'] == 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

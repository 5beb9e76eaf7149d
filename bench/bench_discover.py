"""How fast irqd reads a machine: discover() on two large generated trees, and a cold ``irqd show``.

    python3 -m bench.bench_discover [--runs N] [--trees DIR] [--profile]     # from the repository root

Goals: discover() on the 256-CPU tree under 150 ms; time growing linearly
with what discovery reads from 256 to 1,024 CPUs; a cold ``python3 -m irqd
show`` on this machine under 250 ms wall; ``irqd show`` importing neither
pydantic nor pyroute2. Every figure is printed with its goal and PASS/MISS.
When the 256-CPU goal is missed, the top cProfile hotspots are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import time

from irqd.discover import discover
from tests.support.machine import write_machine
from tests.support.trees import large_specs, trees_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GOAL_256_MS = 150.0
GOAL_SHOW_MS = 250.0
LINEAR_SLACK = 1.25   # time may grow at most this much faster than the input


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def median_ms(fn, runs: int) -> float:
    fn()  # warm the page cache and the imports
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def tree_size(root: str) -> tuple[int, int]:
    """Files and bytes under root (symlinks not followed)."""
    files = size = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                files += 1
                size += os.path.getsize(path)
    return files, size


def hotspots(root: str, top: int = 12) -> str:
    prof = cProfile.Profile()
    prof.enable()
    discover(root)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:start + top + 1]).replace(REPO + "/", "")


def cold_show_ms(runs: int) -> float:
    cmd = [sys.executable, "-m", "irqd", "show"]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def once():
        out = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            raise SystemExit(f"irqd show failed: {out.stderr.strip()}")
    return median_ms(once, runs)


IMPORT_CHECK = r"""
import contextlib, io, json, sys
from irqd import cli
with contextlib.redirect_stdout(io.StringIO()):
    rc = cli.main(["show"])
print(json.dumps({"rc": rc, "loaded": sorted(m for m in ("pydantic", "pyroute2") if m in sys.modules)}))
"""


def heavy_imports() -> tuple[int, list[str]]:
    out = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=REPO, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=REPO))
    if out.returncode != 0:
        raise SystemExit(f"import check failed: {out.stderr.strip()}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["rc"], result["loaded"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.bench_discover", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure (median; default 5)")
    ap.add_argument("--trees", metavar="DIR", help="generate (or reuse) the trees in DIR instead of a temp dir")
    ap.add_argument("--profile", action="store_true", help="print cProfile hotspots even when the goal is met")
    args = ap.parse_args(argv)

    with trees_dir(args.trees) as base:
        rows = []
        for spec in large_specs():
            root = os.path.join(base, f"gen-{spec.cpus}cpu")
            if not os.path.exists(os.path.join(root, "proc", "interrupts")):
                t = time.perf_counter()
                write_machine(root, spec)
                print(f"generated {root} in {time.perf_counter() - t:.1f} s", flush=True)
            snap = discover(root)
            runs = args.runs if spec.cpus <= 256 else max(3, args.runs // 2)
            ms = median_ms(lambda root=root: discover(root), runs)
            files, size = tree_size(root)
            rows.append(dict(root=root, cpus=len(snap.online), irqs=len(snap.irqs), nics=len(snap.nics),
                             ms=ms, files=files, bytes=size, problems=len(snap.problems)))

        print()
        print("discover() on generated trees (median)")
        print(f"  {'CPUs':>5} {'IRQs':>5} {'files':>7} {'MB':>6} {'ms':>8} {'us/CPU':>8} {'us/IRQ':>8} {'ns/byte':>8}")
        for r in rows:
            print(f"  {r['cpus']:>5} {r['irqs']:>5} {r['files']:>7} {r['bytes'] / 1e6:>6.1f} {r['ms']:>8.1f} "
                  f"{r['ms'] * 1000 / r['cpus']:>8.1f} {r['ms'] * 1000 / r['irqs']:>8.1f} "
                  f"{r['ms'] * 1e6 / r['bytes']:>8.2f}")
        small, big = rows[0], rows[-1]
        ok_256 = small["ms"] < GOAL_256_MS
        print(f"  256-CPU tree: {small['ms']:.1f} ms (goal < {GOAL_256_MS:.0f} ms) {verdict(ok_256)}")

        t_ratio = big["ms"] / small["ms"]
        cpu_ratio = big["cpus"] / small["cpus"]
        irq_ratio = big["irqs"] / small["irqs"]
        byte_ratio = big["bytes"] / small["bytes"]
        file_ratio = big["files"] / small["files"]
        print(f"  scaling 1024 vs 256: time x{t_ratio:.2f}; CPUs x{cpu_ratio:.2f}, IRQs x{irq_ratio:.2f}, "
              f"files x{file_ratio:.2f}, bytes read x{byte_ratio:.2f}")
        print(f"    per-CPU time ratio {t_ratio / cpu_ratio:.2f}, per-IRQ time ratio {t_ratio / irq_ratio:.2f} "
              f"(both exceed 1 by design: /proc/interrupts holds CPUs x IRQs counts)")
        per_byte = t_ratio / byte_ratio
        exponent = math.log(t_ratio) / math.log(byte_ratio)
        ok_linear = per_byte <= LINEAR_SLACK
        print(f"    per-byte time ratio {per_byte:.2f}, exponent {exponent:.2f} "
              f"(goal: linear in what is read, ratio <= {LINEAR_SLACK}) {verdict(ok_linear)}")
        if any(r["problems"] for r in rows):
            print("  note: discovery reported problems on a generated tree:", [r["problems"] for r in rows])

        if not ok_256 or args.profile:
            print()
            print(f"hotspots: cProfile of discover() on the {small['cpus']}-CPU tree, by own time")
            print("  " + hotspots(small["root"]).replace("\n", "\n  "))

    print()
    show_ms = cold_show_ms(args.runs)
    ok_show = show_ms < GOAL_SHOW_MS
    print(f"cold 'python3 -m irqd show' on this machine: {show_ms:.0f} ms wall, median of {args.runs} "
          f"(goal < {GOAL_SHOW_MS:.0f} ms) {verdict(ok_show)}")
    rc, loaded = heavy_imports()
    ok_imports = rc == 0 and not loaded
    print(f"imports after cli.main(['show']): pydantic/pyroute2 loaded = {loaded or 'none'} "
          f"(goal: none) {verdict(ok_imports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

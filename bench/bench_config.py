"""How long ``irqd config check`` takes on a hostile CPU list: 2,000 x "0-32767" (issue 11, item 9).

Prints the time of parse_config() on the list (best of N) and of the whole
``irqd config check`` command. Goal: well under a second (it took 7.8 s).

    python3 -m bench.bench_config [--repeat 3] [--ranges 2000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from irqd.config import parse_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ranges", type=int, default=2000)
    args = ap.parse_args()
    text = 'banned_cpus = "' + ",".join(["0-32767"] * args.ranges) + '"\n'
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        config = parse_config(text, "bench.toml")
        best = min(best, time.perf_counter() - t0)
    assert len(config.banned()) == 32768
    print(f"parse_config, {args.ranges} x \"0-32767\": best of {args.repeat}: {best * 1000:.0f} ms")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    try:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "irqd", "config", "check", "--config", f.name],
                             check=False, capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "PYTHONPATH": REPO})
        wall = time.perf_counter() - t0
    finally:
        os.unlink(f.name)
    print(f"irqd config check: exit {out.returncode}, {wall * 1000:.0f} ms wall (interpreter start included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

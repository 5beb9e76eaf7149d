"""Device churn for minutes: does ``irqd run`` stay up, and does the next device still get its maps?

Runs tests/support/netnschurn.py's script in a private network namespace (root,
unshare, ip, ethtool; the host's IRQs, state and socket are never touched)
and prints the rounds done, whether the daemon was alive at the end, how
long the RPS/XPS maps of a veth made afterwards took, its errors and how
many log lines a vanished device cost.

    sudo python3 -m bench.churn [--seconds 90] [--loops 3] [--runs 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from tests.support.netnschurn import lines_per_vanished_device, run_churn


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--loops", type=int, default=3, help="churn loops running at once")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("churn: needs root (unshare -n -m)", file=sys.stderr)
        return 2
    failed = 0
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="irqd-churn-") as work:
            r = run_churn(args.seconds, Path(work), loops=args.loops)
        per = lines_per_vanished_device(r["log"])
        st = r["status"] or {}
        ok = r["alive"] and r["reaction_ms"] is not None and r["exit"] == 0
        failed += not ok
        print(f"run {run}: {r['rounds']} rounds in {args.seconds:g} s ({args.loops} loops); "
              f"daemon {'alive' if r['alive'] else 'DEAD'}; final veth maps "
              f"{str(r['reaction_ms']) + ' ms' if r['reaction_ms'] is not None else 'NEVER'}; exit {r['exit']}; "
              f"errors_total {st.get('errors_total', '?')}; replans {st.get('replans', '?')}; "
              f"vanished devices logged {len(per)}, at most {max(per.values(), default=0)} line(s) each; "
              f"{len(r['log'].splitlines())} log lines")
        if not r["alive"]:
            print("  last log lines:\n    " + "\n    ".join(r["log"].splitlines()[-8:]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

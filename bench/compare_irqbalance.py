#!/usr/bin/env python3
"""irqbalance and irqd side by side, judged by ``irqd audit``; run by hand, as root, not by CI.

For every tree in fixtures/sysfs/ (and, when tests/support/ is there,
the generated 256-CPU/8-node and 1,024-CPU/16-node machines):

1. copy the tree and run Debian's ``irqbalance --oneshot --foreground`` once
   inside a private mount namespace (``unshare --mount``) with the copy's
   ``sys`` and ``proc`` bind-mounted over /sys and /proc and a tmpfs over
   /run. Before irqbalance starts, a marker file made in the copy's proc/
   and sys/ must be visible at /proc/MARKER and /sys/MARKER; if not, the
   namespace exits with status 97 and irqbalance never runs, so the host's
   IRQs are never touched. Host /proc/irq/*/smp_affinity is also compared
   before and after the whole run;
2. copy the tree again and run ``irqd apply --root COPY --yes``;
3. run ``irqd audit --format json`` on the untouched tree and on both
   results, and take each tool's CPU time (user+sys) from os.wait4.

It prints one Markdown table (tree x {as captured, irqbalance, irqd} x
audit categories, with CPU time); README.md "Comparison with irqbalance"
holds the latest one.

    apt-get install -y irqbalance          # Debian/Ubuntu; dnf install irqbalance on Fedora/RHEL
    sudo python3 -m bench.compare_irqbalance [--only NAME] [--no-large] [--json OUT] [--keep DIR]   # from the repo root
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

from bench.compare_lib import (
    STATES,
    Comparison,
    ParseError,
    Row,
    changed_affinities,
    comparison_json,
    irqbalance_complaints,
    parse_audit,
    parse_irqbalance_version,
    render_report,
)

REPO = Path(__file__).resolve().parent.parent

FIXTURES = REPO / "fixtures" / "sysfs"
BIND_FAILED = 97
INSTALL_HINT = ("irqbalance is not installed: apt-get install -y irqbalance (Debian/Ubuntu), "
                "dnf install irqbalance (Fedora/RHEL)")

# runs inside the new mount namespace: bind, prove the bind took, only then irqbalance ("$@" after the marker)
_NAMESPACE_SCRIPT = r"""
set -e
root="$1"; marker="$2"; shift 2
mount --bind "$root/sys" /sys
mount --bind "$root/proc" /proc
mount -t tmpfs irqd-bench /run
if [ ! -e "/proc/$marker" ] || [ ! -e "/sys/$marker" ]; then
    echo "irqd-bench: the bind mounts did not take; irqbalance NOT run" >&2
    exit 97
fi
exec irqbalance "$@"
"""
ONESHOT_ARGS = ("--oneshot", "--foreground")


def make_markers(copy: Path) -> str:
    """Write a fresh marker file into the copy's proc/ and sys/; its name, which the script checks for."""
    marker = f".irqd-bench-{uuid.uuid4().hex}"
    (copy / "proc" / marker).write_text("irqd bench bind-mount marker\n")
    (copy / "sys" / marker).write_text("irqd bench bind-mount marker\n")
    return marker


def remove_markers(copy: Path, marker: str) -> None:
    for sub in ("proc", "sys"):
        (copy / sub / marker).unlink(missing_ok=True)


def namespace_command(copy: Path, marker: str, irqbalance_args: tuple[str, ...] = ONESHOT_ARGS) -> list[str]:
    """The command that runs ``irqbalance ARGS`` with ``copy``'s sys and proc bound over /sys and /proc.

    It exits with BIND_FAILED, before irqbalance runs, unless ``marker`` (from make_markers) is
    visible at /proc/MARKER and /sys/MARKER inside the namespace.
    """
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _NAMESPACE_SCRIPT, "sh",
            str(copy), marker, *irqbalance_args]


def run_timed(cmd: list[str], log: Path, timeout: float, env=None) -> tuple[int, float, str]:
    """Run ``cmd``; (exit code, CPU seconds user+sys of it and its waited children, output)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, log.read_text(errors="replace")


def affinities(root: Path) -> dict[int, str]:
    out = {}
    for path in glob.glob(str(root / "proc" / "irq" / "*" / "smp_affinity")):
        try:
            out[int(Path(path).parent.name)] = Path(path).read_text()
        except (OSError, ValueError):
            continue
    return out


def audit(root: Path) -> tuple[object | None, str]:
    proc = subprocess.run([sys.executable, "-m", "irqd", "audit", "--root", str(root), "--format", "json"],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode not in (0, 1):
        return None, f"audit failed (exit {proc.returncode}): {proc.stderr.strip()[:120]}"
    try:
        return parse_audit(proc.stdout), ""
    except ParseError as e:
        return None, str(e)


def run_irqbalance(copy: Path, work: Path, name: str) -> Row:
    marker = make_markers(copy)
    before = affinities(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRQBALANCE_")}
    try:
        rc, cpu, output = run_timed(namespace_command(copy, marker), work / f"{name}.irqbalance.log",
                                    timeout=300, env=env)
    finally:
        remove_markers(copy, marker)
    if rc == BIND_FAILED:
        raise SystemExit(f"{name}: the bind mounts over /proc and /sys did not take; stopped before irqbalance "
                         "ran (see the log); nothing on the host was touched")
    moved = changed_affinities(before, affinities(copy))
    note = f"rc {rc}, wrote {len(moved)} of {len(before)} affinities"
    complaints = irqbalance_complaints(output)
    if rc != 0:
        note += "; FAILED" + (": " + complaints[0] if complaints else "")
    elif complaints:
        note += "; said: " + complaints[0]
    summary, why = audit(copy)
    return Row(name, "irqbalance", summary, cpu, note + (f"; {why}" if why else ""))


def run_irqd(copy: Path, work: Path, name: str) -> Row:
    rc, cpu, output = run_timed([sys.executable, "-m", "irqd", "apply", "--root", str(copy), "--yes"],
                                work / f"{name}.irqd.log", timeout=600)
    last = output.strip().splitlines()[-1] if output.strip() else ""
    summary, why = audit(copy)
    if last.startswith("apply:"):
        note = f"rc {rc}, {last.split(': ', 1)[1].split(' (')[0]}"     # "apply: 19 written (0 on a fallback CPU), ..."
    else:
        note = f"rc {rc}; {last[:100]}"
    return Row(name, "irqd", summary, cpu, note + (f"; {why}" if why else ""))


def trees(only: list[str] | None, large: bool, work: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    out = [(p.name, p) for p in sorted(FIXTURES.iterdir()) if (p / "proc" / "interrupts").exists()]
    notes = []
    if large:
        try:
            from tests.support.machine import write_machine
            from tests.support.trees import large_specs
        except ImportError as e:
            notes.append(f"generated large machines left out: tests.support not importable ({e})")
        else:
            for spec in large_specs():
                name = f"gen-{spec.cpus}cpu-{spec.nodes}node"
                if only and name not in only:
                    continue
                dest = work / "generated" / name
                write_machine(str(dest), spec)
                out.append((name, dest))
    if only:
        out = [(n, p) for n, p in out if n in only]
    return out, notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.compare_irqbalance", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", metavar="NAME", help="only this tree (repeatable)")
    ap.add_argument("--no-large", action="store_true", help="leave out the generated 256/1024-CPU machines")
    ap.add_argument("--json", metavar="OUT", help="also write the raw results as JSON")
    ap.add_argument("--keep", metavar="DIR", help="keep the work trees and logs in DIR")
    args = ap.parse_args(argv)

    have_irqbalance = shutil.which("irqbalance") is not None
    version = None
    if have_irqbalance:
        version = parse_irqbalance_version(subprocess.run(["irqbalance", "--version"], capture_output=True,
                                                          text=True).stdout)
    can_unshare = os.geteuid() == 0 and shutil.which("unshare") is not None
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="irqd-compare-", dir=shm))
    work.mkdir(parents=True, exist_ok=True)
    host_before = affinities(Path("/"))
    comp = Comparison(date=datetime.date.today().isoformat(), irqbalance_version=version,
                      host=f"{platform.node() or 'host'} ({platform.release()}, {os.cpu_count()} CPUs)")
    try:
        todo, notes = trees(args.only, not args.no_large, work)
        comp.notes.extend(notes)
        for name, src in todo:
            print(f"{name} ...", file=sys.stderr, flush=True)
            captured, why = audit(src)
            comp.rows.append(Row(name, STATES[0], captured, None, why))
            if not have_irqbalance:
                comp.rows.append(Row(name, "irqbalance", None, None, INSTALL_HINT))
            elif not can_unshare:
                comp.rows.append(Row(name, "irqbalance", None, None, "needs root and unshare(1) for a private mount "
                                                                      "namespace; not run"))
            else:
                ib = work / "irqbalance" / name
                shutil.copytree(src, ib, symlinks=True)
                comp.rows.append(run_irqbalance(ib, work, name))
            mine = work / "irqd" / name
            shutil.copytree(src, mine, symlinks=True)
            comp.rows.append(run_irqd(mine, work, name))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    host_after = affinities(Path("/"))
    touched = changed_affinities(host_before, host_after)
    comp.notes.append(f"host /proc/irq/*/smp_affinity before and after the run: "
                      f"{'unchanged' if not touched else 'CHANGED for IRQ ' + ', '.join(map(str, touched[:10]))} "
                      f"({len(host_before)} IRQs)")
    sys.stdout.write(render_report(comp))
    if args.json:
        Path(args.json).write_text(json.dumps(comparison_json(comp), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

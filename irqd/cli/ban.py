"""``irqd ban --owner NAME CPUS`` and ``irqd unban --owner NAME``: the interface for runtime hooks.

A container runtime hook or an operator bans a pod's CPUs from interrupts
and lifts the ban when the pod stops. The ban is a drop-in,
``ROOT/run/irqd/banned.d/NAME.cpulist``, written atomically; the running
daemon notices it through inotify and moves every movable IRQ, RPS and XPS
map off those CPUs. The command then asks the daemon over its status socket
until the daemon's applied plan excludes exactly those CPUs for that owner
and nothing placed lies on them, and only then returns 0. It exits 3 when no
daemon answers or the daemon did not apply it in time, saying which.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from .. import exits
from ..cpuset import CpuFormatError, CpuSet, format_list, parse_list

if TYPE_CHECKING:  # the readers and writers load when ban runs, not for every command's parser
    from ..discover import Root

POLL = 0.05


def add_parsers(sub: Any) -> None:
    common = ("Writes ROOT/run/irqd/banned.d/OWNER.cpulist (one file per owner; the banned CPUs are the union of "
              "all owners and of the kernel's and irqbalance's own ban lists), then waits until the running "
              "'irqd run' has moved every movable IRQ, RPS and XPS map off the CPUs.")
    for name, text in (("ban", "ban CPUs from interrupts for an owner (a pod, a hook) and wait until they are free"),
                       ("unban", "lift an owner's ban and wait until the daemon has taken the CPUs back")):
        p = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. {common}",
                           epilog="exit status: 0 applied by the daemon, 2 bad owner, CPU list or root, "
                                  "3 no daemon answered or it did not apply the change in time, 4 permission denied")
        p.add_argument("--owner", required=True, metavar="NAME",
                       help="who holds the ban, e.g. a pod UID: [A-Za-z0-9_.-], no leading dot")
        if name == "ban":
            p.add_argument("cpus", metavar="CPUS", help='CPU list such as "4-7,12"')
        p.add_argument("--root", default="/", metavar="DIR", help="the machine's root (a container: /host)")
        p.add_argument("--socket", default=None, metavar="PATH", help="status socket of the daemon")
        p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="how long to wait for the daemon (default 10)")


def run(args: argparse.Namespace) -> int:
    from ..apply.bans import BanError, remove_dropin, write_dropin
    from ..discover import Root, RootError
    from ..discover.bans import DROPIN_DIR, DROPIN_SUFFIX, valid_owner

    if not valid_owner(args.owner):
        return _fail(exits.USAGE, f"--owner {args.owner!r}: use letters, digits, '_', '.', '-', no leading dot")
    if not (0 < args.timeout <= 3600):
        return _fail(exits.USAGE, f"--timeout {args.timeout}: between 0 and 3600 seconds")
    try:
        root = Root(args.root)
    except RootError as e:
        return _fail(exits.USAGE, str(e))
    banning = args.command == "ban"
    cpus: CpuSet = frozenset()
    if banning:
        try:
            cpus = parse_list(args.cpus)
        except CpuFormatError as e:
            return _fail(exits.USAGE, f"CPUS: {e}")
        possible = _possible(root)
        if possible is not None and not cpus <= possible:
            return _fail(exits.USAGE, f"CPU(s) {format_list(cpus - possible)} do not exist on this machine "
                                      f"(possible: {format_list(possible)})")
        if not cpus:
            return _fail(exits.USAGE, "CPUS: an empty list bans nothing; use 'irqd unban' to lift a ban")
    started = time.time()
    try:
        if banning:
            path = write_dropin(root.path, args.owner, cpus)
        else:
            removed = remove_dropin(root.path, args.owner)
            path = root.host(f"{DROPIN_DIR}/{args.owner}{DROPIN_SUFFIX}")
            if not removed:
                print(f"irqd unban: {args.owner} held no ban ({path})")
    except BanError as e:
        return _fail(exits.PERMISSION if "ermission" in str(e) else exits.USAGE, str(e))
    return _wait(args, root, f"banned.d:{args.owner}", cpus, started, path)


def _wait(args: argparse.Namespace, root: Root, source: str, cpus: CpuSet, started: float, path: str) -> int:
    """Ask the daemon until its applied plan shows the change; say what moved."""
    from .status import query

    socket_path = args.socket or root.socket_path
    deadline = time.monotonic() + args.timeout
    last: str = "no answer yet"
    while True:
        try:
            st = query(socket_path, timeout=min(2.0, args.timeout))
        except FileNotFoundError:
            return _fail(exits.REFUSED, f"no daemon socket at {socket_path}; the ban is recorded in {path} and "
                                        "'irqd apply' or 'irqd run' honours it")
        except (OSError, ValueError) as e:
            last = f"{socket_path}: {e}"
            st = None
        if st is not None:
            done, last = _applied(st, source, cpus, started)
            if done:
                verb = "banned" if cpus else "unbanned"
                print(f"irqd: {verb} {format_list(cpus) or 'nothing'} for {source.split(':', 1)[1]}: {last}")
                return exits.OK
        if time.monotonic() >= deadline:
            return _fail(exits.REFUSED, f"the daemon did not apply {path} within {args.timeout:g} s ({last})")
        time.sleep(POLL)


def _applied(st: dict[str, Any], source: str, cpus: CpuSet, started: float) -> tuple[bool, str]:
    """Is the daemon's last applied plan newer than our write, with ``cpus`` excluded by ``source`` and clear?"""
    plan = st.get("plan")
    age = st.get("plan_age")
    if not plan or age is None:
        return False, "the daemon has no plan yet"
    if time.time() - float(age) < started - 0.05:   # plan_age has a 0.1 s resolution
        return False, "the daemon has not re-planned since the write"
    excluded = frozenset(plan.get("excluded_cpus", {}).get(source, ()))
    expected = cpus & _planned_cpus(plan)   # the plan speaks of online CPUs only
    if excluded != expected:
        return False, (f"its plan excludes {format_list(excluded) or 'nothing'} for {source}, "
                       f"not {format_list(expected) or 'nothing'}")
    on = [i["irq"] for i in plan["irqs"] if i["after"] and set(i["after"]) & cpus]
    maps = [f"{q['dev']} {q['queue']}" for q in plan["queues"]
            if isinstance(q["after"], list) and set(q["after"]) & cpus]
    if on or maps:
        return False, f"{len(on)} IRQ(s) and {len(maps)} map(s) still planned on them"
    moved = sum(1 for i in plan["irqs"] if i["change"])
    return True, f"plan applied {age} s ago, nothing planned on them ({moved} IRQ change(s) in its last diff)"


def _planned_cpus(plan: dict[str, Any]) -> CpuSet:
    """Every CPU the plan knows of (eligible or excluded): a ban of an offline CPU is not waited for."""
    known: set[int] = set(plan.get("eligible_cpus", ()))
    for cpus in plan.get("excluded_cpus", {}).values():
        known.update(cpus)
    return frozenset(known)


def _possible(root: Root) -> CpuSet | None:
    text = root.read("sys/devices/system/cpu/possible")
    try:
        return parse_list(text) if text is not None else None
    except CpuFormatError:
        return None


def _fail(code: int, message: str) -> int:
    print(f"irqd: {message}", file=sys.stderr)
    return code

"""``irqd top``: interrupt and network softirq load per CPU and per NIC queue, live.

Drawn with curses from the standard library. irqd runs on servers, often
over ssh or a serial console, from a package whose only dependencies are
pydantic, psutil and pyroute2; curses is in every CPython built on Linux
(``_curses`` links ncurses, which every distribution ships in its base
system), and a view of two tables needs no widget toolkit. A TUI library
(textual, urwid) would add a dependency, and its own dependencies, to the
daemon's package for one read-only screen.

What it reads, once a second (``--interval``), through the same Root as
every other command (so ``--root DIR`` reads a captured tree):

- **interrupts/s per CPU**: the per-CPU columns of ``/proc/interrupts``,
  summed over the numbered rows. ``/proc/stat`` cannot give this: its
  ``cpuN`` lines hold *time* in hard IRQ and softirq, and its ``intr`` line
  holds counts per IRQ summed over all CPUs. Rows that are not IRQs (LOC,
  RES, CAL, TLB, NMI ...) are left out: they are per-CPU by nature and
  nothing irqd places.
- **NET_RX/s and NET_TX/s per CPU** from ``/proc/softirqs``.
- **drops/s per CPU** from the second column of ``/proc/net/softnet_stat``
  (packets dropped because that CPU's backlog was full: RPS or non-NAPI
  receive outrunning the CPU).
- **per NIC queue**: its IRQ's interrupts/s (the row's delta) and the
  CPUs that took them in the interval; with no interval, the CPUs its
  effective affinity names.

Rows are sorted busiest first; CPUs that are isolated (``isolcpus=``,
``nohz_full=``, ``irqaffinity=``, sysfs ``isolated``) are flagged ``I``.
One sample gives no rates, so ``--root DIR`` shows one frame of totals
since boot. ``--once`` prints one frame as plain text and exits (on the
live machine it samples twice, ``--interval`` apart, to print rates).
``q`` quits.

Cost: at 1,024 CPUs and 4,000 IRQs ``/proc/interrupts`` is 45 MB of text;
reading and parsing it takes 1.6 to 3 s on a busy 2-CPU test VM, so frames
come that often there, whatever ``--interval`` says. Working out the rates
from two samples takes under a second (tuple comparison and ``map``, in C).

Wiring: ``add_parser(sub)`` adds the subcommand, ``run(args)`` runs it.
"""

from __future__ import annotations

import argparse
import itertools
import operator
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the readers load when top runs, not when the parser of every command is built
    from ..discover.root import Root
    from ..discover.softnet import Softnet

EXIT_OK, EXIT_BAD_INPUT = 0, 2


class TopError(Exception):
    """A file top needs cannot be read; the message names it."""


@dataclass(frozen=True)
class Sample:
    when: float
    cpus: tuple[int, ...]                    # the columns of /proc/interrupts: online CPUs
    irqs: dict[int, tuple[int, ...]]         # irq -> count per column since boot
    softirqs: dict[str, dict[int, int]] | None
    softnet: dict[int, Softnet] | None
    problems: tuple[str, ...]                # optional files that could not be read


def read_sample(root: Root, online) -> Sample:
    """One reading of the counters; /proc/interrupts is required, the others only cost their columns."""
    from ..discover.interrupts import InterruptsFormatError, parse_interrupts
    from ..discover.procstat import StatFormatError, parse_softirqs
    from ..discover.softnet import SoftnetFormatError, parse_softnet
    problems: list[str] = []
    text = root.read("proc/interrupts")
    if text is None:
        raise TopError(f"{root.show('proc/interrupts')}: cannot read it")
    try:
        parsed = parse_interrupts(text)
    except InterruptsFormatError as e:
        raise TopError(f"{root.show('proc/interrupts')}: {e}") from None
    # counts as plain tuples in column order: at 1,024 CPUs x 4,000 IRQs a frame compares 4 million
    # numbers, and tuple equality and map() do that in C
    irqs = {row.irq: row.counts.values() for row in parsed.irqs}
    softirqs = None
    text = root.read("proc/softirqs")
    if text is None:
        problems.append(f"{root.show('proc/softirqs')}: missing (no NET_RX/NET_TX columns)")
    else:
        try:
            softirqs = parse_softirqs(text)
        except StatFormatError as e:
            problems.append(f"{root.show('proc/softirqs')}: {e}")
    softnet = None
    text = root.read("proc/net/softnet_stat")
    if text is None:
        problems.append(f"{root.show('proc/net/softnet_stat')}: missing (no drops column)")
    else:
        try:
            softnet = parse_softnet(text, online)
        except SoftnetFormatError as e:
            problems.append(f"{root.show('proc/net/softnet_stat')}: {e}")
    return Sample(time.monotonic(), tuple(parsed.cpus), irqs, softirqs, softnet, tuple(problems))


# -- one frame -------------------------------------------------------------------

@dataclass(frozen=True)
class CpuRow:
    cpu: int
    node: int | None
    isolated: bool
    irqs: int | None     # per second, or total since boot when the frame has no rates; None: no column
    net_rx: int | None
    net_tx: int | None
    drops: int | None
    queues: str          # which NIC queues' IRQs run here


@dataclass(frozen=True)
class QueueRow:
    nic: str
    queue: str           # "3", or "3 rx" where a direction has its own IRQ
    irq: int
    irqs: int            # per second, or total
    cpus: str            # CPUs that took its interrupts (or its effective affinity)


@dataclass(frozen=True)
class Frame:
    rates: bool
    interval: float | None
    cpus: tuple[CpuRow, ...]
    queues: tuple[QueueRow, ...]
    notes: tuple[str, ...]


def _delta(cur: int, prev: int | None, dt: float | None) -> int:
    if prev is None or dt is None:
        return cur
    # a counter that went backwards (CPU hot-unplugged and back) starts again
    return round(max(0, cur - prev) / dt)


def _per_cpu(cur: dict[int, int] | None, prev: dict[int, int] | None, cpu: int, dt: float | None) -> int | None:
    if cur is None or cpu not in cur:
        return None
    return _delta(cur[cpu], None if prev is None else prev.get(cpu), dt)


def irq_deltas(cur: Sample, prev: Sample | None) -> dict[int, tuple[int, ...]]:
    """Per IRQ, interrupts per column since ``prev`` (since boot without it); IRQs that did not fire are left out."""
    if prev is None or prev.cpus != cur.cpus:
        return {irq: row for irq, row in cur.irqs.items() if any(row)}
    out = {}
    for irq, row in cur.irqs.items():
        old = prev.irqs.get(irq)
        if old == row:
            continue
        if old is None:
            out[irq] = row   # requested during the interval: all its interrupts are new
            continue
        d = tuple(map(operator.sub, row, old))
        if min(d) < 0:
            # freed and requested again with the same number: its counters restarted
            d = tuple(max(0, x) for x in d)
        if any(d):
            out[irq] = d
    return out


def build_frame(snap, cur: Sample, prev: Sample | None = None) -> Frame:
    """Rates when ``prev`` is given, totals since boot otherwise; rows busiest first."""
    from ..cpuset import format_list
    dt = cur.when - prev.when if prev is not None else None
    if dt is not None and dt <= 0:
        dt = None
    rates = dt is not None

    def rate(n: int) -> int:
        return round(n / dt) if dt is not None else n

    deltas = irq_deltas(cur, prev if rates else None)
    column = {cpu: k for k, cpu in enumerate(cur.cpus)}
    sums = [sum(col) for col in zip(*deltas.values())] if deltas else [0] * len(cur.cpus)

    # per queue IRQ: rate and the CPUs it fired on (with rates) or is set to run on (without)
    queue_rows = []
    fired: dict[int, set[int]] = {}
    for nic in snap.nics:
        for irq, ref in nic.queue_irqs:
            if irq not in cur.irqs:
                continue
            d = deltas.get(irq, ())
            where = set(itertools.compress(cur.cpus, d)) if rates else set()
            if not where:
                i = snap.irqs.get(irq)
                where = set((i.effective or i.affinity or ()) if i is not None else ())
            fired[irq] = where
            label = str(ref.queue) + ("" if not ref.extra else "," + ",".join(map(str, ref.extra)))
            if ref.direction != "rxtx":
                label += f" {ref.direction}"
            queue_rows.append(QueueRow(nic.name, label, irq, rate(sum(d)), format_list(where) or "-"))
    queue_rows.sort(key=lambda r: (-r.irqs, r.nic, r.irq))

    on_cpu: dict[int, list[tuple[str, str]]] = {}
    for r in sorted(queue_rows, key=lambda r: (r.nic, r.irq)):
        for cpu in fired.get(r.irq, ()):
            on_cpu.setdefault(cpu, []).append((r.nic, r.queue.replace(" ", "")))

    cpu_rows = []
    soft, psoft = cur.softirqs or {}, (prev.softirqs or {}) if rates and prev is not None else None
    snet = {cpu: s.dropped for cpu, s in cur.softnet.items()} if cur.softnet is not None else None
    psnet = ({cpu: s.dropped for cpu, s in prev.softnet.items()} if rates and prev is not None
             and prev.softnet is not None else None)
    for cpu in sorted(snap.online):
        k = column.get(cpu)
        cpu_rows.append(CpuRow(
            cpu, snap.cpu_node.get(cpu), cpu in snap.isolation.cpus, None if k is None else rate(sums[k]),
            _per_cpu(soft.get("NET_RX"), None if psoft is None else psoft.get("NET_RX"), cpu, dt),
            _per_cpu(soft.get("NET_TX"), None if psoft is None else psoft.get("NET_TX"), cpu, dt),
            _per_cpu(snet, psnet, cpu, dt), _queue_text(on_cpu.get(cpu, []))))
    cpu_rows.sort(key=lambda r: (-(r.irqs or 0), -(r.net_rx or 0), r.cpu))
    return Frame(rates, dt, tuple(cpu_rows), tuple(queue_rows), cur.problems)


def _queue_text(items: list[tuple[str, str]]) -> str:
    by_nic: dict[str, list[str]] = {}
    for nic, q in items:
        by_nic.setdefault(nic, []).append(q)
    # a CPU carrying many queues of one NIC (stacked) gets a count, not a list that fills the line
    return " ".join(f"{nic}:{','.join(qs)}" if len(qs) <= 6 else f"{nic}:{len(qs)} queues"
                    for nic, qs in sorted(by_nic.items()))


def _n(value: int | None) -> str:
    if value is None:
        return "?"
    if value >= 10_000_000:
        return f"{value / 1_000_000:.0f}M"
    if value >= 100_000:
        return f"{value / 1000:.0f}k"
    return str(value)


def render_lines(frame: Frame, title: str, height: int | None = None, width: int | None = None) -> list[str]:
    """The frame as text lines; with ``height``, the two tables share the screen, busiest rows kept."""
    unit = "/s" if frame.rates else " total"
    isolated = sum(1 for r in frame.cpus if r.isolated)
    when = f"rates over {frame.interval:.1f} s" if frame.rates and frame.interval else \
        "totals since boot (one sample: no rates)"
    head = [f"{title}  {when}  {len(frame.cpus)} CPUs, {isolated} isolated (I), "
            f"{len(frame.queues)} queue IRQs  q: quit"]
    cpu_head = f"{'CPU':>5} {'node':>4}   {'irq' + unit:>10} {'NET_RX' + unit:>12} {'NET_TX' + unit:>12} " \
               f"{'drops' + unit:>11}  queues"
    queue_head = f"{'NIC':<16} {'queue':>8} {'irq':>6} {'irq' + unit:>10}  CPU"
    cpu_lines = [f"{r.cpu:>5} {r.node if r.node is not None else '-':>4} {'I' if r.isolated else ' '} "
                 f"{_n(r.irqs):>10} {_n(r.net_rx):>12} {_n(r.net_tx):>12} {_n(r.drops):>11}  {r.queues}"
                 for r in frame.cpus]
    queue_lines = [f"{r.nic:<16} {r.queue:>8} {r.irq:>6} {_n(r.irqs):>10}  {r.cpus}" for r in frame.queues]
    notes = [f"note: {n}" for n in frame.notes]
    if height is not None:
        room = max(0, height - len(head) - 4 - len(notes))
        nq = min(len(queue_lines), room // 3) if queue_lines else 0
        nc = min(len(cpu_lines), room - nq)
        nq = min(len(queue_lines), room - nc)
        cpu_lines, queue_lines = cpu_lines[:nc], queue_lines[:nq]
    lines = head + ["", cpu_head] + cpu_lines + ["", queue_head] + queue_lines + notes
    if width is not None:
        lines = [line[:width] for line in lines]
    if height is not None:
        lines = lines[:height]
    return lines


# -- the command -------------------------------------------------------------------

def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("top", help="live interrupt and network softirq load per CPU and per NIC queue",
                       description="Per CPU, once a second: interrupts/s (device IRQs from /proc/interrupts), "
                                   "NET_RX and NET_TX softirqs/s (/proc/softirqs) and backlog drops/s "
                                   "(/proc/net/softnet_stat); per NIC queue: its IRQ's rate and the CPUs that "
                                   "took it. Busiest first; isolated CPUs marked I; q quits. With --root, one "
                                   "frame of totals since boot. Reads only.")
    p.add_argument("--root", default="/", metavar="DIR",
                   help="read the machine from DIR instead of / (one frame, totals since boot: no rates)")
    p.add_argument("--once", action="store_true",
                   help="print one frame as plain text and exit (live: two samples --interval apart, for rates)")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="time between samples (default 1)")
    return p


def run(args) -> int:
    from ..discover import DiscoveryError, discover
    from ..discover.root import Root, RootError
    if args.interval <= 0:
        print("irqd top: --interval must be above 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        root = Root(args.root)
        snap = discover(args.root)
    except (RootError, DiscoveryError) as e:
        print(f"irqd top: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    title = "irqd top" + ("" if root.is_live else f" --root {root.path}")
    try:
        first = read_sample(root, snap.online)
        if args.once:
            prev = None
            cur = first
            if root.is_live:
                time.sleep(args.interval)
                prev, cur = first, read_sample(root, snap.online)
            sys.stdout.write("\n".join(render_lines(build_frame(snap, cur, prev), title)) + "\n")
            return EXIT_OK
        if not sys.stdout.isatty() or not sys.stdin.isatty():
            print("irqd top: not a terminal; use --once for a plain-text frame", file=sys.stderr)
            return EXIT_BAD_INPUT
        import curses
        curses.wrapper(_loop, root, snap, first, title, args.interval)
    except TopError as e:
        print(f"irqd top: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _loop(screen, root: Root, snap, first: Sample, title: str, interval: float) -> None:
    import curses
    try:
        curses.curs_set(0)
    except curses.error:
        pass   # a terminal without cursor control still works
    prev, cur = None, first
    frame = build_frame(snap, cur)
    next_sample = time.monotonic() + interval
    while True:
        height, width = screen.getmaxyx()
        screen.erase()
        for y, line in enumerate(render_lines(frame, title, height, width - 1)):
            attr = curses.A_BOLD if y == 0 else curses.A_NORMAL
            try:
                screen.addstr(y, 0, line, attr)
            except curses.error:
                pass   # the last cell of the screen; curses reports writing there as an error
        screen.refresh()
        # a tree does not change: one frame, redrawn only on resize
        wait = max(0.0, next_sample - time.monotonic()) if root.is_live else 3600.0
        screen.timeout(int(wait * 1000))
        key = screen.getch()
        if key in (ord("q"), ord("Q")):
            return
        if root.is_live and time.monotonic() >= next_sample:
            prev, cur = cur, read_sample(root, snap.online)
            frame = build_frame(snap, cur, prev)
            next_sample = time.monotonic() + interval


def main(argv: list[str] | None = None) -> int:
    """``python -m irqd.cli.top``: the command without the rest of the parser."""
    parser = argparse.ArgumentParser(prog="irqd")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        return run(parser.parse_args(["top", *(sys.argv[1:] if argv is None else argv)]))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""One load sample for the daemon, cheap enough to take every second on 1,000 CPUs.

It reads ``/proc/stat`` (per-CPU time and the ``intr`` line: one total per IRQ
number), ``/proc/softirqs`` and lists ``/proc/irq``; it does not parse
``/proc/interrupts``, whose per-CPU columns make it megabytes on a big box.
Where an IRQ ran comes from the affinity the last discovery read (irqd pins
IRQs to one CPU, so that is exact for what it placed).

``/proc/stat`` sample: ``intr 8761036 0 0 14 ...`` (the grand total, then
IRQ 0, 1, 2 ... up to nr_irqs-1). Without it, the per-IRQ totals come from
``/proc/interrupts`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from .interrupts import InterruptsFormatError, parse_interrupts
from .procstat import CpuTime, StatFormatError, parse_softirqs, parse_stat
from .root import Root
from .topology import read_list


@dataclass(frozen=True)
class Sample:
    at: float
    online: frozenset[int] | None
    irqs: frozenset[int]                         # IRQ numbers with a /proc/irq entry
    totals: dict[int, int]                       # irq -> interrupts since boot, all CPUs
    cpu_time: dict[int, CpuTime] | None
    softirqs: dict[str, dict[int, int]] | None   # NET_RX / NET_TX per CPU


class SampleError(Exception):
    pass


def parse_intr(text: str) -> dict[int, int] | None:
    """The ``intr`` line of /proc/stat as irq -> count, or None when absent."""
    for line in text.splitlines():
        if line.startswith("intr "):
            try:
                values = list(map(int, line.split()[2:]))
            except ValueError:
                return None
            return {irq: n for irq, n in enumerate(values) if n}
    return None


def read_sample(root: Root, at: float, known: frozenset[int] = frozenset(), cpu_detail: bool = True) -> Sample:
    """``cpu_detail``: also parse per-CPU time and softirqs (only the metrics file needs them)."""
    stat_text = root.read("proc/stat")
    totals = parse_intr(stat_text) if stat_text else None
    if stat_text is None or totals is None or (known and max(known) >= _intr_width(stat_text)):
        totals = _totals_from_interrupts(root)
    cpu_time = soft = None
    if cpu_detail:
        try:
            cpu_time = parse_stat(stat_text) if stat_text else None
            soft_text = root.read("proc/softirqs")
            soft = parse_softirqs(soft_text) if soft_text else None
        except StatFormatError:
            pass  # interrupt totals alone still tell the load
    irqs = frozenset(int(e) for e in root.listdir("proc/irq") if e.isascii() and e.isdigit())
    return Sample(
        at=at,
        online=read_list(root, "sys/devices/system/cpu/online"),
        irqs=irqs,
        totals=totals,
        cpu_time=cpu_time,
        softirqs={k: v for k, v in soft.items() if k in ("NET_RX", "NET_TX")} if soft else None,
    )


def _intr_width(stat_text: str) -> int:
    for line in stat_text.splitlines():
        if line.startswith("intr "):
            return len(line.split()) - 2
    return 0


def _totals_from_interrupts(root: Root) -> dict[int, int]:
    text = root.read("proc/interrupts")
    if text is None:
        raise SampleError(f"{root.show('proc/interrupts')}: cannot read")
    try:
        return {row.irq: row.total for row in parse_interrupts(text).irqs}
    except InterruptsFormatError as e:
        raise SampleError(f"{root.show('proc/interrupts')}: {e}") from None


def irq_rates(old: Sample, new: Sample) -> dict[int, float]:
    """Interrupts per second of each IRQ between two samples (a counter that went backwards: 0)."""
    dt = new.at - old.at
    if dt <= 0:
        return {}
    return {irq: max(0, n - old.totals.get(irq, 0)) / dt for irq, n in new.totals.items()}

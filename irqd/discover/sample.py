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
from itertools import compress

from .interrupts import InterruptsFormatError, parse_interrupts
from .procstat import CpuTime, StatFormatError, parse_softirqs, parse_stat
from .root import Root
from .topology import read_list


@dataclass(frozen=True)
class Sample:
    at: float
    online: frozenset[int] | None
    irqs: frozenset[int]                         # IRQ numbers with a /proc/irq entry
    totals: dict[int, int]                       # irq -> interrupts since boot, all CPUs (see intr)
    cpu_time: dict[int, CpuTime] | None
    softirqs: dict[str, dict[int, int]] | None   # NET_RX / NET_TX per CPU
    # the intr line's per-IRQ words as read: when set, totals is empty and is read from these only
    # for the IRQs whose word changed (irq_rates), so a cycle converts what moved, not nr_irqs numbers
    intr: tuple[str, ...] | None = None
    irq_names: tuple[str, ...] = ()              # the /proc/irq listing irqs came from

    def total(self, irq: int) -> int:
        if self.intr is None:
            return self.totals.get(irq, 0)
        return int(self.intr[irq]) if 0 <= irq < len(self.intr) else 0


_BLOCK = 128   # intr words compared at a time by irq_rates


class SampleError(Exception):
    pass


def _intr_words(text: str) -> list[str] | None:
    """The per-IRQ words of the ``intr`` line (after the grand total), or None when absent."""
    start = 0 if text.startswith("intr ") else text.find("\nintr ") + 1
    if start == 0 and not text.startswith("intr "):
        return None
    end = text.find("\n", start)
    return text[start:end if end >= 0 else len(text)].split()[2:]


def parse_intr(text: str) -> dict[int, int] | None:
    """The ``intr`` line of /proc/stat as irq -> count, or None when absent."""
    words = _intr_words(text)
    if words is None:
        return None
    try:
        values = list(map(int, words))
    except ValueError:
        return None
    return {irq: n for irq, n in enumerate(values) if n}


def read_sample(root: Root, at: float, known: frozenset[int] = frozenset(), cpu_detail: bool = True,
                previous: Sample | None = None) -> Sample:
    """``cpu_detail``: also parse per-CPU time and softirqs (only the metrics file needs them).

    ``previous``: the last sample, whose IRQ set is reused when /proc/irq lists the same names.
    """
    stat_text = root.read("proc/stat")
    words = _intr_words(stat_text) if stat_text else None
    intr: tuple[str, ...] | None = None
    totals: dict[int, int] = {}
    joined = "".join(words) if words is not None else ""
    if words is not None and (not known or max(known) < len(words)) and joined.isascii() and joined.isdigit():
        intr = tuple(words)
    else:
        totals = _totals_from_interrupts(root)
    cpu_time = soft = None
    if cpu_detail:
        try:
            cpu_time = parse_stat(stat_text) if stat_text else None
            soft_text = root.read("proc/softirqs")
            soft = parse_softirqs(soft_text) if soft_text else None
        except StatFormatError:
            pass  # interrupt totals alone still tell the load
    names = tuple(root.listdir("proc/irq"))
    if previous is not None and previous.irq_names == names:
        irqs = previous.irqs
    else:
        irqs = frozenset(int(e) for e in names if e.isascii() and e.isdigit())
    return Sample(
        at=at,
        online=read_list(root, "sys/devices/system/cpu/online"),
        irqs=irqs,
        totals=totals,
        cpu_time=cpu_time,
        softirqs={k: v for k, v in soft.items() if k in ("NET_RX", "NET_TX")} if soft else None,
        intr=intr,
        irq_names=names,
    )


def _totals_from_interrupts(root: Root) -> dict[int, int]:
    text = root.read("proc/interrupts")
    if text is None:
        raise SampleError(f"{root.show('proc/interrupts')}: cannot read")
    try:
        return {row.irq: row.total for row in parse_interrupts(text).irqs}
    except InterruptsFormatError as e:
        raise SampleError(f"{root.show('proc/interrupts')}: {e}") from None


def irq_rates(old: Sample, new: Sample) -> dict[int, float]:
    """Interrupts per second of each IRQ that fired between two samples (a counter that went backwards: 0).

    An IRQ that did not fire is left out (the planner reads a missing IRQ as 0).
    """
    dt = new.at - old.at
    if dt <= 0:
        return {}
    if new.intr is not None and old.intr is not None and len(new.intr) == len(old.intr):
        a, b = old.intr, new.intr
        # the words that changed, compared in C a block at a time: most IRQs are idle in any one second
        out: dict[int, float] = {}
        for start in range(0, len(b), _BLOCK):
            end = start + _BLOCK
            if a[start:end] != b[start:end]:
                for irq in compress(range(start, min(end, len(b))), map(str.__ne__, b[start:end], a[start:end])):
                    out[irq] = max(0, int(b[irq]) - int(a[irq])) / dt
        return out
    out = {}
    for irq in (new.totals if new.intr is None else range(len(new.intr))):
        n = new.total(irq)
        if n:
            rate = max(0, n - old.total(irq)) / dt
            if rate:
                out[irq] = rate
    return out

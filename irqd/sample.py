"""One load sample for the daemon: ``/proc/interrupts``, ``/proc/stat``, ``/proc/softirqs``.

Sample line: `` 38:     1200      17  IR-PCI-MSIX-0000:4b:00.0  1-edge  i40e-eth0-TxRx-0``.
Cheap enough to read every few seconds: three files, no per-IRQ reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from .interrupts import InterruptsFormatError, parse_interrupts
from .procstat import CpuTime, StatFormatError, parse_softirqs, parse_stat
from .rootfs import Root


@dataclass(frozen=True)
class Sample:
    at: float
    cpus: tuple[int, ...]                        # online CPUs (the header)
    counts: dict[int, dict[int, int]]            # irq -> cpu -> count
    names: dict[int, tuple[str, ...]]            # irq -> action names
    cpu_time: dict[int, CpuTime] | None
    softirqs: dict[str, dict[int, int]] | None   # NET_RX / NET_TX per CPU


class SampleError(Exception):
    pass


def read_sample(root: Root, at: float) -> Sample:
    text = root.read("proc/interrupts")
    if text is None:
        raise SampleError(f"{root.show('proc/interrupts')}: cannot read")
    try:
        parsed = parse_interrupts(text)
    except InterruptsFormatError as e:
        raise SampleError(f"{root.show('proc/interrupts')}: {e}") from None
    stat = soft = None
    stat_text = root.read("proc/stat")
    soft_text = root.read("proc/softirqs")
    try:
        stat = parse_stat(stat_text) if stat_text else None
        soft = parse_softirqs(soft_text) if soft_text else None
    except StatFormatError:
        pass  # load from /proc/interrupts alone still works
    return Sample(
        at=at,
        cpus=parsed.cpus,
        counts={row.irq: dict(row.counts) for row in parsed.irqs},
        names={row.irq: row.actions for row in parsed.irqs},
        cpu_time=stat,
        softirqs={k: v for k, v in soft.items() if k in ("NET_RX", "NET_TX")} if soft else None,
    )


def rates(old: Sample, new: Sample) -> tuple[dict[int, float], dict[int, dict[int, float]]]:
    """Per-IRQ and per-IRQ-per-CPU interrupt rates between two samples (counters that went backwards: 0)."""
    dt = new.at - old.at
    if dt <= 0:
        return {}, {}
    per_irq: dict[int, float] = {}
    per_cpu: dict[int, dict[int, float]] = {}
    for irq, counts in new.counts.items():
        before = old.counts.get(irq, {})
        row = {cpu: max(0, n - before.get(cpu, 0)) / dt for cpu, n in counts.items()}
        per_cpu[irq] = row
        per_irq[irq] = sum(row.values())
    return per_irq, per_cpu

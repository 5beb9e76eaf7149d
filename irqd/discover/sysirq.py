"""Reader for ``/sys/kernel/irq/N/actions`` (kernel 4.9+, CONFIG_SPARSE_IRQ).

Sample: ``actions`` holds ``PCIe PME,aerdrv``. /proc/interrupts joins
several handlers with ", ", so a name that itself holds ", " splits wrongly
there; sysfs is read for exactly those rows. The other files (chip_name,
hwirq, per_cpu_count) say nothing /proc/interrupts does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from .root import Root


@dataclass(frozen=True)
class SysIrq:
    actions: tuple[str, ...]


def read_sys_irqs(root: Root, irqs: list[int]) -> dict[int, SysIrq] | None:
    """The sysfs names of ``irqs``, or None when /sys/kernel/irq is absent."""
    if not root.isdir("sys/kernel/irq"):
        return None
    out: dict[int, SysIrq] = {}
    for irq in irqs:
        # only the action names: they keep commas and spaces that
        # /proc/interrupts joins ambiguously; the rest it prints reliably
        actions = root.read_line(f"sys/kernel/irq/{irq}/actions")
        if actions is not None:
            out[irq] = SysIrq(actions=parse_actions(actions))
    return out


def parse_actions(text: str) -> tuple[str, ...]:
    """``actions`` joins several handlers' names with a bare comma."""
    text = text.strip()
    return tuple(a for a in text.split(",") if a) if text else ()

"""Reader for ``/sys/kernel/irq/N/*`` (kernel 4.9+, CONFIG_SPARSE_IRQ).

Sample: ``actions`` holds ``i40e-eth0-TxRx-0``, ``chip_name`` holds
``IR-PCI-MSIX-0000:4b:00.0``, ``hwirq`` holds ``1``, ``per_cpu_count``
holds ``0,6621`` (one count per possible CPU). These give the names without
the column guessing /proc/interrupts needs, so they win where present.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rootfs import Root


@dataclass(frozen=True)
class SysIrq:
    actions: tuple[str, ...]
    chip: str | None
    hwirq: int | None
    name: str | None
    type: str | None


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
            out[irq] = SysIrq(actions=parse_actions(actions), chip=None, hwirq=None, name=None, type=None)
    return out


def parse_actions(text: str) -> tuple[str, ...]:
    """``actions`` joins several handlers' names with a bare comma."""
    text = text.strip()
    return tuple(a for a in text.split(",") if a) if text else ()

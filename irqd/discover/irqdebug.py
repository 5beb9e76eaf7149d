"""Reader for ``/sys/kernel/debug/irq/irqs/N`` (CONFIG_GENERIC_IRQ_DEBUGFS, root, debugfs mounted).

``kernel/irq/debugfs.c`` irq_debug_show() prints ``dstate:   0x%08x`` and
then one line per set IRQD_* bit, indented by 12 spaces::

    dstate:   0x01600201
                IRQ_TYPE_EDGE_RISING
                IRQD_ACTIVATED
                IRQD_AFFINITY_MANAGED

The flag names are read, not the hex: bit positions differ between kernels.
"""

from __future__ import annotations

from .root import Root

DEBUG_IRQS = "sys/kernel/debug/irq/irqs"


def parse_dstate(text: str) -> frozenset[str]:
    """The IRQD_* / IRQ_TYPE_* names listed under ``dstate:`` (empty when there is no dstate)."""
    flags: set[str] = set()
    inside = False
    for line in text.splitlines():
        if line.startswith("dstate:"):
            inside = True
            continue
        if inside:
            word = line.strip()
            if line[:1].isspace() and word.replace("_", "").isalnum() and word.isupper():
                flags.add(word)
                continue
            break
    return frozenset(flags)


def read_debug_flags(root: Root, irqs: list[int]) -> dict[int, frozenset[str]] | None:
    """IRQ -> its dstate flags, for every IRQ debugfs shows; None when debugfs shows none."""
    if not root.isdir(DEBUG_IRQS):
        return None
    out: dict[int, frozenset[str]] = {}
    for irq in irqs:
        text = root.read(f"{DEBUG_IRQS}/{irq}")
        if text is not None and "dstate:" in text:
            out[irq] = parse_dstate(text)
    return out or None

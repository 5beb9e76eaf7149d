"""Moves the kernel has not made yet: IRQs whose effective CPU lags their new mask.

x86 and others move an IRQ at its next interrupt, so right after a write
``/proc/irq/N/effective_affinity`` still shows the old CPU until the IRQ
fires. Watching the per-IRQ totals of ``/proc/stat`` tells a move that is
pending from one the kernel refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .procirq import read_irq_affinity
from .root import Root
from .sample import parse_intr


def watch_pending(root: Root, irqs: Iterable[int], seconds: float = 2.0,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> frozenset[int]:
    """Of IRQs running outside their mask, those that do not fire while watched: their move is pending.

    x86 and others move an IRQ at its next interrupt, so right after a write
    its ``effective_affinity`` lags until it fires. Watching ``/proc/stat``'s
    per-IRQ totals for up to ``seconds``: an IRQ that fires and still runs
    outside its mask was not honoured; one that moved into its mask meanwhile,
    or never fired, is not a finding. Live hosts only: a captured tree has no
    kernel to move anything.
    """
    todo = set(irqs)
    if not todo or not root.is_live:
        return frozenset()
    def totals() -> dict[int, int]:
        text = root.read("proc/stat")
        return (parse_intr(text) or {}) if text else {}

    start, pending = totals(), set(todo)
    deadline = clock() + seconds
    while pending and clock() < deadline:
        sleep(0.1)
        now = totals()
        for irq in list(pending):
            aff = read_irq_affinity(root, irq)
            if aff.affinity is not None and aff.effective is not None and aff.effective <= aff.affinity:
                continue   # moved while watched: honoured (stays "pending" so it is not counted)
            if now.get(irq, 0) > start.get(irq, 0):
                pending.discard(irq)   # fired, and still outside its mask: a real finding
    return frozenset(pending)

"""Which IRQs the kernel manages, before any refused write proves it.

A kernel-managed IRQ (``IRQD_AFFINITY_MANAGED``, allocated with
``PCI_IRQ_AFFINITY``) refuses affinity writes with EIO; irqd must plan
around it, never move it. Only a refused write or the kernel's debugfs
proves it; the shape of the masks makes it likely.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .. import snapshot as S
from ..cpuset import CpuSet
from .interrupts import IrqRow
from .procirq import IrqAffinity

# Storage vectors drivers request outside the managed set: nvme's admin
# queue (pre_vectors = 1) and virtio's config/control/event queues.
_UNMANAGED = re.compile(r"nvme\d+q0|virtio\d+-(config|control|event)")


def managed_hints(rows: tuple[IrqRow, ...], irq_device: dict[int, str], pci: dict[str, S.PciFunction],
                  affinities: dict[int, IrqAffinity], online: CpuSet) -> dict[int, str]:
    """Storage queue vectors whose masks partition the CPUs look kernel-managed.

    The kernel spreads managed vectors (pci_alloc_irq_vectors_affinity) so
    that their masks are disjoint and together cover every CPU; irqbalance
    or a person never leaves them that way. Only a refused write proves it.
    """
    per_fn: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        bdf = irq_device.get(row.irq)
        if bdf and pci[bdf].base_class == S.CLASS_STORAGE and not any(_UNMANAGED.fullmatch(a) for a in row.actions):
            per_fn[bdf].append(row.irq)
    out: dict[int, str] = {}
    for bdf, irqs in per_fn.items():
        mask: dict[int, CpuSet] = {i: a for i in irqs if (a := affinities[i].affinity) and not a >= online}
        # an unmanaged vector (nvme's admin queue) someone pinned inside a
        # queue's mask is nested in it; managed masks never nest
        spread = [i for i in mask if not any(j != i and mask[i] <= mask[j] for j in mask)]
        if len(spread) < 2:
            continue
        masks = [mask[i] for i in spread]
        union: CpuSet = frozenset().union(*masks)
        if sum(len(m) for m in masks) != len(union) or not online <= union:
            continue
        if any((eff := affinities[i].effective) is not None and not eff <= mask[i] for i in spread):
            continue
        for i in spread:
            out[i] = (f"{bdf} ({pci[bdf].driver or 'storage'}): {len(spread)} vectors whose masks "
                      "partition the CPUs, as the kernel's managed spreading leaves them")
    return out

"""Which IRQs the kernel manages, before any refused write proves it.

A kernel-managed IRQ (``IRQD_AFFINITY_MANAGED``, allocated with
``PCI_IRQ_AFFINITY``) refuses affinity writes with EIO; irqd must plan
around it, never move it. Evidence, strongest first:

1. the kernel says so: ``/sys/kernel/debug/irq/irqs/N`` lists
   ``IRQD_AFFINITY_MANAGED`` (root, debugfs mounted): confirmed. A debugfs
   file without the flag proves the opposite, and nothing else is guessed;
2. the driver's source says so (``managed_drivers``: nvme, megaraid_sas,
   mpt3sas, virtio-blk/-scsi ...), naming its pre and post vectors, which
   are ordinary IRQs: likely;
3. the masks say so: a storage function's vectors whose masks are disjoint
   and together cover every CPU, as the kernel's spreading leaves them
   (irqbalance or a person never does), once up to a few leading (pre) and
   trailing (post) vectors are set aside: likely.

A refused write (EIO/EPERM) is recorded in the state file and confirmed by
the caller.
"""

from __future__ import annotations

from collections import defaultdict

from .. import snapshot as S
from ..cpuset import CpuSet
from .interrupts import IrqRow
from .managed_drivers import DRIVERS, ManagedDriver, Role, managed_vectors
from .procirq import IrqAffinity

MANAGED_FLAG = "IRQD_AFFINITY_MANAGED"

# the most leading plus trailing vectors a partition may set aside: megaraid_sas
# and mpt3sas keep up to 8 high-IOPS pre vectors, mpi3mr one post vector
_MAX_SET_ASIDE = 9

_BY_NAME = {d.driver: d for d in DRIVERS}


def driver_role(driver: str | None, actions: tuple[str, ...]) -> tuple[Role, ManagedDriver] | None:
    """What the driver source says of one IRQ, and which driver said it.

    The rules of the function's own driver when it is listed; every rule
    when the driver is not known or is virtio-pci (the virtio driver sits on
    the virtio bus below it, and its names tell which one); none for other
    drivers, whose vectors are never managed by their source.
    """
    if driver in _BY_NAME:
        candidates = [_BY_NAME[driver]]
    elif driver is None or driver == "virtio-pci":
        candidates = list(DRIVERS)
    else:
        return None
    for d in candidates:
        role = managed_vectors(d.driver, actions)
        if role is not None:
            return role, d
    return None


def managed_hints(rows: tuple[IrqRow, ...], irq_device: dict[int, str], pci: dict[str, S.PciFunction],
                  affinities: dict[int, IrqAffinity], online: CpuSet,
                  debug_flags: dict[int, frozenset[str]] | None = None) -> dict[int, tuple[str, str]]:
    """IRQ -> ("confirmed" | "likely", why) for every IRQ that looks kernel-managed."""
    flags = debug_flags or {}
    out: dict[int, tuple[str, str]] = {}
    per_fn: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.irq in flags:
            if MANAGED_FLAG in flags[row.irq]:
                out[row.irq] = ("confirmed", f"debugfs lists {MANAGED_FLAG}")
            continue   # the kernel's own word, either way
        bdf = irq_device.get(row.irq)
        if bdf is None:
            continue
        fn = pci[bdf]
        said = driver_role(fn.driver, row.actions)
        if said is not None:
            role, d = said
            if role == "managed":
                out[row.irq] = ("likely", f"{bdf} ({d.driver}): the driver allocates its queue vectors with "
                                          f"PCI_IRQ_AFFINITY ({d.source})")
            continue   # a pre or post vector: an ordinary IRQ
        if fn.base_class == S.CLASS_STORAGE:
            per_fn[bdf].append(row.irq)
    for bdf, irqs in per_fn.items():
        for irq in _partitioning(sorted(irqs), affinities, online):
            out[irq] = ("likely", f"{bdf} ({pci[bdf].driver or 'storage'}): vectors whose masks partition the "
                                  "CPUs, as the kernel's managed spreading leaves them")
    return out


def _partitioning(irqs: list[int], affinities: dict[int, IrqAffinity], online: CpuSet) -> list[int]:
    """The vectors that partition the CPUs, once a few leading and trailing ones are set aside.

    Pre vectors come first and post vectors last in a device's MSI-X table,
    and their masks are whatever the default or a person made them (often
    one CPU a managed vector also has), so they break the partition; the
    fewest set aside wins.
    """
    best: list[int] = []
    n = len(irqs)
    for aside in range(0, min(_MAX_SET_ASIDE, n - 2) + 1):
        for lead in range(aside + 1):
            rest = irqs[lead:n - (aside - lead)]
            if _partition(rest, affinities, online):
                return rest
    return best


def _partition(irqs: list[int], affinities: dict[int, IrqAffinity], online: CpuSet) -> bool:
    if len(irqs) < 2:
        return False
    masks: list[CpuSet] = []
    for i in irqs:
        mask = affinities[i].affinity
        eff = affinities[i].effective
        if not mask or mask >= online:
            return False
        if eff is not None and not eff <= mask:
            return False   # the kernel never runs a managed vector outside its mask
        masks.append(mask)
    union: CpuSet = frozenset().union(*masks)
    return sum(len(m) for m in masks) == len(union) and online <= union

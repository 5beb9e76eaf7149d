"""Readers for ``/proc/irq/N/*`` and ``/proc/irq/default_smp_affinity``.

Sample: ``/proc/irq/36/smp_affinity`` holds ``ffffffff,00000001``;
``smp_affinity_list`` holds ``0,32-63``; ``node`` holds ``0``.
The ``*_list`` and ``effective_affinity*`` files are missing on older
kernels (effective_affinity came with 4.15), so masks are the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..cpuset import CpuFormatError, CpuSet, mask_digits, parse_list, parse_mask
from .root import Root


@dataclass(frozen=True)
class IrqAffinity:
    affinity: CpuSet | None
    effective: CpuSet | None
    hint: CpuSet | None
    node: int | None
    mask_digits: int | None  # width the kernel printed smp_affinity with


def read_cpuset(root: Root, mask_path: str, list_path: str | None = None) -> tuple[CpuSet | None, int | None]:
    """A CPU set from its mask file, or from its ``*_list`` file when the mask is missing or bad.

    The mask wins because it is the file irqd writes: on a captured tree the
    ``*_list`` twin is not updated by a kernel. Returns the set and the
    mask's printed width (None when no mask was read).
    """
    mask_text = root.read(mask_path)
    if mask_text is not None:
        try:
            return parse_mask(mask_text), mask_digits(mask_text)
        except CpuFormatError as e:
            root.note(mask_path, str(e))
    if list_path is not None:
        list_text = root.read(list_path)
        if list_text is not None:
            try:
                return parse_list(list_text), None
            except CpuFormatError as e:
                root.note(list_path, str(e))
    return None, None


def read_irq_affinity(root: Root, irq: int) -> IrqAffinity:
    base = f"proc/irq/{irq}"
    affinity, digits = read_cpuset(root, f"{base}/smp_affinity", f"{base}/smp_affinity_list")
    effective, _ = read_cpuset(root, f"{base}/effective_affinity", f"{base}/effective_affinity_list")
    hint, _ = read_cpuset(root, f"{base}/affinity_hint")
    node = root.read_int(f"{base}/node")
    return IrqAffinity(
        affinity=affinity,
        effective=effective,
        hint=hint or None,  # an all-zero hint means the driver gave none
        node=node,
        mask_digits=digits,
    )


def read_default_affinity(root: Root) -> CpuSet | None:
    cpus, _ = read_cpuset(root, "proc/irq/default_smp_affinity")
    return cpus


def stale_effective(root: Root, irqs: Iterable[int]) -> frozenset[int]:
    """IRQs of a captured tree whose smp_affinity was rewritten after the capture.

    A kernel keeps ``smp_affinity`` and ``smp_affinity_list`` in step and
    recomputes ``effective_affinity`` on every write; a writer on a captured
    tree (irqd apply, irqbalance) changes only the file it writes. So a mask
    that disagrees with its list twin was written after the capture, and the
    effective affinity beside it is what the capture saw, not what a kernel
    would choose now. Without a list file, a mask newer than the effective
    affinity file counts as rewritten. On the live host a kernel keeps them
    all current, so nothing is stale there.
    """
    if root.is_live:
        return frozenset()
    out = set()
    for irq in irqs:
        base = f"proc/irq/{irq}"
        text = root.read(f"{base}/smp_affinity")
        try:
            mask = parse_mask(text) if text is not None else None
        except CpuFormatError:
            mask = None
        if mask is None:
            continue
        twin = root.read(f"{base}/smp_affinity_list")
        if twin is not None:
            try:
                if parse_list(twin) != mask:
                    out.add(irq)
                continue
            except CpuFormatError:
                pass
        written = root.mtime_ns(f"{base}/smp_affinity")
        seen = [t for t in (root.mtime_ns(f"{base}/effective_affinity"),
                            root.mtime_ns(f"{base}/effective_affinity_list")) if t is not None]
        if written is not None and seen and written > max(seen):
            out.add(irq)
    return frozenset(out)


"""NIC drivers as the generator models them: PCI IDs, non-queue vectors, and the IRQ names they give.

``nic_vectors`` lists a NIC's MSI-X vectors in table order, named the way
each driver's request_irq() calls name them (the function each follows is
cited beside it).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.spec import NicSpec


@dataclass(frozen=True)
class Driver:
    vendor: int
    device: int
    extra: int               # non-queue vectors it requests
    hint: bool               # sets an affinity hint (cpumask_local_spread)
    applies_hint: bool       # irq_set_affinity_hint()/irq_set_affinity_and_hint() also moves the IRQ
    sets_xps: bool


DRIVERS = {
    "i40e": Driver(0x8086, 0x1572, 1, True, False, True),
    "ice": Driver(0x8086, 0x159B, 1, True, False, True),
    "ixgbe": Driver(0x8086, 0x10FB, 1, True, False, True),
    "igb": Driver(0x8086, 0x1521, 1, False, False, False),
    "mlx5_core": Driver(0x15B3, 0x1017, 1, True, True, True),
    "bnxt_en": Driver(0x14E4, 0x16D7, 0, True, True, False),
    "ena": Driver(0x1D0F, 0xEC20, 1, False, False, False),
    "gve": Driver(0x1AE0, 0x0042, 1, True, True, False),
    "virtio_net": Driver(0x1AF4, 0x1041, 1, True, True, True),
    "r8169": Driver(0x10EC, 0x8168, 0, False, False, False),
}
NVME_IDS = (0x144D, 0xA80A)
ROOT_PORT_IDS = (0x8086, 0x347A)


def nic_vectors(nic: NicSpec, bdf: str, bus_device: str | None) -> list[tuple[str, int | None, str | None]]:
    """The driver's vectors in MSI-X table order: (action name, queue or None, direction)."""
    drv = nic.driver
    extra = DRIVERS[drv].extra if nic.extra is None else nic.extra
    ifn, q = nic.ifname, range(nic.queues)
    if drv in ("i40e", "ice"):
        # i40e_vsi_request_irq_msix(); misc is vector 0 (i40e_setup_misc_vector)
        others = [f"{drv}-{bdf}:misc"] + [f"{drv}-{bdf}:fdir-TxRx-{k}" for k in range(extra - 1)]
        return [(n, None, None) for n in others[:extra]] + [(f"{drv}-{ifn}-TxRx-{i}", i, "rxtx") for i in q]
    if drv == "ixgbe":
        # ixgbe_request_msix_irqs(): queue vectors, then the link vector named after the netdev
        _at_most(nic, extra, 1)
        return [(f"{ifn}-TxRx-{i}", i, "rxtx") for i in q] + [(ifn, None, None)] * extra
    if drv == "igb":
        # igb_request_msix(): vector 0 is "other", named after the netdev
        _at_most(nic, extra, 1)
        return [(ifn, None, None)] * extra + [(f"{ifn}-TxRx-{i}", i, "rxtx") for i in q]
    if drv == "mlx5_core":
        # irq_set_name(): vector 0 is mlx5_async0, completion vectors follow
        return ([(f"mlx5_async{k}@pci:{bdf}", None, None) for k in range(extra)]
                + [(f"mlx5_comp{i}@pci:{bdf}", i, "rxtx") for i in q])
    if drv == "bnxt_en":
        _at_most(nic, extra, 0)
        return [(f"{ifn}-TxRx-{i}", i, "rxtx") for i in q]
    if drv == "ena":
        # ena_setup_mgmnt_intr() is vector 0
        _at_most(nic, extra, 1)
        return [(f"ena-mgmnt@pci:{bdf}", None, None)] * extra + [(f"{ifn}-Tx-Rx-{i}", i, "rxtx") for i in q]
    if drv == "gve":
        # gve_alloc_notify_blocks(): blocks 0..n-1 serve tx, n..2n-1 rx; management is the last vector
        _at_most(nic, extra, 1)
        n = nic.queues
        blocks = [(f"gve-ntfy-blk{b}@pci:{bdf}", b if b < n else b - n, "tx" if b < n else "rx") for b in range(2 * n)]
        return blocks + [(f"gve-mgmnt@pci:{bdf}", None, None)] * extra
    if drv == "virtio_net":
        # vp_find_vqs_msix(): config vector, then one per virtqueue with a callback (rx0, tx0, rx1 ...)
        _at_most(nic, extra, 1)
        out: list[tuple[str, int | None, str | None]] = [(f"{bus_device}-config", None, None)] * extra
        for i in q:
            out += [(f"{bus_device}-input.{i}", i, "rx"), (f"{bus_device}-output.{i}", i, "tx")]
        return out
    if drv == "r8169":
        if nic.queues != 1 or extra:
            raise ValueError(f"{ifn}: r8169 has exactly one vector")
        return [(ifn, 0, "rxtx")]
    raise ValueError(f"{ifn}: unknown driver {drv!r} (known: {', '.join(sorted(DRIVERS))})")


def _at_most(nic: NicSpec, extra: int, most: int) -> None:
    if extra > most:
        raise ValueError(f"{nic.ifname}: {nic.driver} requests at most {most} non-queue vector(s)")

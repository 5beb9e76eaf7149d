"""Which IRQ serves which queue: the drivers' IRQ naming, one rule per pattern.

Drivers name their vectors in request_irq(); the names are the only place
the kernel tells which vector serves which queue. Documented patterns:

  i40e/ice   ``i40e-eth0-TxRx-3``; ``i40e-0000:18:00.0:misc``, ``...:fdir-TxRx-0`` (not queues)
  ice (oot)  ``ice-eth0-TxRx-0-1`` (one vector for queues 0 and 1)
  ixgbe/igb/bnxt_en  ``eth0-TxRx-3``, ``eth0-rx-3``, ``eth0-tx-3``; bare ``eth0`` is the link vector
  mlx5       ``mlx5_comp3@pci:0000:3b:00.0``; ``mlx5_async0@pci:...`` (not a queue)
  ena        ``eth0-Tx-Rx-3``; ``ena-mgmnt@pci:...``
  gve        ``gve-ntfy-blk3@pci:...`` (before 6.3 ``eth%d-ntfy-block.3``, a literal %d); first half tx, second half rx
  virtio-net ``virtio2-input.3``, ``virtio2-output.3``; ``virtio2-config``; ``virtio2-virtqueues`` (one shared vector)
  mana       ``mana_q3@pci:...``; ``mana_hwc@pci:...``
  tg3        ``eth0-rx-1`` serves rx queue 0; ``eth0-tx-0`` (link and tx queue 0); ``eth0-txrx-1`` both, queue 0
  r8169/r8125/e1000e ``eth0`` or ``eth0-3``; e1000e ``eth0-rx-0``, ``eth0-tx-0``
  vmxnet3/nfp ``eth0-rxtx-3``; qede/bnx2x ``eth0-fp-3``; mlx4 ``mlx4-comp-3@pci:...``

Names that match nothing leave the mapping unknown; it is never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..snapshot import QueueRef

_Q = r"(?P<q>[0-9]+)"


@dataclass(frozen=True)
class QueueMap:
    queues: dict[int, QueueRef]
    other: tuple[int, ...]
    note: str | None


def map_queues(ifname: str, driver: str | None, bdf: str | None, bus_device: str | None,
               irqs: dict[int, tuple[str, ...]], single_netdev: bool = True) -> QueueMap:
    """Split one NIC's IRQs (irq -> action names) into queue vectors and others.

    ``single_netdev`` says the PCI function carries only this netdev, so names
    with a stale interface prefix (renamed after request_irq) may still count.
    """
    queues: dict[int, QueueRef] = {}
    other: list[int] = []
    gve_blocks: dict[int, int] = {}
    unnamed = 0
    for irq, actions in sorted(irqs.items()):
        name = _own_action(actions, ifname, bdf, bus_device)
        if not name:
            unnamed += 1
            other.append(irq)
            continue
        gve = _gve_block(name, ifname, bdf)
        if gve is not None:
            gve_blocks[irq] = gve
            continue
        ref = _queue_ref(name, ifname, driver, bdf, bus_device, single_netdev)
        if ref is None:
            other.append(irq)
        else:
            queues[irq] = ref
    if gve_blocks:
        # gve_alloc_notify_blocks(): blocks 0..n/2-1 serve tx, the rest rx
        half = len(gve_blocks) // 2
        for irq, block in gve_blocks.items():
            queues[irq] = QueueRef(block, "tx") if block < half else QueueRef(block - half, "rx")
    if not queues:
        bare = [irq for irq in other if ifname in irqs[irq] or _only_name(irqs[irq]) == ifname]
        if len(bare) == 1 and len(irqs) == 1:
            # a single-vector NIC (r8169, e1000e in MSI mode) names it after the interface
            return QueueMap({bare[0]: QueueRef(0)}, (), None)
    other = [irq for irq in other if irq not in queues]
    note = None
    if irqs and not queues:
        why = "have no names" if unnamed == len(irqs) else "match no known driver naming"
        note = (f"{len(irqs)} IRQ(s) on {bdf or 'its device'} {why}; "
                f"which IRQ serves which queue is unknown")
    return QueueMap(queues, tuple(other), note)


def _only_name(actions: tuple[str, ...]) -> str | None:
    return actions[0] if len(actions) == 1 else None


def _own_action(actions: tuple[str, ...], ifname: str, bdf: str | None, bus_device: str | None) -> str | None:
    """The action name that belongs to this NIC (a shared line can carry several)."""
    if len(actions) <= 1:
        return actions[0] if actions else None
    for a in actions:
        if a.startswith(ifname) or (bdf and bdf in a) or (bus_device and a.startswith(bus_device + "-")):
            return a
    return actions[0]


def _gve_block(name: str, ifname: str, bdf: str | None) -> int | None:
    m = re.fullmatch(r"gve-ntfy-blk([0-9]+)@pci:(\S+)", name)
    if m and (bdf is None or m.group(2).lower() == bdf):
        return int(m.group(1))
    # gve before 6.3 names blocks before register_netdev() picks the name, so
    # 6.1 really prints a literal "eth%d-ntfy-block.0"; any prefix is this NIC's
    m = re.fullmatch(r"\S+-ntfy-block\.([0-9]+)", name)
    return int(m.group(1)) if m else None


def _queue_ref(name: str, ifname: str, driver: str | None, bdf: str | None,
               bus_device: str | None, single_netdev: bool) -> QueueRef | None:
    ifn = re.escape(ifname)
    if bus_device and bus_device.startswith("virtio"):
        dev = re.escape(bus_device)
        if m := re.fullmatch(dev + r"-input\." + _Q, name):
            return QueueRef(int(m["q"]), "rx")
        if m := re.fullmatch(dev + r"-output\." + _Q, name):
            return QueueRef(int(m["q"]), "tx")
        if name == f"{bus_device}-virtqueues":
            return QueueRef(0)  # MSI-X was scarce: one vector for every queue
        return None
    if m := re.fullmatch(r"(?:i40e|ice|iavf)-" + ifn + r"-TxRx-" + _Q + r"(?:-(?P<q2>[0-9]+))?", name):
        extra = (int(m["q2"]),) if m["q2"] else ()
        return QueueRef(int(m["q"]), "rxtx", extra)
    if m := re.fullmatch(r"mlx5_comp" + _Q + r"@pci:(?P<bdf>\S+)", name):
        return QueueRef(int(m["q"])) if bdf is None or m["bdf"].lower() == bdf else None
    if m := re.fullmatch(r"mlx4-comp-" + _Q + r"@pci:(?P<bdf>\S+)", name):
        return QueueRef(int(m["q"])) if bdf is None or m["bdf"].lower() == bdf else None
    if m := re.fullmatch(r"mana_q" + _Q + r"@pci:(?P<bdf>\S+)", name):
        return QueueRef(int(m["q"])) if bdf is None or m["bdf"].lower() == bdf else None
    if "@pci:" in name or (bdf and name.startswith(("i40e-" + bdf, "ice-" + bdf, "iavf-" + bdf))):
        return None  # misc, fdir, ctrl, async, mgmnt, hwc vectors
    if driver == "tg3":
        return _tg3(name, ifn)
    ref = _generic(name, ifn, _GENERIC + ((r"-", "rxtx"),))
    if ref is None and single_netdev and not name.startswith("irdma"):
        # the interface was renamed after the driver requested its IRQs
        ref = _generic(name, r"[^\s:@]+", _GENERIC)
    return ref


# vmxnet3, nfp and otx2 say "rxtx"; qede and bnx2x name fastpaths "fp"
_GENERIC = ((r"-TxRx-", "rxtx"), (r"-Tx-Rx-", "rxtx"), (r"-txrx-", "rxtx"), (r"-rxtx-", "rxtx"),
            (r"-fp-", "rxtx"), (r"-rx-", "rx"), (r"-tx-", "tx"))


def _generic(name: str, ifn: str, patterns: tuple[tuple[str, str], ...]) -> QueueRef | None:
    for pattern, direction in patterns:
        if m := re.fullmatch(ifn + pattern + _Q, name):
            return QueueRef(int(m["q"]), direction)
    return None


def _tg3(name: str, ifn: str) -> QueueRef | None:
    # tg3_request_irq(): vector 0 carries the link and, without TSS, tx ring 0;
    # rx rings live on vectors 1..n, so the vector number is one past the queue.
    if m := re.fullmatch(ifn + r"-(?P<kind>txrx|rx|tx)-" + _Q, name):
        vec = int(m["q"])
        kind = m["kind"]
        if kind == "tx":
            return QueueRef(0 if vec == 0 else vec - 1, "tx")
        if vec == 0:
            return None
        return QueueRef(vec - 1, "rx" if kind == "rx" else "rxtx")
    return None

"""Readers for ``/sys/class/net/DEV`` and its ``queues/{rx,tx}-N`` attributes.

Samples: ``sys/class/net/eth0 -> ../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0``;
``queues/rx-0/rps_cpus`` holds ``00000000,00000000``; ``rps_flow_cnt``
holds ``0``; ``queues/tx-3/xps_cpus`` holds ``00000008``.
A virtual device (veth, bridge, bond, vlan, tun) lives under
``devices/virtual/net`` and has no ``device`` link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..snapshot import RxQueue, TxQueue
from .pci import BDF
from .procirq import read_cpuset
from .root import Root

CLASS_NET = "sys/class/net"
RPS_SOCK_FLOW = "proc/sys/net/core/rps_sock_flow_entries"


@dataclass(frozen=True)
class NetDevice:
    name: str
    path: str                # resolved, root-relative
    virtual: bool
    devtype: str | None      # uevent DEVTYPE: bridge, bond, vlan, wlan ...
    driver: str | None       # the driver bound to the netdev's parent device
    pci_path: str | None     # the PCI function behind it, resolved
    bus_device: str | None   # an intermediate device such as virtio2
    pci_slot: str | None     # PCI_SLOT_NAME from device/uevent, for copies that lost their symlinks
    operstate: str | None
    ifindex: int | None
    rx: tuple[RxQueue, ...]
    tx: tuple[TxQueue, ...]


def read_net_devices(root: Root) -> list[NetDevice]:
    out = []
    for name in root.listdir(CLASS_NET):
        path = root.resolve(f"{CLASS_NET}/{name}")
        if path is None:
            root.note(f"{CLASS_NET}/{name}", "link does not resolve inside the root")
            continue
        if not root.isdir(path):
            continue  # bonding_masters is a file here
        out.append(read_net_device(root, name, path))
    return out


def read_net_device(root: Root, name: str, path: str) -> NetDevice:
    device = root.resolve(f"{path}/device") if root.exists(f"{path}/device") else None
    virtual = device is None or path.startswith("sys/devices/virtual/")
    pci_path = bus_device = None
    if not virtual:
        pci_path, bus_device = _pci_ancestor(root, path)
    uevent = root.read(f"{path}/uevent") or ""
    devtype = _uevent(uevent, "DEVTYPE")
    pci_slot = None
    driver = root.link_name(f"{path}/device/driver") if device else None
    if not virtual and pci_path is None:
        # a capture made by a tool that followed symlinks has real directories
        # where the kernel has links; the device's uevent still names its slot
        dev_uevent = root.read(f"{path}/device/uevent") or ""
        pci_slot = _uevent(dev_uevent, "PCI_SLOT_NAME")
        driver = driver or _uevent(dev_uevent, "DRIVER")
    return NetDevice(
        name=name,
        path=path,
        virtual=virtual,
        devtype=devtype,
        driver=driver,
        pci_path=pci_path,
        bus_device=bus_device,
        pci_slot=pci_slot.lower() if pci_slot else None,
        operstate=root.read_line(f"{path}/operstate"),
        ifindex=root.read_int(f"{path}/ifindex"),
        rx=tuple(_rx(root, f"{path}/queues/rx-{i}", i) for i in _queue_indexes(root, path, "rx")),
        tx=tuple(_tx(root, f"{path}/queues/tx-{i}", i) for i in _queue_indexes(root, path, "tx")),
    )


def _uevent(text: str, key: str) -> str | None:
    return next((line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")), None)


def _pci_ancestor(root: Root, path: str) -> tuple[str | None, str | None]:
    """The nearest ancestor of ``.../net/DEV`` that is a PCI function.

    virtio puts a bus device between them (``0000:00:03.0/virtio2/net/eth0``);
    it is returned too, because virtio names its IRQs after it.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[-2] != "net":
        return None, None
    parents = parts[:-2]
    bus_device = None
    while parents:
        candidate = "/".join(parents)
        last = parents[-1]
        if BDF.match(last) and (root.exists(f"{candidate}/msi_irqs") or root.exists(f"{candidate}/numa_node")
                                or root.exists(f"{candidate}/class")):
            return candidate, bus_device
        if bus_device is None:
            bus_device = last
        parents.pop()
    return None, None


def _queue_indexes(root: Root, path: str, kind: str) -> list[int]:
    return sorted(int(m.group(1)) for e in root.listdir(f"{path}/queues")
                  if (m := re.fullmatch(kind + r"-([0-9]+)", e)))


def _rx(root: Root, base: str, index: int) -> RxQueue:
    cpus, digits = read_cpuset(root, f"{base}/rps_cpus")
    return RxQueue(index, cpus, digits, root.read_int(f"{base}/rps_flow_cnt"))


def _tx(root: Root, base: str, index: int) -> TxQueue:
    cpus, digits = read_cpuset(root, f"{base}/xps_cpus")
    rxqs, _ = read_cpuset(root, f"{base}/xps_rxqs")
    return TxQueue(index, cpus, digits, rxqs)

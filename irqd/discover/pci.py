"""Reader for ``/sys/bus/pci/devices/BDF/*``: PCI functions and their MSI vectors.

Samples: ``class`` holds ``0x020000``; ``numa_node`` holds ``1`` (``-1``
when the firmware does not say); ``local_cpulist`` holds ``20-39,60-79``;
``msi_irqs/143`` is a file holding ``msix`` on current kernels and a
directory holding ``mode`` on old ones.
"""

from __future__ import annotations

import re

from ..snapshot import PciFunction
from .procirq import read_cpuset
from .root import Root

PCI_DEVICES = "sys/bus/pci/devices"
BDF = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")

def read_pci_function(root: Root, path: str) -> PciFunction:
    """One function, by its resolved path under sys/devices."""
    bdf = path.rsplit("/", 1)[-1].lower()
    local, _ = read_cpuset(root, f"{path}/local_cpus", f"{path}/local_cpulist")
    return PciFunction(
        bdf=bdf,
        path=path,
        pci_class=root.read_int(f"{path}/class"),
        vendor=root.read_int(f"{path}/vendor"),
        device=root.read_int(f"{path}/device"),
        driver=root.link_name(f"{path}/driver"),
        numa_node=root.read_int(f"{path}/numa_node"),
        local_cpus=local,
        legacy_irq=root.read_int(f"{path}/irq") or None,
        msi_irqs=_msi_irqs(root, f"{path}/msi_irqs"),
    )


def _msi_irqs(root: Root, rel: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for entry in root.listdir(rel):
        if not (entry.isascii() and entry.isdigit()):
            continue
        if root.isdir(f"{rel}/{entry}"):
            mode = root.read_line(f"{rel}/{entry}/mode")  # kernels before 4.x
        else:
            mode = root.read_line(f"{rel}/{entry}")
        out[int(entry)] = mode or ""
    return out


def read_pci_functions(root: Root) -> dict[str, PciFunction]:
    out: dict[str, PciFunction] = {}
    for entry in root.listdir(PCI_DEVICES):
        if not BDF.match(entry):
            continue
        path = root.resolve(f"{PCI_DEVICES}/{entry}")
        if path is None:
            root.note(f"{PCI_DEVICES}/{entry}", "link does not resolve inside the root")
            continue
        out[entry.lower()] = read_pci_function(root, path)
    return out

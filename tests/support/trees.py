"""The benchmark machines (256 and 1,024 CPUs), their IRQ count, and where benches write them."""

from __future__ import annotations

import contextlib
import os
import tempfile

from tests.support.drivers import DRIVERS
from tests.support.spec import MachineSpec, NicSpec, NvmeSpec


class _Buses:
    """PCI addresses near a node: each node owns a 32-bus range, one PCI domain per socket."""

    def __init__(self, nodes_per_domain: int):
        self.per_domain = nodes_per_domain
        self.used: dict[int, int] = {}

    def next(self, node: int) -> tuple[int, int]:
        dom, local = divmod(node, self.per_domain)
        j = self.used.get(node, 0)
        self.used[node] = j + 1
        if j >= 15:
            raise ValueError(f"too many devices on node {node}")
        return dom, (0x20 * local + 1 + 2 * j) % 0x100


def large_specs() -> list[MachineSpec]:
    """Two large machines: 256 CPUs / 8 nodes / ~1,000 IRQs and 1,024 CPUs / 16 nodes / ~4,000 IRQs."""
    out = []
    for (sockets, nps, cores, l3, seed, nics, nvme_nodes) in (
        # 2 sockets x 4 nodes (NPS4-like) x 16 cores x 2 threads
        (2, 4, 16, 2, 256,
         [("mlx5_core", 64, 2, (0,)), ("ice", 64, 2, (2,)), ("i40e", 48, 2, (6,)),
          ("bnxt_en", 32, 1, (3, 7)), ("ixgbe", 32, 1, (5,)), ("igb", 8, 1, (4,))],
         (1, 4, 5, 7)),
        # 4 sockets x 4 nodes x 32 cores x 2 threads
        (4, 4, 32, 4, 1024,
         [("mlx5_core", 128, 2, (0, 5, 10, 15)), ("ice", 96, 2, (2, 7, 8, 13)),
          ("bnxt_en", 64, 1, (3, 6, 9, 12)), ("i40e", 64, 1, (1, 4, 11, 14)), ("ixgbe", 63, 1, (0, 8))],
         tuple((i * 5 + 1) % 16 for i in range(12))),
    ):
        buses = _Buses(nps)
        nic_specs = []
        for driver, queues, ports, nodes in nics:
            for node in nodes:
                dom, bus = buses.next(node)
                for port in range(ports):
                    name = f"ens{bus:x}f{port}" + (f"d{dom}" if dom else "")
                    nic_specs.append(NicSpec(name, driver, f"{dom:04x}:{bus:02x}:00.{port}", node, queues))
        nvme_specs = []
        for i, node in enumerate(nvme_nodes):
            dom, bus = buses.next(node)
            nvme_specs.append(NvmeSpec(f"nvme{i}", f"{dom:04x}:{bus:02x}:00.0", node))
        out.append(MachineSpec(sockets=sockets, nodes_per_socket=nps, cores_per_node=cores, threads_per_core=2,
                               l3_per_node=l3, nics=tuple(nic_specs), nvme=tuple(nvme_specs), seed=seed))
    return out


def spec_irq_count(spec: MachineSpec) -> int:
    """How many IRQs write_machine will create for ``spec`` (without writing it)."""
    n = len(spec.platform) + (spec.sockets if spec.dmar else 0)
    for nic in spec.nics:
        extra = DRIVERS[nic.driver].extra if nic.extra is None else nic.extra
        per = 2 if nic.driver in ("gve", "virtio_net") else 1
        n += per * nic.queues + extra
    for nv in spec.nvme:
        nio = nv.io_queues if nv.io_queues is not None else min(spec.cpus, 128)
        n += 1 + max(1, min(nio, spec.cpus))
    return n


@contextlib.contextmanager
def trees_dir(path: str | None = None):
    """Where benches write generated trees: ``path`` kept as given, else a temp dir removed after.

    tmpfs when there is one: /proc and /sys are in-memory too, and writing is ten times faster.
    """
    if path is not None:
        yield path
        return
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="irqd-bench-", dir=shm) as tmp:
        yield tmp

"""The typed, immutable picture of a machine that discovery builds and the planner reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cpumask import CpuSet
from .netdev import RxQueue, TxQueue
from .pci import PciFunction
from .procstat import CpuTime
from .rootfs import Problem
from .topology import CpuTopo, NumaNode

# IRQ classes
NET_QUEUE = "net-queue"
NET_OTHER = "net-other"
STORAGE = "storage"
OTHER_DEVICE = "other-device"
PLATFORM = "platform"

# NIC kinds
MULTIQUEUE = "multiqueue"
SINGLE_QUEUE = "single-queue"
VIRTUAL = "virtual"
UNMAPPED = "unmapped"


@dataclass(frozen=True)
class QueueRef:
    """Which queue(s) of a NIC one IRQ serves."""

    queue: int
    direction: str = "rxtx"  # "rxtx" | "rx" | "tx"
    extra: tuple[int, ...] = ()  # further queues sharing the vector (ice TxRx-0-1)


@dataclass(frozen=True)
class Irq:
    irq: int
    actions: tuple[str, ...]
    chip: str
    hwirq: int | None
    trigger: str | None
    counts: tuple[tuple[int, int], ...]
    affinity: CpuSet | None
    effective: CpuSet | None
    hint: CpuSet | None
    node: int | None
    mask_digits: int | None
    device: str | None          # PCI BDF
    cls: str
    movable: bool
    managed: str | None = None  # "confirmed" (a write failed with EIO/EPERM) | "likely" (heuristic)
    managed_reason: str | None = None
    nic: str | None = None
    queue: QueueRef | None = None
    total: int = 0              # interrupts since boot, summed over online CPUs

    @property
    def name(self) -> str:
        return ",".join(self.actions)


@dataclass(frozen=True)
class Nic:
    name: str
    driver: str | None
    pci: str | None
    numa_node: int | None
    local_cpus: CpuSet | None
    kind: str
    virtual: bool
    devtype: str | None
    operstate: str | None
    rx: tuple[RxQueue, ...]
    tx: tuple[TxQueue, ...]
    queue_irqs: tuple[tuple[int, QueueRef], ...]
    other_irqs: tuple[int, ...]
    mapping_note: str | None = None


@dataclass(frozen=True)
class Isolation:
    """CPUs to keep free of IRQs, and which source named each."""

    cpus: CpuSet
    sources: dict[str, CpuSet]
    isolcpus_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    root: str
    kernel: str | None
    online: CpuSet
    possible: CpuSet
    present: CpuSet
    cpu_digits: int                 # hex digits of a full CPU mask on this machine
    topology: dict[int, CpuTopo]
    cpu_node: dict[int, int]
    nodes: dict[int, NumaNode]
    isolation: Isolation
    housekeeping: CpuSet
    default_affinity: CpuSet | None
    irqs: dict[int, Irq]
    other_rows: dict[str, tuple[tuple[int, int], ...]]
    pci: dict[str, PciFunction]
    nics: tuple[Nic, ...]
    rps_sock_flow_entries: int | None
    cpu_time: dict[int, CpuTime] | None
    net_softirqs: dict[str, dict[int, int]] | None
    uptime: float | None
    problems: tuple[Problem, ...] = field(default=())

    def nic(self, name: str) -> Nic | None:
        return next((n for n in self.nics if n.name == name), None)

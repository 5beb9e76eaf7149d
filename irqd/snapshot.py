"""The typed, immutable picture of a machine that discovery builds and the planner reads.

Every type discovery hands upward lives here, so the planner, the writer and
the command line depend on these types and never on a reader.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field

from .cpuset import CpuSet

# PCI base classes (the top byte of ``class``)
CLASS_STORAGE = 0x01
CLASS_NETWORK = 0x02


class CpuCounts:
    """One row's per-CPU counts from /proc/interrupts, as (cpu, count) pairs in column order.

    Stored sparse: the CPU columns (one tuple shared by every row) and only
    the non-zero counts. At 1,024 CPUs x 4,000 IRQs the dense pairs were
    4 M tuples (400 MiB, and most of a one-shot's CPU in allocation and the
    cyclic GC); an IRQ pinned to one CPU has one non-zero count.
    Iterating, indexing, ``len`` and ``==`` behave as the dense tuple.
    """

    __slots__ = ("cpus", "nonzero")

    def __init__(self, cpus: tuple[int, ...], nonzero: tuple[tuple[int, int], ...] = ()):
        self.cpus = cpus             # the columns: online CPUs, in header order
        self.nonzero = nonzero       # (cpu, count) for each count > 0, in column order

    @classmethod
    def dense(cls, pairs) -> CpuCounts:
        pairs = tuple(pairs)
        return cls(tuple(c for c, _ in pairs), tuple(p for p in pairs if p[1]))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        got = dict(self.nonzero)
        return ((c, got.get(c, 0)) for c in self.cpus)

    def __len__(self) -> int:
        return len(self.cpus)

    def __getitem__(self, index: int) -> tuple[int, int]:
        cpu = self.cpus[index]
        return cpu, dict(self.nonzero).get(cpu, 0)

    def values(self) -> tuple[int, ...]:
        """The counts alone, in column order."""
        got = dict(self.nonzero)
        return tuple(got.get(c, 0) for c in self.cpus) if got else (0,) * len(self.cpus)

    def on(self, cpus: Container[int]) -> int:
        """Interrupts counted on ``cpus``."""
        return sum(n for c, n in self.nonzero if c in cpus)

    def total(self) -> int:
        return sum(n for _, n in self.nonzero)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CpuCounts):
            return self.cpus == other.cpus and self.nonzero == other.nonzero
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))     # as the equal dense tuple's

    def __repr__(self) -> str:
        return f"CpuCounts({self.cpus!r}, {self.nonzero!r})"


@dataclass(frozen=True)
class Problem:
    """Something discovery could not read or understand, named by its path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class CpuTopo:
    cpu: int
    package: int | None
    die: int | None
    core: int | None
    siblings: CpuSet          # SMT threads of this core, itself included
    l2: CpuSet | None         # CPUs sharing this CPU's L2
    llc: CpuSet | None        # CPUs sharing its last-level cache
    llc_level: int | None


@dataclass(frozen=True)
class NumaNode:
    node: int
    cpus: CpuSet
    distances: dict[int, int]


@dataclass(frozen=True)
class CpuTime:
    irq: int       # USER_HZ ticks spent in hard IRQ
    softirq: int   # USER_HZ ticks spent in softirq
    total: int


@dataclass(frozen=True)
class PciFunction:
    bdf: str
    path: str                 # root-relative, links resolved
    pci_class: int | None
    vendor: int | None
    device: int | None
    driver: str | None
    numa_node: int | None     # None when absent; -1 kept as the kernel's "unknown"
    local_cpus: CpuSet | None
    legacy_irq: int | None    # the ``irq`` attribute (INTx, or the first MSI on old kernels)
    msi_irqs: dict[int, str]  # irq -> "msi" | "msix" | "" when unknown

    @property
    def base_class(self) -> int | None:
        return None if self.pci_class is None else self.pci_class >> 16


@dataclass(frozen=True)
class RxQueue:
    index: int
    rps_cpus: CpuSet | None
    rps_digits: int | None
    rps_flow_cnt: int | None


@dataclass(frozen=True)
class TxQueue:
    index: int
    xps_cpus: CpuSet | None
    xps_digits: int | None
    xps_rxqs: CpuSet | None   # a set of rx queue numbers, printed as a mask


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
    counts: CpuCounts
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
    other_rows: dict[str, CpuCounts]
    pci: dict[str, PciFunction]
    nics: tuple[Nic, ...]
    rps_sock_flow_entries: int | None
    cpu_time: dict[int, CpuTime] | None
    net_softirqs: dict[str, dict[int, int]] | None
    uptime: float | None
    problems: tuple[Problem, ...] = field(default=())
    live: bool = False              # read from the running machine (root /), not a captured tree
    foreign_netns: bool = False     # read inside a network namespace other than PID 1's
    bans: dict[str, CpuSet] = field(default_factory=dict)   # CPUs others banned, by source (discover/bans.py)

    def nic(self, name: str) -> Nic | None:
        return next((n for n in self.nics if n.name == name), None)

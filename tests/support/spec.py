"""What a generated machine is made of (``MachineSpec`` and its devices), and what was written for it.

A ``MachineSpec`` describes sockets, NUMA nodes, cores, SMT threads, L3
domains, offline CPUs, the kernel command line (isolation), multiqueue NICs,
NVMe drives and IO-APIC platform IRQs. ``write_machine`` (``machine.py``)
turns it into a root tree and returns a ``MachineInfo`` saying which IRQ
serves which queue, so a test can compare discovery against it.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------
# specs


@dataclass(frozen=True)
class NicSpec:
    """One PCI network function and its netdev.

    ``queues`` is the number of channels (queue vectors). gve and virtio_net
    give each channel two vectors (one tx, one rx); the others one vector
    serving rx and tx of that channel. ``extra`` is the number of non-queue
    vectors (None: what the driver requests). ``rx``/``tx`` are the netdev's
    queue counts (None: ``queues``).
    """

    ifname: str
    driver: str
    bdf: str | None = None        # None: assigned by write_machine
    node: int = 0                 # -1: the firmware does not say
    queues: int = 4
    extra: int | None = None
    rx: int | None = None
    tx: int | None = None

    @property
    def rx_queues(self) -> int:
        return self.queues if self.rx is None else self.rx

    @property
    def tx_queues(self) -> int:
        return self.queues if self.tx is None else self.tx


@dataclass(frozen=True)
class NvmeSpec:
    name: str                     # nvme0
    bdf: str | None = None
    node: int = 0
    io_queues: int | None = None  # None: one per possible CPU, at most 128


@dataclass(frozen=True)
class PlatformIrq:
    irq: int
    hwirq: int
    handler: str                  # edge | fasteoi
    name: str
    chip: str = "IO-APIC"         # "IR-" is prefixed when the machine remaps interrupts
    rate: float = 0.05            # interrupts per second


DEFAULT_PLATFORM = (
    PlatformIrq(0, 2, "edge", "timer", rate=0.0001),
    PlatformIrq(1, 1, "edge", "i8042", rate=0.001),
    PlatformIrq(8, 8, "edge", "rtc0", rate=0.0),
    PlatformIrq(9, 9, "fasteoi", "acpi", rate=0.02),
    PlatformIrq(12, 12, "edge", "i8042", rate=0.0),
    PlatformIrq(16, 16, "fasteoi", "i801_smbus", rate=0.01),
)

DEFAULT_CMDLINE = "BOOT_IMAGE=/boot/vmlinuz-6.8.0-45-generic root=UUID=3b9f1c2e ro quiet splash"


@dataclass(frozen=True)
class MachineSpec:
    sockets: int = 1
    nodes_per_socket: int = 1
    cores_per_node: int = 4
    threads_per_core: int = 1
    l3_per_node: int = 1
    offline: tuple[int, ...] = ()
    cmdline: str = DEFAULT_CMDLINE
    nics: tuple[NicSpec, ...] = ()
    nvme: tuple[NvmeSpec, ...] = ()
    platform: tuple[PlatformIrq, ...] = DEFAULT_PLATFORM
    dmar: bool = True             # one DMAR-MSI IRQ per socket (Intel VT-d)
    remap: bool = True            # interrupt remapping: IR-IO-APIC, IR-PCI-MSIX-...
    seed: int = 0
    kernel: str = "6.8.0-45-generic"
    uptime: float | None = None   # None: drawn from the seed

    @property
    def nodes(self) -> int:
        return self.sockets * self.nodes_per_socket

    @property
    def cores(self) -> int:
        return self.nodes * self.cores_per_node

    @property
    def cpus(self) -> int:
        return self.cores * self.threads_per_core


# ---------------------------------------------------------------------------
# what was written


@dataclass
class NicInfo:
    spec: NicSpec
    bdf: str
    queue_irqs: dict[int, tuple[int, str]]   # irq -> (queue, "rxtx" | "rx" | "tx")
    other_irqs: tuple[int, ...]
    bus_device: str | None = None            # virtioN


@dataclass
class NvmeInfo:
    spec: NvmeSpec
    bdf: str
    admin_irq: int
    io_irqs: tuple[int, ...]
    masks: dict[int, frozenset[int]]         # managed spread mask of each I/O vector


@dataclass
class MachineInfo:
    spec: MachineSpec
    possible: frozenset[int]
    online: frozenset[int]
    node_cpus: dict[int, frozenset[int]]     # every CPU of the node, offline ones included
    siblings: dict[int, frozenset[int]]
    llc: dict[int, frozenset[int]]
    core_of: dict[int, tuple[int, int]]      # cpu -> (package, core_id)
    isolated: frozenset[int]                 # sysfs isolated
    nohz_full: frozenset[int]
    isolcpus: frozenset[int]                 # isolcpus= on the command line, any flags
    irqaffinity: frozenset[int] | None
    nics: dict[str, NicInfo]
    nvme: dict[str, NvmeInfo]
    platform_irqs: tuple[int, ...]
    rates: dict[int, float]                  # interrupts per second, as drawn
    nr_irqs: int

    @property
    def irqs(self) -> list[int]:
        return sorted(self.rates)

"""Which CPUs each IRQ, queue and steering map may use: the one copy of these rules.

The planner asks these questions to decide, the audit asks the same ones to
judge, and the quality benchmarks ask them to measure, so a rule changed
here changes all three together:

- which CPUs are eligible at all, and which source excluded the others;
- what counts as a core, an SMT sibling, a last-level cache;
- where a device's IRQs and maps may go (its node, its local CPUs, the
  nearest node when its own has none, the [[device]] limits);
- which vectors of a NIC the planner places one per core ("slots");
- which IRQs are someone's choice to judge (movable, not managed, no rule).

Pure: it reads the snapshot and the config, nothing else.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import snapshot as S
from ..cpuset import CpuSet, format_list

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ..config import Config, DeviceSettings

# Which config switch governs each isolation source discovery reports.
_SOURCE_SWITCH = {"sysfs:isolated": "sysfs_isolated", "sysfs:nohz_full": "nohz_full",
                  "cmdline:nohz_full": "nohz_full", "cmdline:irqaffinity": "irqaffinity",
                  "proc:default_smp_affinity": "default_smp_affinity"}
# ... and each ban source, by the prefix of its name
_PREFIX_SWITCH = (("cmdline:isolcpus", "isolcpus"), ("irqbalance:", "irqbalance_banned"),
                  ("banned.d:", "banned_d"))

Core = tuple  # (package, die, core) or ("cpu", n) when the topology is unknown

# A device policy that means "irqd does not place this device at all".
HANDS_OFF = ("manual", "ignore")

# An IRQ firing less than this often (interrupts per second, on average)
# barely fires: its load drives no placement, and the kernel may not have
# moved it yet since its affinity last changed (it moves at the next one).
IDLE_RATE = 1.0

# Loads are compared in steps of a quarter octave (about 19%), so counts
# that grow by a few percent between two runs do not reorder anything.
_STEPS_PER_OCTAVE = 4


def placement_weight(rate: float) -> float:
    """What an IRQ's rate weighs when placing: 0 when it barely fires, else the rate on a coarse scale."""
    if rate < IDLE_RATE:
        return 0.0
    return 2.0 ** (round(math.log2(rate) * _STEPS_PER_OCTAVE) / _STEPS_PER_OCTAVE)


def _switch_for(source: str) -> str:
    for prefix, switch in _PREFIX_SWITCH:
        if source.startswith(prefix):
            return switch
    return _SOURCE_SWITCH.get(source, source)


@dataclass(frozen=True)
class Where:
    """Candidate CPUs for one device, and how they were chosen."""
    cpus: CpuSet              # eligible CPUs its IRQs and maps may use
    node: int | None          # the node they belong to, when one
    region: CpuSet            # CPUs that count as local: its node or local CPUs, plus a fallback node
    known: bool = True        # False: the device's NUMA node is unknown
    near: CpuSet = frozenset()  # its own node's (or local) online CPUs, eligible or not
    note: str | None = None   # why the choice is not the obvious one

    def label(self) -> str:
        return f"node {self.node}" if self.node is not None else f"CPUs {format_list(self.cpus)}"


class Candidates:
    def __init__(self, snap: S.Snapshot, config: Config):
        self.snap = snap
        self.cfg = config
        self.excluded: dict[str, CpuSet] = {}
        for source, cpus in sorted([*snap.isolation.sources.items(), *snap.bans.items()]):
            if getattr(config.isolation, _switch_for(source), True) and cpus & snap.online:
                self.excluded[source] = frozenset(cpus) & snap.online
        banned = config.banned() & snap.online
        if banned:
            self.excluded["config:banned_cpus"] = banned
        self.excluded_cpus: CpuSet = frozenset().union(*self.excluded.values())
        self.eligible: CpuSet = snap.online - self.excluded_cpus
        self.nodes: dict[int, CpuSet] = {n: node.cpus & snap.online for n, node in snap.nodes.items()} \
            or {0: snap.online}
        self.node_of = {c: n for n, cpus in self.nodes.items() for c in cpus}
        self.core_of: dict[int, Core] = {c: self.core(c) for c in snap.online}
        first: dict[Core, int] = {}
        for cpu in sorted(snap.online):
            first.setdefault(self.core_of[cpu], cpu)
        self.core_order: dict[Core, int] = {core: i for i, (core, _) in
                                            enumerate(sorted(first.items(), key=lambda kv: kv[1]))}
        self._settings: dict[str, DeviceSettings] = {}
        self._where: dict[str, Where | None] = {}

    # -- topology ---------------------------------------------------------

    def core(self, cpu: int) -> Core:
        t = self.snap.topology.get(cpu)
        if t is None or t.core is None:
            return ("cpu", cpu)
        return (t.package if t.package is not None else -1, t.die if t.die is not None else -1, t.core)

    def core_cpus(self, core: Core) -> CpuSet:
        return frozenset(c for c in self.snap.online if self.core_of[c] == core)

    def siblings(self, cpu: int) -> CpuSet:
        t = self.snap.topology.get(cpu)
        return t.siblings if t else frozenset({cpu})

    def sibling_excluded(self, cpu: int) -> bool:
        """Does an SMT sibling of ``cpu`` belong to an excluded (isolated, banned) CPU?

        Siblings share the core's execution units: IRQ work on one is felt
        by the workload on the other, so such a thread is used last.
        """
        return bool((self.siblings(cpu) - {cpu}) & self.excluded_cpus)

    def first_choice(self, cpus: CpuSet) -> CpuSet:
        """The CPUs a queue takes before any beside an excluded sibling (those are used last)."""
        return frozenset(c for c in cpus if not self.sibling_excluded(c))

    def llc(self, cpu: int) -> CpuSet | None:
        t = self.snap.topology.get(cpu)
        return t.llc if t and t.llc else None

    @staticmethod
    def core_label(core: Core) -> str:
        if core[0] == "cpu":
            return f"CPU {core[1]}"
        return (f"package {core[0]} " if core[0] >= 0 else "") + f"core {core[2]}"

    # -- rules --------------------------------------------------------------

    def settings(self, nic: S.Nic) -> DeviceSettings:
        if nic.name not in self._settings:
            self._settings[nic.name] = self.cfg.device_settings(nic.name, nic.driver, nic.pci)
        return self._settings[nic.name]

    def allowed(self, settings: DeviceSettings | None) -> CpuSet:
        """Eligible CPUs, narrowed by a [[device]] section's cpus and exclude_cpus."""
        cpus = self.eligible
        if settings is not None and settings.cpus is not None:
            cpus &= settings.cpus
        if settings is not None and settings.exclude_cpus is not None:
            cpus -= settings.exclude_cpus
        return cpus

    def judged_irq(self, i: S.Irq) -> bool:
        """IRQs whose placement is someone's choice: movable, not managed, not set by an [[irq]] rule."""
        return i.movable and not i.managed and self.cfg.irq_rule(i.irq, i.name) is None

    # -- where a device's IRQs may go ---------------------------------------

    def where(self, numa_node: int | None, local_cpus: CpuSet | None, settings: DeviceSettings | None,
              what: str) -> Where | None:
        """Candidate CPUs for a device: its node's eligible CPUs, narrowed by config.

        None when nothing is left (every CPU near it excluded and numa = 'strict').
        """
        online = self.snap.online
        allowed = self.allowed(settings)
        numa = settings.numa if settings is not None else self.cfg.numa
        node = numa_node if numa_node is not None and numa_node >= 0 and numa_node in self.nodes else None
        if node is not None:
            base, label = self.nodes[node], f"node {node}"
        elif local_cpus and (local_cpus & online) != online:
            base, label = local_cpus & online, f"local CPUs {format_list(local_cpus)}"
            nodes = {self.node_of.get(c) for c in base} - {None}
            node = min(nodes) if len(nodes) == 1 else None  # type: ignore[type-var]
        else:
            if not allowed:
                return None
            return Where(allowed, None, online, known=False, near=online,
                         note=f"{what}: NUMA node unknown (numa_node -1 and local_cpus cover every CPU); "
                              "placed on all eligible CPUs")
        cpus = base & allowed
        if cpus:
            return Where(cpus, node, base, near=base)
        if numa == "strict":
            return None
        for other in self.nearest(node):
            cpus = self.nodes[other] & allowed
            if cpus:
                return Where(cpus, other, base | self.nodes[other], near=base,
                             note=f"{what}: {label} has no eligible CPU; using the nearest node {other}")
        return None

    def nearest(self, node: int | None) -> list[int]:
        dist = self.snap.nodes[node].distances if node is not None and node in self.snap.nodes else {}
        return sorted((n for n in self.nodes if n != node), key=lambda n: (dist.get(n, 1 << 30), n))

    def nic_where(self, nic: S.Nic) -> Where | None:
        """Where a NIC's IRQs and maps may go; None when it is hands-off or nothing is left."""
        if nic.name not in self._where:
            settings = self.settings(nic)
            if settings.policy in HANDS_OFF:
                where = None
            elif nic.virtual:
                cpus = self.allowed(settings)
                where = Where(cpus, None, cpus, near=cpus) if cpus else None
            else:
                where = self.where(nic.numa_node, nic.local_cpus, settings, nic.name)
            self._where[nic.name] = where
        return self._where[nic.name]

    def device_where(self, fn: S.PciFunction | None, what: str) -> Where | None:
        """Where a storage or other device IRQ may go: its function's node, the global settings."""
        return self.where(fn.numa_node if fn else None, fn.local_cpus if fn else None, None, what)

    def xps_senders(self, nic: S.Nic, where: Where) -> CpuSet:
        """The CPUs that should each send through exactly one of a NIC's tx queues.

        A physical NIC: every eligible CPU of every node, since a CPU in no
        map hashes its flows over all queues; a virtual one: where it may go.
        """
        return where.cpus if nic.virtual else self.eligible

    def move_targets(self, cpu: int) -> CpuSet:
        """CPUs a load move may take an IRQ on ``cpu`` to: eligible CPUs of the same node."""
        node = self.snap.cpu_node.get(cpu)
        return frozenset(c for c in self.eligible if node is None or self.snap.cpu_node.get(c) == node)

    # -- queue slots ------------------------------------------------------------

    @staticmethod
    def queue_slots(nic: S.Nic) -> dict[int, list[int]]:
        """Queue index -> the IRQs of that queue, placed together as one unit.

        A NIC whose naming is unknown has its vectors placed like queues,
        one slot each, since which serves which queue cannot be told.
        """
        slots: dict[int, list[int]] = defaultdict(list)
        if nic.kind == S.UNMAPPED:
            for n, irq in enumerate(nic.other_irqs):
                slots[n].append(irq)
        for irq, ref in nic.queue_irqs:
            slots[ref.queue].append(irq)
        return dict(slots)

    @staticmethod
    def rx_irq_queues(nic: S.Nic) -> set[int]:
        """The rx queues served by an IRQ of their own."""
        return {ref.queue for _, ref in nic.queue_irqs if ref.direction in ("rx", "rxtx")}

    def rps_wanted(self, nic: S.Nic, where: Where) -> tuple[bool | None, str]:
        """RPS on (True), off (False) or left alone (None) for a NIC, and why.

        scaling.rst: RPS pays where a NIC has fewer rx queue IRQs than CPUs
        (cores) to spread over; where queues already cover the cores it is
        redundant.
        """
        mode = self.settings(nic).rps
        if nic.virtual:
            on = mode == "on" or (mode == "auto" and self.cfg.rps_virtual)
            if not on and mode != "off":
                return None, ""
            return on, ("virtual device: RPS over every eligible CPU" if on else "rps = 'off'")
        if nic.kind == S.UNMAPPED and mode == "auto":
            return None, ""
        cores = {self.core_of[c] for c in where.cpus}
        rxq = self.rx_irq_queues(nic)
        if mode == "on":
            return True, "rps = 'on'"
        if mode == "off":
            return False, "rps = 'off'"
        if len(rxq) < len(cores):
            return True, (f"{len(rxq)} rx queue IRQ(s) for {len(cores)} eligible cores of "
                          f"{where.label()}: RPS spreads the rest")
        return False, (f"{len(rxq)} rx queue IRQs already cover the {len(cores)} eligible cores "
                       f"of {where.label()} (scaling.rst: RPS probably redundant)")


def enospc_order(snap: S.Snapshot, eligible: CpuSet, cpu: int) -> tuple[int, ...]:
    """Next best CPUs when ``cpu``'s vector space is full: same node first, then the rest, eligible only.

    Computed only when the kernel answers ENOSPC, which is rare.
    """
    node = snap.cpu_node.get(cpu)
    same_node = sorted(c for c in eligible if c != cpu and snap.cpu_node.get(c) == node)
    rest = sorted(c for c in eligible if c != cpu and snap.cpu_node.get(c) != node)
    return tuple(same_node + rest)

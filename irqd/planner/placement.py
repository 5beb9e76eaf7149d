"""Placing IRQs onto CPUs: queue vectors one per core, device IRQs by load, platform IRQs kept.

Pure: the snapshot, the config, the load and the pins in; ``IrqPlan`` entries
out, each with its reason. The candidate CPUs come from ``candidates``; this
module only decides among them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import snapshot as S
from ..cpuset import CpuSet, format_list
from ..plan import IrqPlan
from .candidates import HANDS_OFF, Candidates, Core, Where

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ..config import Config


@dataclass
class _State:
    queue_per_cpu: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    queue_per_core: dict[Core, int] = field(default_factory=lambda: defaultdict(int))
    nic_per_core: dict[str, dict[Core, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    nic_per_cpu: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    other_per_cpu: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    load_per_cpu: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    load_per_core: dict[Core, float] = field(default_factory=lambda: defaultdict(float))


class Placement:
    """One pass over every IRQ; ``slot_cpu`` tells steering where each queue landed."""

    def __init__(self, snap: S.Snapshot, config: Config, cands: Candidates, load: dict[int, float],
                 pinned: dict[int, int]):
        self.snap = snap
        self.cfg = config
        self.cands = cands
        self.pinned = pinned
        self.load = load
        self.mean_load = sum(load.values()) / len(load) if load else 0.0
        self.notes: list[str] = []
        self.eligible = cands.eligible
        self.core_of = cands.core_of
        self.core_idx = {c: cands.core_order.get(cands.core_of[c], c) for c in snap.online}
        self.state = _State()
        self.irq_plans: dict[int, IrqPlan] = {}
        self.slot_cpu: dict[tuple[str, int], int] = {}

    def run(self) -> None:
        if not self.eligible:
            self.notes.append("no eligible CPU: every online CPU is isolated or banned; nothing is placed")
            for irq in self.snap.irqs:
                self.set_irq(irq, None, "no eligible CPU")
            return
        self._fixed()
        self._queues()
        self._net_other()
        self._devices()
        self._platform()

    def place_slot(self, cpus: CpuSet, policy: str, nic: str) -> int:
        """One queue: the emptiest core first, then a core this NIC is not on yet, then its emptiest thread.

        The global count comes first, so no core takes a second queue while
        another core of the node has none; the NIC's own count next, so NICs
        that share a node each spread over all of its cores; SMT siblings
        only after every core has a queue; measured load breaks ties.
        """
        st = self.state
        core_of, order = self.core_of, self.core_idx
        per_core, per_cpu, load = st.queue_per_core, st.queue_per_cpu, st.load_per_cpu
        mine, mine_cpu = st.nic_per_core[nic], st.nic_per_cpu[nic]
        if policy == "pack":
            return min(cpus, key=lambda c: (per_cpu[c], order[c], c))
        core_load = st.load_per_core
        return min(cpus, key=lambda c: (per_core[core_of[c]], mine[core_of[c]], per_cpu[c], mine_cpu[c],
                                        core_load[core_of[c]], load[c], order[c], c))

    def take_slot(self, cpu: int, irqs: list[int], nic: str) -> None:
        core = self.core_of[cpu]
        self.state.queue_per_cpu[cpu] += 1
        self.state.queue_per_core[core] += 1
        self.state.nic_per_core[nic][core] += 1
        self.state.nic_per_cpu[nic][cpu] += 1
        self.add_load(cpu, sum(self.load.get(irq, 0.0) for irq in irqs))

    def add_load(self, cpu: int, load: float) -> None:
        self.state.load_per_cpu[cpu] += load
        self.state.load_per_core[self.core_of.get(cpu, ("cpu", cpu))] += load

    def least_loaded(self, cpus: CpuSet) -> int:
        # every IRQ weighs at least the mean IRQ load, so idle IRQs spread by
        # count instead of piling onto the one CPU whose queue is quietest
        st = self.state
        floor = self.mean_load
        return min(cpus, key=lambda c: (st.load_per_cpu[c] + floor * (st.other_per_cpu[c] + st.queue_per_cpu[c]),
                                        st.other_per_cpu[c] + st.queue_per_cpu[c], c))

    def take_other(self, cpu: int, irq: int) -> None:
        self.state.other_per_cpu[cpu] += 1
        self.add_load(cpu, self.load.get(irq, 0.0))

    def set_irq(self, irq: int, after: CpuSet | None, reason: str, managed: bool = False) -> None:
        i = self.snap.irqs[irq]
        node = self.cands.node_of.get(min(after)) if after else None
        self.irq_plans[irq] = IrqPlan(irq=irq, name=i.name, cls=i.cls, nic=i.nic,
                                      queue=i.queue.queue if i.queue else None, node=node,
                                      before=i.affinity, after=after, reason=reason, managed=managed)

    def _fixed(self) -> None:
        """IRQs irqd must not or need not move: per-CPU, unused, managed, configured by hand."""
        for irq, i in sorted(self.snap.irqs.items()):
            rule = self.cfg.irq_rule(irq, i.name)
            if rule is not None and rule.policy in ("manual", "ignore"):
                self.set_irq(irq, None, f"config: [[irq]] policy = {rule.policy!r}")
            elif not i.movable:
                self.set_irq(irq, None, "per-CPU or unused interrupt; it cannot be moved")
            elif i.managed:
                extra = ""
                if i.effective and not i.effective <= self.eligible:
                    extra = f"; note: the kernel runs it on excluded CPU(s) {format_list(i.effective - self.eligible)}"
                self.set_irq(irq, None, f"kernel-managed ({i.managed}): {i.managed_reason}{extra}", managed=True)
                self._stays(i)
            elif i.affinity is None:
                self.set_irq(irq, None, "its affinity could not be read")
            elif rule is not None and rule.cpus:
                want = rule.cpu_set or frozenset()
                cpus = want & self.eligible
                if cpus:
                    self.set_irq(irq, cpus, f"config: [[irq]] cpus = {rule.cpus!r}"
                                 + (f" (less excluded {format_list(want - cpus)})" if want - cpus else ""))
                else:
                    self.set_irq(irq, None, f"config: [[irq]] cpus = {rule.cpus!r} are all excluded; left alone")
                for c in cpus:
                    self.take_other(c, irq)

    def _stays(self, i: S.Irq) -> None:
        """An IRQ left where it is still loads the CPUs it runs on."""
        cpus = (i.effective or i.affinity or frozenset()) & self.snap.online
        for c in cpus:
            self.add_load(c, self.load.get(i.irq, 0.0) / len(cpus))

    def _queues(self) -> None:
        """Queue vectors of every NIC, interleaved across the NICs of a node."""
        lanes: list[tuple[str, list[tuple[int, list[int]]], Where, str]] = []
        for nic in self.snap.nics:
            if nic.virtual:
                continue
            policy = self.cands.settings(nic).policy
            where = self.cands.nic_where(nic)
            if where is not None and where.note:
                self.notes.append(where.note)
            pending = []
            for q, irqs in sorted(self.cands.queue_slots(nic).items()):
                todo = [i for i in irqs if i not in self.irq_plans]
                if policy in HANDS_OFF:
                    for irq in todo:
                        self.set_irq(irq, None, f"config: device policy = {policy!r}")
                elif where is None:
                    for irq in todo:
                        self.set_irq(irq, None, f"{nic.name}: no eligible CPU on its node (numa = 'strict')")
                elif todo:
                    pending.append((q, todo))
            if pending and where is not None:
                lanes.append((nic.name, pending, where, policy))
        # round-robin: queue 0 of every NIC, then queue 1 ... so NICs sharing a node interleave
        lanes.sort(key=lambda lane: (lane[2].node if lane[2].node is not None else -1, lane[0]))
        depth = max((len(lane[1]) for lane in lanes), default=0)
        order = [(name, pending[k], where, policy) for k in range(depth)
                 for name, pending, where, policy in lanes if k < len(pending)]
        # with measured load, heaviest queue first (longest-processing-time),
        # each onto the least-loaded of the emptiest cores; without load the
        # round-robin order above stands (the sort is stable)
        order.sort(key=lambda slot: -sum(self.load.get(i, 0.0) for i in slot[1][1]))
        for name, (q, irqs), where, policy in order:
            lane_nic = self.snap.nic(name)
            assert lane_nic is not None  # the lanes hold the snapshot's own NICs
            if policy == "node":
                for irq in irqs:
                    self.set_irq(irq, where.cpus, f"{name} queue {q}: policy 'node', all eligible CPUs of "
                                                  f"{where.label()}")
                continue
            hint = self.snap.irqs[irqs[0]].hint
            kept = {self.pinned.get(i) for i in irqs}
            keep = next(iter(kept)) if len(kept) == 1 else None
            if keep is not None and keep in where.cpus:
                cpu = keep
                why = f"{name} queue {q}: kept on CPU {cpu}"
            elif self.cfg.follow_affinity_hint and hint and hint <= where.cpus:
                cpu = min(hint)
                why = f"{name} queue {q}: driver's affinity_hint {format_list(hint)}"
            else:
                cpu = self.place_slot(where.cpus, policy, name)
                extra = ""
                if policy == "spread" and self.state.queue_per_cpu[cpu] > 0:
                    extra = " (stacked: more queues than eligible CPUs)"
                elif policy == "spread" and self.state.queue_per_core[self.core_of[cpu]] > 0:
                    extra = " (SMT sibling: every core already has a queue)"
                why = (f"{name} queue {q}: {'packed' if policy == 'pack' else 'spread'} over "
                       f"{where.label()}, core {self.cands.core_order.get(self.core_of[cpu], '?')}{extra}")
            self.take_slot(cpu, irqs, name)
            self.slot_cpu[(name, q)] = cpu
            for irq in irqs:
                self.set_irq(irq, frozenset({cpu}), why if lane_nic.kind != S.UNMAPPED else
                             f"{name}: queue mapping unknown; its vectors are spread like queues")

    def _keep_or_least_loaded(self, irq: int, cpus: CpuSet) -> tuple[int, bool]:
        """A pinned CPU (the daemon keeps what works) if it is still a candidate, else the least loaded."""
        cpu = self.pinned.get(irq)
        if cpu is not None and cpu in cpus:
            return cpu, True
        return self.least_loaded(cpus), False

    def _net_other(self) -> None:
        """Misc, control and async vectors: one housekeeping CPU on the NIC's node, not a queue."""
        for nic in self.snap.nics:
            if not nic.other_irqs:
                continue
            policy = self.cands.settings(nic).policy
            where = self.cands.nic_where(nic)
            for irq in nic.other_irqs:
                if irq in self.irq_plans:
                    continue
                if policy in HANDS_OFF:
                    self.set_irq(irq, None, f"config: device policy = {policy!r}")
                elif where is None:
                    self.set_irq(irq, None, f"{nic.name}: no eligible CPU on its node")
                else:
                    cpu, kept = self._keep_or_least_loaded(irq, where.cpus)
                    self.take_other(cpu, irq)
                    self.set_irq(irq, frozenset({cpu}), f"{nic.name} non-queue vector: " +
                                 (f"kept on CPU {cpu}" if kept else f"a housekeeping CPU of {where.label()}"))

    def _devices(self) -> None:
        """Storage and other device IRQs: on their device's node, heaviest first on the least-loaded CPU."""
        todo = [(i, i.device) for i in self.snap.irqs.values() if i.irq not in self.irq_plans and i.device is not None]
        todo.sort(key=lambda t: (-self.load.get(t[0].irq, 0.0), t[0].irq))
        for i, device in todo:
            where = self.cands.device_where(self.snap.pci.get(device), device)
            if where is None:
                self.set_irq(i.irq, None, f"{i.device}: no eligible CPU near it (numa = 'strict')")
                continue
            cpu, kept = self._keep_or_least_loaded(i.irq, where.cpus)
            self.take_other(cpu, i.irq)
            self.set_irq(i.irq, frozenset({cpu}), f"{i.cls} IRQ of {i.device}: " +
                         (f"kept on CPU {cpu}" if kept else f"least-loaded eligible CPU of {where.label()}"))

    def _platform(self) -> None:
        """Legacy and platform IRQs stay where they are unless that touches an excluded CPU."""
        for irq, i in sorted(self.snap.irqs.items()):
            if irq in self.irq_plans:
                continue
            assert i.affinity is not None  # _fixed left every IRQ without one alone
            if i.affinity <= self.eligible:
                self.set_irq(irq, i.affinity, "platform IRQ already on eligible CPUs")
            else:
                keep = i.affinity & self.eligible
                self.set_irq(irq, keep or self.eligible,
                             f"platform IRQ was allowed on excluded CPU(s) {format_list(i.affinity - self.eligible)}")


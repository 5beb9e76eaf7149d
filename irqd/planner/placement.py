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
from .candidates import HANDS_OFF, Candidates, Core, Where, placement_weight

# A CPU already carrying an IRQ keeps it unless its load is this many times
# what the IRQ would add to the least-loaded candidate: small gains never
# move anything (people turned irqbalance off because it kept moving IRQs).
KEEP_UNLESS_GAIN = 2.0

_Slot = tuple[str, tuple[int, list[int]], Where, str]   # (nic, (queue, irqs), where, policy)

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
        # what each IRQ weighs when placing: idle ones nothing, the rest on a
        # coarse scale, so the noise between two runs changes no decision
        self.load = {irq: placement_weight(rate) for irq, rate in load.items()}
        self.mean_load = sum(self.load.values()) / len(self.load) if self.load else 0.0
        self.notes: list[str] = []
        self.eligible = cands.eligible
        self.core_of = cands.core_of
        self.core_idx = {c: cands.core_order.get(cands.core_of[c], c) for c in snap.online}
        self.sib_excluded = {c: cands.sibling_excluded(c) for c in self.eligible}
        self.state = _State()
        self.irq_plans: dict[int, IrqPlan] = {}
        self.slot_cpu: dict[tuple[str, int], int] = {}

    def run(self) -> None:
        if not self.eligible:
            self.notes.append("no eligible CPU: every online CPU is isolated or banned; nothing is placed")
            for irq in self.snap.irqs:
                self.set_irq(irq, None, "no eligible CPU")
            return
        if self.snap.foreign_netns and not self.cfg.irqs_in_netns:
            self.notes.append("inside a network namespace other than the host's: /proc/irq belongs to the host, so "
                              "every IRQ is left alone and only this namespace's RPS/XPS maps are planned "
                              "(irqs_in_netns = true to place IRQs anyway)")
            for irq in self.snap.irqs:
                self.set_irq(irq, None, "network namespace: the host's IRQ, left alone")
            return
        self._fixed()
        self._queues()
        self._net_other()
        self._devices()
        self._platform()

    def place_slot(self, cpus: CpuSet, policy: str, nic: str) -> int:
        """One queue: the emptiest thread, physical cores first, beside an excluded sibling last.

        Balanced per eligible thread, so a core whose other thread is
        isolated never takes more than its share (queues beyond the core
        count land at ceil(queues / threads) per thread). Among equally
        loaded threads: one whose sibling is excluded last (the isolated
        workload would feel the IRQ work on its core), then the emptiest
        core (no core takes a second queue while another has none), then a
        core this NIC is not on yet (NICs sharing a node each spread over
        all of it), then measured load, then a stable order.
        """
        st = self.state
        core_of, order, sib = self.core_of, self.core_idx, self.sib_excluded
        per_core, per_cpu, load = st.queue_per_core, st.queue_per_cpu, st.load_per_cpu
        mine, mine_cpu = st.nic_per_core[nic], st.nic_per_cpu[nic]
        if policy == "pack":
            return min(cpus, key=lambda c: (per_cpu[c], order[c], c))
        core_load = st.load_per_core
        return min(cpus, key=lambda c: (per_cpu[c], sib.get(c, False), per_core[core_of[c]], mine[core_of[c]],
                                        mine_cpu[c], core_load[core_of[c]], load[c], order[c], c))

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

    def least_loaded(self, cpus: CpuSet, weight: float = 1.0) -> int:
        """The CPU for one more device IRQ.

        An IRQ that fires goes where the load is least; every IRQ weighs at
        least the mean, so quiet ones spread by count instead of piling onto
        the one CPU whose queue is quietest. An IRQ that barely fires
        (``weight`` 0) adds no load anywhere, so it goes where the fewest
        IRQs are: it must not pile onto the CPU that a busy managed vector
        left free.
        """
        st = self.state
        floor = self.mean_load
        if weight == 0.0:
            return min(cpus, key=lambda c: (st.other_per_cpu[c] + st.queue_per_cpu[c], st.load_per_cpu[c], c))
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
        # what already runs acceptably stays, and counts, before anything new is placed
        keep = self._acceptable_slots(order)
        for name, (q, irqs), _, _ in order:
            if (name, q) in keep:
                self.take_slot(keep[(name, q)][0], irqs, name)
        for name, (q, irqs), where, policy in order:
            lane_nic = self.snap.nic(name)
            assert lane_nic is not None  # the lanes hold the snapshot's own NICs
            if policy == "node":
                for irq in irqs:
                    self.set_irq(irq, where.cpus, f"{name} queue {q}: policy 'node', all eligible CPUs of "
                                                  f"{where.label()}")
                continue
            hint = self.snap.irqs[irqs[0]].hint
            if (name, q) in keep:
                cpu, why = keep[(name, q)]
                self.slot_cpu[(name, q)] = cpu
                for irq in irqs:
                    self.set_irq(irq, frozenset({cpu}), why)
                continue
            if self.cfg.follow_affinity_hint and hint and hint <= where.cpus:
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

    def _current_cpu(self, irqs: list[int]) -> int | None:
        """The one CPU all of these IRQs are pinned to now, if there is one."""
        cpus = {self.snap.irqs[i].affinity for i in irqs}
        if len(cpus) != 1:
            return None
        (affinity,) = cpus
        return next(iter(affinity)) if affinity is not None and len(affinity) == 1 else None

    def _acceptable_slots(self, order: list[_Slot]) -> dict[tuple[str, int], tuple[int, str]]:
        """Queues to leave where they are: (nic, queue) -> (CPU, reason).

        The daemon's pins stay as they are. Otherwise a queue already pinned
        to one candidate CPU stays when that keeps every rule of the spread:
        at most ceil(queues / threads) per thread (floor beside an excluded
        sibling), at most ceil(queues / cores) per core, so the plan moves
        only what is wrong and a second run moves nothing.
        """
        keep: dict[tuple[str, int], tuple[int, str]] = {}
        groups: dict[CpuSet, list[_Slot]] = defaultdict(list)
        for slot in order:
            name, (q, irqs), where, policy = slot
            pin = {self.pinned.get(i) for i in irqs}
            cpu = next(iter(pin)) if len(pin) == 1 else None
            if cpu is not None and cpu in where.cpus:
                keep[(name, q)] = (cpu, f"{name} queue {q}: kept on CPU {cpu}")
            elif policy == "spread":
                groups[where.cpus].append(slot)
        for cpus, slots in groups.items():
            units = len(slots)
            cores = {self.core_of[c] for c in cpus}
            thread_cap = -(-units // len(cpus))
            core_cap = -(-units // len(cores))
            per_cpu: dict[int, int] = defaultdict(int)
            per_core: dict[Core, int] = defaultdict(int)
            for name, (q, irqs), where, _ in sorted(slots, key=lambda slot: (slot[0], slot[1][0])):
                cpu = self._current_cpu(irqs)
                if cpu is None or cpu not in cpus:
                    continue
                cap = units // len(cpus) if self.sib_excluded.get(cpu) else thread_cap
                core = self.core_of[cpu]
                if per_cpu[cpu] < cap and per_core[core] < core_cap:
                    per_cpu[cpu] += 1
                    per_core[core] += 1
                    keep[(name, q)] = (cpu, f"{name} queue {q}: stays on CPU {cpu}, an eligible CPU of "
                                            f"{where.label()} within the spread")
        return keep

    def _keep_or_least_loaded(self, irq: int, cpus: CpuSet) -> tuple[int, bool]:
        """A pinned CPU (the daemon keeps what works) if it is still a candidate; then the CPU the IRQ
        is pinned to now, unless moving it would gain much; else the least loaded."""
        cpu = self.pinned.get(irq)
        if cpu is not None and cpu in cpus:
            return cpu, True
        weight = self.load.get(irq, 0.0)
        cpu = self._current_cpu([irq])
        if cpu is not None and cpu in cpus:
            st = self.state
            best = self.least_loaded(cpus, weight)
            if weight == 0.0 or st.load_per_cpu[cpu] <= KEEP_UNLESS_GAIN * (st.load_per_cpu[best] + weight):
                return cpu, True
        return self.least_loaded(cpus, weight), False

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


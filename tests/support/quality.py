"""How good a plan is: measures that do not trust the planner's own reasons.

Every function takes a ``Snapshot`` and the ``Plan`` made from it and
recomputes from the topology what the planner promises (README, "The default
plan"): queue IRQs on their NIC's NUMA node, never on an excluded CPU, one
core per queue before SMT siblings, RPS where queues are fewer than cores,
XPS maps that cover the node's CPUs once. ``load_balance`` compares the
plan's spread of measured load (counts / uptime) with a plain
longest-processing-time greedy under the same constraints.

Imported as ``tests.support.quality`` by ``bench/bench_plan.py`` and the tests.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from irqd import snapshot as S
from irqd.config import default_config
from irqd.plan import Plan
from irqd.planner import irq_load
from irqd.planner.candidates import Candidates

# -- where things may go: asked of the planner's own rules -------------------------
#
# The candidate CPUs are the rules under test's inputs, not its promises, so
# they come from ``irqd.planner.candidates`` (one copy of each rule); what is
# measured against them (spread, stacking, locality, balance) is recomputed
# here from the topology, and the balance against a plain greedy.

_CANDS: dict[int, tuple[S.Snapshot, Candidates]] = {}


def cands(snap: S.Snapshot) -> Candidates:
    """The default config's candidates for ``snap`` (every measure here is of a default plan)."""
    hit = _CANDS.get(id(snap))
    if hit is None or hit[0] is not snap:
        if len(_CANDS) > 64:
            _CANDS.clear()
        hit = _CANDS[id(snap)] = (snap, Candidates(snap, default_config()))
    return hit[1]


def core_of(snap: S.Snapshot, cpu: int) -> tuple:
    return cands(snap).core(cpu)


def node_cpus(snap: S.Snapshot, node: int) -> frozenset[int]:
    return cands(snap).nodes.get(node, frozenset())


def local_cpus(snap: S.Snapshot, nic: S.Nic) -> frozenset[int] | None:
    """The CPUs near the NIC (its node's, or its local_cpus), None when nothing says."""
    where = cands(snap).nic_where(nic)
    return where.near if where is not None and where.known else None


def nic_node(snap: S.Snapshot, nic: S.Nic) -> int | None:
    """The one node the NIC's near CPUs lie in, if they lie in one."""
    near = local_cpus(snap, nic)
    nodes = {cands(snap).node_of.get(c) for c in near or ()} - {None}
    return nodes.pop() if len(nodes) == 1 else None


def candidates(snap: S.Snapshot, plan: Plan, nic: S.Nic) -> frozenset[int]:
    """Where the NIC's queues may go: near and eligible, else the nearest node with an eligible CPU."""
    where = cands(snap).nic_where(nic)
    return where.cpus if where is not None else frozenset()


def physical_nics(snap: S.Snapshot) -> list[S.Nic]:
    return [n for n in snap.nics if not n.virtual and n.queue_irqs]


def queue_slots(snap: S.Snapshot, plan: Plan, nic: S.Nic) -> dict[int, frozenset[int]]:
    """queue -> the CPUs the plan gives its IRQ(s); queues left alone are missing."""
    after = {p.irq: p.after for p in plan.irqs}
    out: dict[int, set[int]] = defaultdict(set)
    for irq, ref in nic.queue_irqs:
        if after.get(irq) is not None:
            out[ref.queue] |= after[irq]
    return {q: frozenset(c) for q, c in out.items()}


# -- the measures ----------------------------------------------------------------

def off_eligible(plan: Plan) -> list[str]:
    """Every IRQ, RPS map and XPS map the plan puts on a CPU outside plan.eligible."""
    out = [f"irq {p.irq} ({p.name}) -> {sorted(p.after - plan.eligible)}"
           for p in plan.irqs if p.after is not None and not p.after <= plan.eligible]
    for q in plan.queues:
        if q.attr in ("rps_cpus", "xps_cpus") and isinstance(q.after, frozenset) and not q.after <= plan.eligible:
            out.append(f"{q.dev}/{q.queue}/{q.attr} -> {sorted(q.after - plan.eligible)}")
    return out


@dataclass
class Share:
    good: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        return None if self.total == 0 else self.good / self.total


def numa_local(snap: S.Snapshot, plan: Plan) -> Share:
    """Queue IRQs planned inside their NIC's near CPUs, counted where those include an eligible CPU."""
    out = Share()
    after = {p.irq: p.after for p in plan.irqs}
    for nic in physical_nics(snap):
        near = local_cpus(snap, nic)
        if near is None or not near & plan.eligible:
            continue
        for irq, ref in nic.queue_irqs:
            cpus = after.get(irq)
            if cpus is None:
                continue
            out.total += 1
            if cpus <= near:
                out.good += 1
            else:
                out.misses.append(f"{nic.name} queue {ref.queue} irq {irq} -> {sorted(cpus)} (near {sorted(near)})")
    return out


def spread(snap: S.Snapshot, plan: Plan) -> dict[str, float]:
    """Per multiqueue NIC: distinct cores its queues use / min(queues, eligible cores it may use)."""
    out = {}
    for nic in physical_nics(snap):
        slots = queue_slots(snap, plan, nic)
        if len(slots) < 2:
            continue
        cores_used = {core_of(snap, c) for cpus in slots.values() for c in cpus}
        cores_free = {core_of(snap, c) for c in candidates(snap, plan, nic)}
        want = min(len(slots), len(cores_free))
        if want:
            out[nic.name] = len(cores_used) / want
    return out


@dataclass
class Stacking:
    node: int
    nics: list[str]
    worst: int      # most queues of these NICs on one CPU
    ideal: int      # ceil(queues / eligible CPUs)


def stacking(snap: S.Snapshot, plan: Plan) -> list[Stacking]:
    """For NICs sharing a node: the most queues on one CPU vs the ideal ceil(queues / eligible CPUs)."""
    by_node: dict[int, list[S.Nic]] = defaultdict(list)
    for nic in physical_nics(snap):
        node = nic_node(snap, nic)
        if node is not None and local_cpus(snap, nic) & plan.eligible:
            by_node[node].append(nic)
    out = []
    for node, nics in sorted(by_node.items()):
        if len(nics) < 2:
            continue
        per_cpu: dict[int, int] = defaultdict(int)
        queues = 0
        for nic in nics:
            for cpus in queue_slots(snap, plan, nic).values():
                queues += 1
                for c in cpus:
                    per_cpu[c] += 1
        cpus = node_cpus(snap, node) & plan.eligible
        if queues and cpus:
            out.append(Stacking(node, [n.name for n in nics], max(per_cpu.values(), default=0),
                                math.ceil(queues / len(cpus))))
    return out


def smt_collisions(snap: S.Snapshot, plan: Plan) -> dict[str, int]:
    """Per NIC: queues on a sibling thread of a core that already has one of its queues,
    while some core it may use carries no queue IRQ at all."""
    busy_cores = set()
    slots_of = {}
    for nic in physical_nics(snap):
        slots_of[nic.name] = queue_slots(snap, plan, nic)
        for cpus in slots_of[nic.name].values():
            busy_cores |= {core_of(snap, c) for c in cpus}
    out = {}
    for nic in physical_nics(snap):
        cand = candidates(snap, plan, nic)
        free = {core_of(snap, c) for c in cand} - busy_cores
        on_core: dict[tuple, set[int]] = defaultdict(set)
        for cpus in slots_of[nic.name].values():
            if len(cpus) == 1:
                (cpu,) = cpus
                on_core[core_of(snap, cpu)].add(cpu)
        collisions = sum(len(cpus) - 1 for cpus in on_core.values() if len(cpus) > 1)
        if collisions and free:
            out[nic.name] = collisions
    return out


@dataclass
class Coverage:
    rps: dict[str, float]     # NIC -> share of rx queues with an RPS map, where RPS is planned on
    xps: dict[str, float]     # NIC -> share of its candidate CPUs in exactly one XPS map


def coverage(snap: S.Snapshot, plan: Plan) -> Coverage:
    rps: dict[str, list[bool]] = defaultdict(list)
    xps: dict[str, list[frozenset[int]]] = defaultdict(list)
    for q in plan.queues:
        if q.attr == "rps_cpus" and isinstance(q.after, frozenset):
            rps[q.dev].append(bool(q.after))
        if q.attr == "xps_cpus" and isinstance(q.after, frozenset):
            xps[q.dev].append(q.after)
    rps_out = {dev: sum(v) / len(v) for dev, v in rps.items() if any(v)}
    xps_out = {}
    for dev, maps in xps.items():
        nic = snap.nic(dev)
        if nic is None or nic.virtual or not any(maps):
            continue
        cand = candidates(snap, plan, nic)
        if not cand:
            continue
        count: dict[int, int] = defaultdict(int)
        for m in maps:
            for c in m:
                count[c] += 1
        xps_out[dev] = sum(1 for c in cand if count.get(c) == 1) / len(cand)
    return Coverage(rps_out, xps_out)


# -- load ---------------------------------------------------------------------------

def irq_rates(snap: S.Snapshot) -> dict[int, float]:
    """The planner's own per-IRQ load: counts over uptime."""
    return irq_load(snap, None)


def _spread_load(load: dict[int, float], cpus, rate: float) -> None:
    # the kernel delivers to one CPU of a multi-CPU mask; without knowing which, share it out
    cpus = list(cpus)
    for c in cpus:
        load[c] += rate / len(cpus)


def _fixed_cpus(irq: S.Irq) -> frozenset[int] | None:
    return irq.effective or irq.affinity or None


def plan_load(snap: S.Snapshot, plan: Plan) -> dict[int, float]:
    """CPU -> interrupts per second once the plan is applied (IRQs left alone stay where they run)."""
    rates = irq_rates(snap)
    load: dict[int, float] = defaultdict(float)
    planned = {p.irq: p.after for p in plan.irqs}
    for irq, i in snap.irqs.items():
        cpus = planned.get(irq) or _fixed_cpus(i)
        if cpus:
            _spread_load(load, cpus, rates[irq])
    return load


def _irq_candidates(snap: S.Snapshot, plan: Plan, irq: S.Irq, nic_cand: dict[str, frozenset[int]]) \
        -> frozenset[int]:
    if irq.nic and irq.nic in nic_cand:
        return nic_cand[irq.nic]
    fn = snap.pci.get(irq.device) if irq.device else None
    where = cands(snap).device_where(fn, irq.device or "") if fn is not None else None
    return where.cpus if where is not None else plan.eligible


def greedy_load(snap: S.Snapshot, plan: Plan) -> dict[int, float]:
    """Longest-processing-time first: heaviest IRQ to the least-loaded CPU it may use.

    Same constraints as the plan: only IRQs the plan moves are placed, each on
    eligible CPUs near its device; IRQs the plan leaves alone (managed,
    per-CPU, unreadable) stay where they run.
    """
    rates = irq_rates(snap)
    load: dict[int, float] = defaultdict(float)
    movable = []
    planned = {p.irq: p.after for p in plan.irqs}
    for irq, i in snap.irqs.items():
        after = planned.get(irq)
        if after is None:
            cpus = _fixed_cpus(i)
            if cpus:
                _spread_load(load, cpus, rates[irq])
        else:
            movable.append((irq, after))
    nic_cand = {nic.name: candidates(snap, plan, nic) for nic in physical_nics(snap)}
    for cpu in plan.eligible:
        load[cpu] += 0.0
    for irq, _after in sorted(movable, key=lambda m: (-rates[m[0]], m[0])):
        cand = _irq_candidates(snap, plan, snap.irqs[irq], nic_cand) or plan.eligible
        cpu = min(cand, key=lambda c: (load[c], c))
        load[cpu] += rates[irq]
    return load


def imbalance(load: dict[int, float], cpus) -> float | None:
    """max / mean CPU load over ``cpus``; None when nothing runs there."""
    values = [load.get(c, 0.0) for c in cpus]
    mean = sum(values) / len(values) if values else 0.0
    return None if mean <= 0 else max(values) / mean


@dataclass
class Balance:
    irqd: float | None
    greedy: float | None

    @property
    def within_10pct(self) -> bool | None:
        if self.irqd is None or self.greedy is None:
            return None
        return self.irqd <= 1.10 * self.greedy


def load_balance(snap: S.Snapshot, plan: Plan) -> Balance:
    return Balance(imbalance(plan_load(snap, plan), plan.eligible), imbalance(greedy_load(snap, plan), plan.eligible))


# -- all at once ------------------------------------------------------------------

@dataclass
class Quality:
    off_eligible: list[str]
    numa: Share
    spread: dict[str, float]
    stacking: list[Stacking]
    smt: dict[str, int]
    coverage: Coverage
    balance: Balance


def measure(snap: S.Snapshot, plan: Plan) -> Quality:
    return Quality(off_eligible(plan), numa_local(snap, plan), spread(snap, plan), stacking(snap, plan),
                   smt_collisions(snap, plan), coverage(snap, plan), load_balance(snap, plan))

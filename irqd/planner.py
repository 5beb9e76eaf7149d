"""``plan(snapshot, config, load=None) -> Plan``: where every IRQ, RPS and XPS map should go.

Pure: no I/O, no clock, no globals. The same snapshot, config and load give
the same plan, and every decision carries its reason. Kernel references:
``Documentation/networking/scaling.rst`` (RPS, RFS, XPS) and
``Documentation/core-api/irq/irq-affinity.rst``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from . import snapshot as S
from .cpumask import CpuSet, format_list, parse_list
from .plan import GlobalPlan, IrqPlan, Plan, QueuePlan

# Which config switch governs each isolation source discovery reports.
_SOURCE_SWITCH = {"sysfs:isolated": "sysfs_isolated", "sysfs:nohz_full": "nohz_full",
                  "cmdline:nohz_full": "nohz_full", "cmdline:irqaffinity": "irqaffinity"}


def _switch_for(source: str) -> str:
    return "isolcpus" if source.startswith("cmdline:isolcpus") else _SOURCE_SWITCH.get(source, source)


def pow2ceil(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def irq_load(snap: S.Snapshot, load: dict[int, float] | None) -> dict[int, float]:
    """Per-IRQ rate: measured when given, else counts over uptime, else raw counts."""
    if load is not None:
        return {i: float(load.get(i, 0.0)) for i in snap.irqs}
    up = snap.uptime if snap.uptime and snap.uptime > 0 else 1.0
    return {i: irq.total / up for i, irq in snap.irqs.items()}


@dataclass
class _Where:
    """Candidate CPUs for one device, and how they were chosen."""
    cpus: CpuSet
    node: int | None
    note: str | None = None


@dataclass
class _State:
    queue_per_cpu: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    queue_per_core: dict[tuple, int] = field(default_factory=lambda: defaultdict(int))
    nic_per_core: dict[str, dict[tuple, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    nic_per_cpu: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    other_per_cpu: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    load_per_cpu: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    load_per_core: dict[tuple, float] = field(default_factory=lambda: defaultdict(float))


class _Planner:
    def __init__(self, snap: S.Snapshot, config, load: dict[int, float] | None, pinned: dict[int, int] | None = None):
        self.snap = snap
        self.pinned = pinned or {}
        self.cfg = config
        self.load = irq_load(snap, load)
        self.mean_load = sum(self.load.values()) / len(self.load) if self.load else 0.0
        self.notes: list[str] = []
        self.excluded: dict[str, CpuSet] = {}
        for source, cpus in sorted(snap.isolation.sources.items()):
            if getattr(config.isolation, _switch_for(source), True):
                self.excluded[source] = frozenset(cpus) & snap.online
        banned = config.banned() & snap.online
        if banned:
            self.excluded["config:banned_cpus"] = banned
        self.eligible: CpuSet = snap.online - frozenset().union(*self.excluded.values()) if self.excluded else snap.online
        self.nodes: dict[int, CpuSet] = {n: node.cpus & snap.online for n, node in snap.nodes.items()} \
            or {0: snap.online}
        self.node_of = {c: n for n, cpus in self.nodes.items() for c in cpus}
        self.core_order = self._core_order()
        self.core_of = {c: self.core(c) for c in snap.online}
        self.core_idx = {c: self.core_order.get(self.core_of[c], c) for c in snap.online}
        self.state = _State()
        self.irq_plans: dict[int, IrqPlan] = {}
        self.slot_cpu: dict[tuple[str, int], int] = {}

    # -- topology -------------------------------------------------------

    def core(self, cpu: int) -> tuple:
        t = self.snap.topology.get(cpu)
        if t is None or t.core is None:
            return ("cpu", cpu)
        return (t.package if t.package is not None else -1, t.die if t.die is not None else -1, t.core)

    def _core_order(self) -> dict[tuple, int]:
        first: dict[tuple, int] = {}
        for cpu in sorted(self.snap.online):
            first.setdefault(self.core(cpu), cpu)
        return {core: i for i, (core, _) in enumerate(sorted(first.items(), key=lambda kv: kv[1]))}

    def siblings(self, cpu: int) -> CpuSet:
        t = self.snap.topology.get(cpu)
        return t.siblings if t else frozenset({cpu})

    def llc(self, cpu: int) -> CpuSet | None:
        t = self.snap.topology.get(cpu)
        return t.llc if t and t.llc else None

    def where(self, numa_node: int | None, local_cpus: CpuSet | None, rule, what: str) -> _Where | None:
        """Candidate CPUs for a device: its node's eligible CPUs, narrowed by config."""
        allowed = self._allowed(rule)
        numa = (rule.numa if rule is not None and rule.numa else None) or self.cfg.numa
        node = numa_node if numa_node is not None and numa_node >= 0 and numa_node in self.nodes else None
        if node is not None:
            base, label = self.nodes[node], f"node {node}"
        elif local_cpus and (local_cpus & self.snap.online) != self.snap.online:
            base, label = local_cpus & self.snap.online, f"local CPUs {format_list(local_cpus)}"
            nodes = {self.node_of.get(c) for c in base} - {None}
            node = min(nodes) if len(nodes) == 1 else None
        else:
            cpus = allowed
            if not cpus:
                return None
            return _Where(cpus, None, f"{what}: NUMA node unknown (numa_node -1 and local_cpus cover every CPU); "
                                      "placed on all eligible CPUs")
        cpus = base & allowed
        if cpus:
            return _Where(cpus, node)
        if numa == "strict":
            return None
        for other in self._nearest(node):
            cpus = self.nodes[other] & allowed
            if cpus:
                return _Where(cpus, other, f"{what}: {label} has no eligible CPU; using the nearest node {other}")
        return None

    def _nearest(self, node: int | None) -> list[int]:
        dist = self.snap.nodes[node].distances if node is not None and node in self.snap.nodes else {}
        return sorted((n for n in self.nodes if n != node), key=lambda n: (dist.get(n, 1 << 30), n))

    # -- placement ------------------------------------------------------

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

    def set_irq(self, irq: int, after: CpuSet | None, reason: str) -> None:
        i = self.snap.irqs[irq]
        node = self.node_of.get(min(after)) if after else None
        self.irq_plans[irq] = IrqPlan(irq=irq, name=i.name, cls=i.cls, nic=i.nic,
                                      queue=i.queue.queue if i.queue else None, node=node,
                                      before=i.affinity, after=after, reason=reason)

    # -- the passes -------------------------------------------------------

    def run(self) -> Plan:
        snap = self.snap
        if not self.eligible:
            self.notes.append("no eligible CPU: every online CPU is isolated or banned; nothing is placed")
            for irq in snap.irqs:
                self.set_irq(irq, None, "no eligible CPU")
            return self._plan([], [])
        self._fixed()
        nic_where = self._queues()
        self._net_other(nic_where)
        self._devices()
        self._platform()
        queues, globals_ = self._steering(nic_where)
        return self._plan(queues, globals_)

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
                self.set_irq(irq, None, f"kernel-managed ({i.managed}): {i.managed_reason}{extra}")
                self._stays(i)
            elif i.affinity is None:
                self.set_irq(irq, None, "its affinity could not be read")
            elif rule is not None and rule.cpus:
                want = parse_list(rule.cpus)
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

    def _device_rule(self, nic: S.Nic):
        return self.cfg.device_rule(nic.name, nic.driver, nic.pci)

    def _queues(self) -> dict[str, tuple[_Where | None, str]]:
        """Queue vectors of every NIC, interleaved across the NICs of a node."""
        nic_where: dict[str, tuple[_Where | None, str]] = {}
        lanes: list[tuple[str, list[tuple[int, list[int]]], _Where, str]] = []
        for nic in self.snap.nics:
            if nic.virtual:
                continue
            rule = self._device_rule(nic)
            policy = (rule.policy if rule is not None and rule.policy else None) or self.cfg.policy
            where = None if policy in ("manual", "ignore") else self.where(nic.numa_node, nic.local_cpus, rule, nic.name)
            nic_where[nic.name] = (where, policy)
            if where is not None and where.note:
                self.notes.append(where.note)
            slots: dict[int, list[int]] = defaultdict(list)
            if nic.kind == S.UNMAPPED:
                for n, irq in enumerate(nic.other_irqs):
                    slots[n].append(irq)
            for irq, ref in nic.queue_irqs:
                slots[ref.queue].append(irq)
            pending = []
            for q, irqs in sorted(slots.items()):
                todo = [i for i in irqs if i not in self.irq_plans]
                if policy in ("manual", "ignore"):
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
            nic = self.snap.nic(name)
            if policy == "node":
                for irq in irqs:
                    self.set_irq(irq, where.cpus, f"{name} queue {q}: policy 'node', all eligible CPUs of "
                                                  f"{self._label(where)}")
                continue
            hint = self.snap.irqs[irqs[0]].hint
            kept = {self.pinned.get(i) for i in irqs}
            if len(kept) == 1 and None not in kept and next(iter(kept)) in where.cpus:
                cpu = next(iter(kept))
                why = f"{name} queue {q}: kept on CPU {cpu}"
            elif self.cfg.follow_affinity_hint and hint and hint <= where.cpus:
                cpu = min(hint)
                why = f"{name} queue {q}: driver's affinity_hint {format_list(hint)}"
            else:
                cpu = self.place_slot(where.cpus, policy, name)
                extra = ""
                if policy == "spread" and self.state.queue_per_cpu[cpu] > 0:
                    extra = " (stacked: more queues than eligible CPUs)"
                elif policy == "spread" and self.state.queue_per_core[self.core(cpu)] > 0:
                    extra = " (SMT sibling: every core already has a queue)"
                why = (f"{name} queue {q}: {'packed' if policy == 'pack' else 'spread'} over "
                       f"{self._label(where)}, core {self.core_order.get(self.core(cpu), '?')}{extra}")
            self.take_slot(cpu, irqs, name)
            self.slot_cpu[(name, q)] = cpu
            for irq in irqs:
                self.set_irq(irq, frozenset({cpu}), why if nic.kind != S.UNMAPPED else
                             f"{name}: queue mapping unknown; its vectors are spread like queues")
        return nic_where

    def _keep_or_least_loaded(self, irq: int, cpus: CpuSet) -> tuple[int, bool]:
        """A pinned CPU (the daemon keeps what works) if it is still a candidate, else the least loaded."""
        cpu = self.pinned.get(irq)
        if cpu is not None and cpu in cpus:
            return cpu, True
        return self.least_loaded(cpus), False

    def _label(self, where: _Where) -> str:
        return f"node {where.node}" if where.node is not None else f"CPUs {format_list(where.cpus)}"

    def _net_other(self, nic_where) -> None:
        """Misc, control and async vectors: one housekeeping CPU on the NIC's node, not a queue."""
        for nic in self.snap.nics:
            where, policy = nic_where.get(nic.name, (None, "spread"))
            for irq in nic.other_irqs:
                if irq in self.irq_plans:
                    continue
                if policy in ("manual", "ignore"):
                    self.set_irq(irq, None, f"config: device policy = {policy!r}")
                elif where is None:
                    self.set_irq(irq, None, f"{nic.name}: no eligible CPU on its node")
                else:
                    cpu, kept = self._keep_or_least_loaded(irq, where.cpus)
                    self.take_other(cpu, irq)
                    self.set_irq(irq, frozenset({cpu}), f"{nic.name} non-queue vector: " +
                                 (f"kept on CPU {cpu}" if kept else f"a housekeeping CPU of {self._label(where)}"))

    def _devices(self) -> None:
        """Storage and other device IRQs: on their device's node, heaviest first on the least-loaded CPU."""
        todo = [i for i in self.snap.irqs.values() if i.irq not in self.irq_plans and i.device is not None]
        todo.sort(key=lambda i: (-self.load.get(i.irq, 0.0), i.irq))
        for i in todo:
            fn = self.snap.pci.get(i.device)
            where = self.where(fn.numa_node if fn else None, fn.local_cpus if fn else None, None, i.device)
            if where is None:
                self.set_irq(i.irq, None, f"{i.device}: no eligible CPU near it (numa = 'strict')")
                continue
            cpu, kept = self._keep_or_least_loaded(i.irq, where.cpus)
            self.take_other(cpu, i.irq)
            self.set_irq(i.irq, frozenset({cpu}), f"{i.cls} IRQ of {i.device}: " +
                         (f"kept on CPU {cpu}" if kept else f"least-loaded eligible CPU of {self._label(where)}"))

    def _platform(self) -> None:
        """Legacy and platform IRQs stay where they are unless that touches an excluded CPU."""
        for irq, i in sorted(self.snap.irqs.items()):
            if irq in self.irq_plans:
                continue
            if i.affinity <= self.eligible:
                self.set_irq(irq, i.affinity, "platform IRQ already on eligible CPUs")
            else:
                keep = i.affinity & self.eligible
                self.set_irq(irq, keep or self.eligible,
                             f"platform IRQ was allowed on excluded CPU(s) {format_list(i.affinity - self.eligible)}")

    # -- RPS, RFS, XPS ----------------------------------------------------

    def _steering(self, nic_where) -> tuple[list[QueuePlan], list[GlobalPlan]]:
        out: list[QueuePlan] = []
        entries = pow2ceil(self.cfg.rfs_entries) if self.cfg.rfs_entries > 0 else 0
        any_rps = False
        for nic in self.snap.nics:
            rule = self._device_rule(nic)
            policy = (rule.policy if rule is not None and rule.policy else None) or self.cfg.policy
            if policy in ("manual", "ignore"):
                continue
            rps_mode = (rule.rps if rule is not None and rule.rps else None) or self.cfg.rps
            xps_mode = (rule.xps if rule is not None and rule.xps else None) or self.cfg.xps
            if nic.name == "lo":
                continue  # loopback traffic never leaves the CPU that sent it
            if nic.virtual:
                where = _Where(self._allowed(rule), None)
                if not where.cpus:
                    continue
            else:
                where = nic_where.get(nic.name, (None, policy))[0]
                if where is None:
                    continue
            rps_on = self._rps(nic, rps_mode, where, out)
            any_rps = any_rps or bool(rps_on)
            if rps_on is not None:
                self._rfs(nic, rps_on, entries, out)
            self._xps(nic, xps_mode, where, out)
        globals_ = []
        before = self.snap.rps_sock_flow_entries
        if before is None:
            if any_rps and entries:
                self.notes.append("rps_sock_flow_entries is not readable here (network namespace, or a kernel "
                                  "without CONFIG_RPS): RFS flow tables are sized but the global table is not")
        elif not entries:
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, None, "rfs_entries = 0: RFS left as is"))
        elif any_rps:
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, entries,
                                       f"RPS is on for some device: RFS global table of {entries} entries"))
        elif before and not self._flow_tables_left(out):
            # every per-queue flow table is off after the plan: a global table
            # no queue uses would leave RFS half set up
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, 0,
                                       "no RPS planned and no rx queue keeps a flow table: RFS off"))
        else:
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, None, "no RPS planned; RFS left as is"))
        return out, globals_

    def _flow_tables_left(self, out: list[QueuePlan]) -> bool:
        """Does any rx queue, planned or left alone, keep an RFS flow table?"""
        planned = {(q.dev, q.queue): q.after for q in out if q.attr == "rps_flow_cnt" and q.after is not None}
        for nic in self.snap.nics:
            for q in nic.rx:
                count = planned.get((nic.name, f"rx-{q.index}"), q.rps_flow_cnt)
                if count:
                    return True
        return False

    def _allowed(self, rule) -> CpuSet:
        cpus = self.eligible
        if rule is not None and rule.cpus:
            cpus &= parse_list(rule.cpus)
        if rule is not None and rule.exclude_cpus:
            cpus -= parse_list(rule.exclude_cpus)
        return cpus

    def _rps(self, nic: S.Nic, mode: str, where: _Where, out: list[QueuePlan]) -> bool | None:
        """True/False: RPS planned on/off; None: RPS left alone."""
        if not nic.rx:
            return None
        if nic.virtual:
            on = mode == "on" or (mode == "auto" and self.cfg.rps_virtual)
            if not on and mode != "off":
                return None
            why = "virtual device: RPS over every eligible CPU" if on else "rps = 'off'"
            for q in nic.rx:
                self._queue(out, nic, f"rx-{q.index}", "rps_cpus", q.rps_cpus, where.cpus if on else frozenset(), why)
            return on
        if nic.kind == S.UNMAPPED and mode == "auto":
            return None
        cores = {self.core(c) for c in where.cpus}
        rx_irq_queues = {ref.queue for _, ref in nic.queue_irqs if ref.direction in ("rx", "rxtx")}
        if mode == "on":
            on, why = True, "rps = 'on'"
        elif mode == "off":
            on, why = False, "rps = 'off'"
        elif len(rx_irq_queues) < len(cores):
            on, why = True, (f"{len(rx_irq_queues)} rx queue IRQ(s) for {len(cores)} eligible cores of "
                             f"{self._label(where)}: RPS spreads the rest")
        else:
            on, why = False, (f"{len(rx_irq_queues)} rx queue IRQs already cover the {len(cores)} eligible cores "
                              f"of {self._label(where)} (scaling.rst: RPS probably redundant)")
        for q in nic.rx:
            if not on:
                self._queue(out, nic, f"rx-{q.index}", "rps_cpus", q.rps_cpus, frozenset(), why)
                continue
            cpu = self.slot_cpu.get((nic.name, q.index))
            cpus = where.cpus
            detail = f"{why}; rx-{q.index} over eligible CPUs of {self._label(where)}"
            if cpu is not None:
                shared = (self.llc(cpu) or frozenset()) & where.cpus
                if len(shared) >= 2:
                    cpus, detail = shared, f"{why}; rx-{q.index} over the CPUs sharing CPU {cpu}'s last-level cache"
            self._queue(out, nic, f"rx-{q.index}", "rps_cpus", q.rps_cpus, cpus, detail)
        return on

    def _rfs(self, nic: S.Nic, rps_on: bool, entries: int, out: list[QueuePlan]) -> None:
        if not entries:
            return
        per_queue = pow2ceil(max(1, entries // max(1, len(nic.rx)))) if rps_on else 0
        why = (f"RFS: {entries} entries / {len(nic.rx)} rx queue(s)" if rps_on else "RPS off: no RFS flow table")
        for q in nic.rx:
            self._queue(out, nic, f"rx-{q.index}", "rps_flow_cnt", q.rps_flow_cnt, per_queue, why)

    def _xps(self, nic: S.Nic, mode: str, where: _Where, out: list[QueuePlan]) -> None:
        if len(nic.tx) < 2 or mode == "auto" and (nic.virtual or nic.kind == S.UNMAPPED):
            return  # one tx queue needs no XPS (the kernel refuses the attribute)
        if mode == "off":
            for q in nic.tx:
                self._queue(out, nic, f"tx-{q.index}", "xps_cpus", q.xps_cpus, frozenset(), "xps = 'off'")
            return
        maps: dict[int, set[int]] = {q.index: set() for q in nic.tx}
        owner: dict[int, int] = {}
        if nic.virtual:
            for n, cpu in enumerate(sorted(where.cpus)):
                maps[sorted(maps)[n % len(maps)]].add(cpu)
            why = {q: "xps = 'on' for a virtual device: eligible CPUs dealt round-robin" for q in maps}
        else:
            why = {}
            for q in sorted(maps):
                cpu = self.slot_cpu.get((nic.name, q))
                if cpu is not None and cpu in where.cpus and cpu not in owner:
                    owner[cpu] = q
                    maps[q].add(cpu)
            anchored = {q: next(iter(c)) for q, c in maps.items() if c}
            for cpu in sorted(where.cpus - set(owner)):
                q = self._xps_queue(cpu, anchored, maps)
                if q is not None:
                    maps[q].add(cpu)
            for q in maps:
                cpu = self.slot_cpu.get((nic.name, q))
                if q in anchored:
                    why[q] = (f"tx-{q} sends from CPU {anchored[q]} (its IRQ) and the CPUs sharing its cache "
                              "that carry no queue")
                elif cpu is not None and cpu in owner:
                    why[q] = (f"tx-{q}: its IRQ's CPU {cpu} already sends through tx-{owner[cpu]} "
                              "(more queues than CPUs); no XPS map")
                else:
                    why[q] = f"tx-{q} has no IRQ of its own on this node; no XPS map"
        for q in nic.tx:
            self._queue(out, nic, f"tx-{q.index}", "xps_cpus", q.xps_cpus, frozenset(maps[q.index]), why[q.index])
            if self.cfg.xps_mode == "rxqs" and q.xps_rxqs is not None:
                rxq = frozenset({q.index}) if any(r.index == q.index for r in nic.rx) else frozenset()
                self._queue(out, nic, f"tx-{q.index}", "xps_rxqs", q.xps_rxqs, rxq,
                            f"xps_mode = 'rxqs': tx-{q.index} serves flows received on rx-{q.index}")

    def _xps_queue(self, cpu: int, anchored: dict[int, int], maps) -> int | None:
        """The tx queue for a CPU without one: a queue whose CPU shares its L2, then its LLC, then any."""
        if not anchored:
            return None
        for share in (self.siblings(cpu), self.llc(cpu) or frozenset()):
            near = [q for q, c in anchored.items() if c in share]
            if near:
                return min(near, key=lambda q: (len(maps[q]), q))
        return min(anchored, key=lambda q: (len(maps[q]), q))

    def _queue(self, out, nic: S.Nic, queue: str, attr: str, before, after, why: str) -> None:
        if before is None:
            out.append(QueuePlan(nic.name, queue, attr, None, None, f"{attr} not readable; left alone"))
        else:
            out.append(QueuePlan(nic.name, queue, attr, before, after, why))

    def _plan(self, queues, globals_) -> Plan:
        return Plan(eligible=self.eligible, excluded=dict(self.excluded),
                    irqs=tuple(self.irq_plans[i] for i in sorted(self.irq_plans)),
                    queues=tuple(queues), globals=tuple(globals_), notes=tuple(self.notes))


def plan(snapshot: S.Snapshot, config, load: dict[int, float] | None = None,
         pinned: dict[int, int] | None = None) -> Plan:
    """``pinned`` (irq -> CPU) keeps IRQs where they are when that CPU is still a
    candidate: the daemon re-plans around what already runs instead of
    reshuffling. RPS and XPS maps follow the placement either way."""
    return _Planner(snapshot, config, load, pinned).run()

"""``irqd audit``: score the placement a machine has now, without changing it.

``audit(snapshot, config, plan) -> Audit`` is pure: it judges the snapshot
against what the plan made from the same snapshot and config can achieve
(the same eligible CPUs, the same candidate CPUs per NIC, the same rules for
RPS and XPS), never against an ideal no placement could reach. More queues
than cores force stacking, so stacking is a finding only while a core the
queue may use carries no queue at all; a NIC whose queue mapping is unknown
is not judged on queues; a kernel-managed IRQ is counted only where the
kernel could have kept it off an isolated CPU and did not. Every finding
names the thing, what is wrong and what the plan would do with it.

The candidate CPUs, cores and rules come from ``candidates``, the very
object the planner decided with, so the audit cannot drift from the plan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .. import exits
from .. import snapshot as S
from ..cpuset import CpuSet, format_list
from ..plan import IrqPlan, Plan, QueuePlan
from .candidates import HANDS_OFF, IDLE_RATE, Candidates, Core, Where

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ..config import Config

CATEGORIES: dict[str, str] = {
    "numa": "NIC IRQs off their NIC's NUMA node",
    "isolation": "IRQs, RPS or XPS maps on isolated, nohz_full or banned CPUs",
    "stacking": "queues stacked on one core while cores they may use carry none",
    "smt": "one NIC's queues on SMT siblings while whole cores are free",
    "rps": "rx queues without RPS where the NIC has fewer queue IRQs than cores",
    "xps": "CPUs without an XPS map, or XPS disagreeing with the queue IRQ's CPU",
    "rfs": "RFS half set up (flow counts without the global table, or the reverse)",
    "effective": "IRQs whose affinity the kernel did not honour",
    "managed": "kernel-managed IRQs (counted only where the kernel could have avoided an isolated CPU)",
}


@dataclass(frozen=True)
class Finding:
    category: str
    subject: str      # the IRQ, queue or CPU
    problem: str      # what is wrong
    plan: str         # what the plan would do with it
    counted: bool = True   # False: informational, does not change the exit status


@dataclass
class Score:
    checked: int = 0          # things judged in this category
    unknown: list[str] = field(default_factory=list)   # what could not be judged, and why


@dataclass(frozen=True)
class Audit:
    root: str
    live: bool
    eligible: CpuSet
    excluded: dict[str, CpuSet]
    findings: tuple[Finding, ...]
    scores: dict[str, Score]
    cannot_know: tuple[str, ...]

    def counted(self, category: str | None = None) -> list[Finding]:
        return [f for f in self.findings if f.counted and (category is None or f.category == category)]

    def score(self, category: str) -> float | None:
        """Percent of the things checked that are right; None when nothing could be checked."""
        s = self.scores[category]
        if s.checked == 0:
            return None
        return max(0.0, 100.0 * (s.checked - len(self.counted(category))) / s.checked)

    @property
    def clean(self) -> bool:
        return not self.counted()

    @property
    def exit_code(self) -> int:
        return exits.OK if self.clean else exits.FINDINGS


def _v(cpus) -> str:
    return format_list(cpus) or "-"


# -- what the plan would do ------------------------------------------------------

def _irq_plan_text(p: IrqPlan | None) -> str:
    if p is None:
        return "not in the plan"
    if p.after is None:
        return f"left alone: {p.reason}"
    if p.changes:
        return f"moves it to CPU {_v(p.after)} ({p.reason})"
    return f"keeps it on CPU {_v(p.after)} ({p.reason})"


def _queue_plan_text(p: QueuePlan | None) -> str:
    if p is None:
        return "not in the plan (irqd leaves it alone)"
    label = f"{p.queue} {p.attr}"
    after = p.after if isinstance(p.after, int) or p.after is None else _v(p.after)
    if p.after is None:
        return f"{label} left alone: {p.reason}"
    if p.changes:
        return f"{label} -> {after} ({p.reason})"
    return f"{label} stays {after} ({p.reason})"


# -- the context every check shares ----------------------------------------------

class _Place(NamedTuple):
    """Where one queue runs: its core, and its CPU when that is one CPU."""
    core: Core
    cpu: int | None


class _Ctx:
    def __init__(self, snap: S.Snapshot, config: Config, plan: Plan, live: bool, stale: frozenset[int]):
        self.snap, self.cfg, self.plan, self.live, self.stale = snap, config, plan, live, stale
        self.cands = Candidates(snap, config)
        self.excluded: CpuSet = self.cands.excluded_cpus
        self.kernel_excluded: CpuSet = frozenset().union(
            *(c for s, c in self.cands.excluded.items() if not s.startswith("config:")))
        self.core = self.cands.core
        self.core_cpus = self.cands.core_cpus
        self.core_label = self.cands.core_label
        self.irq_plan = {p.irq: p for p in plan.irqs}
        self.queue_plan = {(q.dev, q.queue, q.attr): q for q in plan.queues}
        self.node_of = self.cands.node_of
        self.findings: list[Finding] = []
        self.scores = {name: Score() for name in CATEGORIES}
        self._slots: dict[str, dict[int, _Place | None]] | None = None
        self.pending: frozenset[int] = frozenset()

    def add(self, category: str, subject: str, problem: str, plan: str, counted: bool = True) -> None:
        self.findings.append(Finding(category, subject, problem, plan, counted))

    def unknown(self, category: str, text: str) -> None:
        self.scores[category].unknown.append(text)

    # where an IRQ runs
    def effective(self, i: S.Irq) -> CpuSet | None:
        """The effective affinity when it can be trusted: known, not empty, not stale."""
        if i.effective is None or not i.effective or i.irq in self.stale:
            return None
        return i.effective

    def runs_on(self, i: S.Irq) -> CpuSet | None:
        eff = self.effective(i)
        if i.affinity is None:
            return eff
        if eff is not None and eff <= i.affinity:
            return eff
        return (i.affinity & self.snap.online) or i.affinity

    def judged_irq(self, i: S.Irq) -> bool:
        return self.cands.judged_irq(i)

    def barely_fires(self, i: S.Irq) -> bool:
        """Fewer than IDLE_RATE interrupts a second since boot (no uptime known: never fired)."""
        up = self.snap.uptime
        return i.total == 0 if not up or up <= 0 else i.total / up < IDLE_RATE

    def nic(self, name: str) -> S.Nic:
        nic = self.snap.nic(name)
        assert nic is not None, name  # names come from the snapshot's own NICs
        return nic

    def policy(self, nic: S.Nic) -> str:
        return self.cands.settings(nic).policy

    def where(self, nic: S.Nic) -> Where | None:
        return self.cands.nic_where(nic)

    def slot_where(self, nic: S.Nic) -> Where:
        """Where a NIC of ``slot_nics`` may place queues (never None for those)."""
        where = self.cands.nic_where(nic)
        assert where is not None
        return where

    def irq_label(self, i: S.Irq) -> str:
        what = f"irq {i.irq} {i.name or '-'}"
        if i.nic and i.queue is not None:
            return f"{what} ({i.nic} queue {i.queue.queue})"
        if i.nic:
            return f"{what} ({i.nic})"
        return what

    def where_text(self, cpus: CpuSet) -> str:
        nodes = sorted({self.node_of[c] for c in cpus if c in self.node_of})
        return f"CPU {_v(cpus)}" + (f" (node {','.join(map(str, nodes))})" if nodes else "")

    # queue slots: what the planner places one per core
    def slot_nics(self) -> list[S.Nic]:
        return [n for n in self.snap.nics if not n.virtual and self.policy(n) in ("spread", "pack")
                and self.where(n) is not None]

    def slots(self, nic: S.Nic) -> dict[int, list[S.Irq]]:
        out = {q: [self.snap.irqs[i] for i in irqs] for q, irqs in self.cands.queue_slots(nic).items()}
        return {q: [i for i in irqs if self.judged_irq(i) and i.affinity is not None]
                for q, irqs in out.items() if any(self.judged_irq(i) and i.affinity is not None for i in irqs)}

    def slot_place(self, irqs: list[S.Irq]) -> _Place | None:
        """Where a queue runs: one CPU, or one core (CPU unknown), or None when unknown.

        A queue with separate rx and tx vectors (virtio, gve) is where its rx vector runs.
        """
        rx = [i for i in irqs if i.queue is None or i.queue.direction in ("rx", "rxtx")]
        irqs = rx or irqs
        cpus: set[int] = set()
        for i in irqs:
            run = self.runs_on(i)
            if run is None:
                return None
            cpus |= run
        if len(cpus) == 1:
            cpu = next(iter(cpus))
            return _Place(self.core(cpu), cpu)
        cores = {self.core(c) for c in cpus}
        if len(cores) == 1:
            return _Place(cores.pop(), None)
        return None

    def placed(self) -> dict[str, dict[int, _Place | None]]:
        if self._slots is None:
            self._slots = {nic.name: {q: self.slot_place(irqs) for q, irqs in self.slots(nic).items()}
                           for nic in self.slot_nics()}
        return self._slots


# -- the checks --------------------------------------------------------------------

def _numa(ctx: _Ctx) -> None:
    score = ctx.scores["numa"]
    for nic in ctx.snap.nics:
        if nic.virtual or ctx.policy(nic) in HANDS_OFF:
            continue
        irqs = [ctx.snap.irqs[i] for i, _ in nic.queue_irqs] + [ctx.snap.irqs[i] for i in nic.other_irqs]
        irqs = [i for i in irqs if ctx.judged_irq(i)]
        if not irqs:
            continue
        where = ctx.where(nic)
        if where is None:
            ctx.unknown("numa", f"{nic.name}: no eligible CPU near it (numa = 'strict'); not judged")
            continue
        if not where.known:
            ctx.unknown("numa", f"{nic.name}: NUMA node unknown (numa_node -1, local_cpus cover every CPU); "
                                f"{len(irqs)} IRQ(s) not judged")
            continue
        for i in sorted(irqs, key=lambda i: i.irq):
            run = ctx.runs_on(i)
            if run is None:
                ctx.unknown("numa", f"irq {i.irq}: affinity unreadable")
                continue
            score.checked += 1
            off = run - where.region
            if off:
                verb = "runs on" if ctx.effective(i) is not None and run == ctx.effective(i) else "is allowed on"
                ctx.add("numa", ctx.irq_label(i),
                        f"{verb} {ctx.where_text(off)}, off {nic.name}'s CPUs {_v(where.region)}",
                        _irq_plan_text(ctx.irq_plan.get(i.irq)))


def _isolation(ctx: _Ctx) -> None:
    score = ctx.scores["isolation"]
    plan = ctx.plan

    def sources(cpus: CpuSet) -> str:
        names = [s for s, c in sorted(plan.excluded.items()) if c & cpus]
        return ", ".join(names)

    for irq, i in sorted(ctx.snap.irqs.items()):
        if not i.movable or i.managed:
            continue   # per-CPU IRQs cannot move; managed ones are the "managed" category's
        if i.affinity is None:
            ctx.unknown("isolation", f"irq {irq}: affinity unreadable")
            continue
        score.checked += 1
        eff = ctx.effective(i) or frozenset()
        bad = (i.affinity | eff) & ctx.excluded
        if bad:
            where = "allowed on" if bad & i.affinity else "runs on"
            ctx.add("isolation", ctx.irq_label(i), f"{where} excluded CPU {_v(bad)} ({sources(bad)})",
                    _irq_plan_text(ctx.irq_plan.get(irq)))
    for nic in ctx.snap.nics:
        maps = [(f"rx-{q.index}", "rps_cpus", "RPS", q.rps_cpus) for q in nic.rx] + \
               [(f"tx-{q.index}", "xps_cpus", "XPS", q.xps_cpus) for q in nic.tx]
        for queue, attr, what, cpus in maps:
            if cpus is None:
                continue
            score.checked += 1
            bad = cpus & ctx.excluded
            if bad:
                ctx.add("isolation", f"{nic.name} {queue} {attr}",
                        f"{what} map {_v(cpus)} holds excluded CPU {_v(bad)} ({sources(bad)})",
                        _queue_plan_text(ctx.queue_plan.get((nic.name, queue, attr))))


def _occupancy(ctx: _Ctx):
    """core -> [(nic, queue, cpu or None)] for every placed queue; also how many queues float."""
    by_core: dict[tuple, list[tuple[str, int, int | None]]] = defaultdict(list)
    floating: dict[str, int] = defaultdict(int)
    for name, places in ctx.placed().items():
        for q, place in places.items():
            if place is None:
                floating[name] += 1
            else:
                by_core[place.core].append((name, q, place.cpu))
    return by_core, floating


def _queue_names(items, ctx: _Ctx) -> str:
    parts = []
    for name, q, cpu in sorted(items, key=lambda t: (t[0], t[1])):
        nic = ctx.nic(name)
        label = f"{name} queue {q}" if nic is None or nic.kind != S.UNMAPPED else f"{name} vector {q}"
        parts.append(label + (f" on CPU {cpu}" if cpu is not None else ""))
    return ", ".join(parts)


def _slot_plan(ctx: _Ctx, items) -> str:
    out = []
    for name, q, _ in sorted(items, key=lambda t: (t[0], t[1])):
        nic = ctx.nic(name)
        irqs = [i for i, ref in nic.queue_irqs if ref.queue == q] if nic.kind != S.UNMAPPED else \
            [nic.other_irqs[q]]
        p = ctx.irq_plan.get(irqs[0]) if irqs else None
        if p is not None and p.after is not None:
            out.append(f"{name} queue {q} -> CPU {_v(p.after)}")
        elif p is not None:
            out.append(f"{name} queue {q} left alone")
    return "; ".join(out) or "not in the plan"


def _stacking_and_smt(ctx: _Ctx) -> None:
    by_core, floating = _occupancy(ctx)
    occupied = set(by_core)
    busy_cpus = {cpu for items in by_core.values() for _, _, cpu in items if cpu is not None}
    for core, items in by_core.items():
        for _, _, cpu in items:
            if cpu is None:
                busy_cpus |= ctx.core_cpus(core)
    for name, n in sorted(floating.items()):
        ctx.unknown("stacking", f"{name}: {n} queue(s) allowed on several cores and no usable effective affinity; "
                                "where they run is not known")
    # stacking
    ctx.scores["stacking"].checked = len(by_core)
    for core, items in sorted(by_core.items(), key=lambda kv: str(kv[0])):
        if len(items) < 2:
            continue
        names = {n for n, _, _ in items}
        cpus = [c for _, _, c in items]
        if len(names) == 1 and None not in cpus and len(set(cpus)) == len(cpus):
            continue   # one NIC across sibling threads: the smt check's
        free: set[tuple] = set()
        free_cpus: set[int] = set()
        for name in names:
            nic = ctx.nic(name)
            where = ctx.slot_where(nic)
            if ctx.policy(nic) == "pack":
                stacked_cpu = None in cpus or len(set(cpus)) < len(cpus)
                if stacked_cpu:
                    free_cpus |= where.cpus - busy_cpus
            else:
                free |= {ctx.core(c) for c in ctx.cands.first_choice(where.cpus)} - occupied
        if not free and not free_cpus:
            continue
        idle = (f"cores {', '.join(sorted(_v(ctx.core_cpus(k) & ctx.plan.eligible) for k in free))} carry no queue"
                if free else f"CPUs {_v(free_cpus)} carry no queue")
        ctx.add("stacking", f"{ctx.core_label(core)} (CPU {_v(ctx.core_cpus(core))})",
                f"{len(items)} queues: {_queue_names(items, ctx)}; {idle}", _slot_plan(ctx, items))
    # smt
    pairs = 0
    for name, places in sorted(ctx.placed().items()):
        nic = ctx.nic(name)
        on_core: dict[tuple, list[tuple[str, int, int | None]]] = defaultdict(list)
        for q, place in places.items():
            if place is not None:
                on_core[place.core].append((name, q, place.cpu))
        pairs += len(on_core)
        if ctx.policy(nic) != "spread":
            continue
        free = {ctx.core(c) for c in ctx.cands.first_choice(ctx.slot_where(nic).cpus)} - occupied
        for core, items in sorted(on_core.items(), key=lambda kv: str(kv[0])):
            threads = {c for _, _, c in items if c is not None}
            if len(threads) >= 2 and free:
                ctx.add("smt", f"{name} on {ctx.core_label(core)}",
                        f"queues on sibling threads {_v(threads)} ({_queue_names(items, ctx)}) while "
                        f"{len(free)} core(s) it may use carry no queue "
                        f"(e.g. CPU {_v(ctx.core_cpus(min(free, key=str)) & ctx.plan.eligible)})",
                        _slot_plan(ctx, items))
    ctx.scores["smt"].checked = pairs


def _rps(ctx: _Ctx) -> None:
    score = ctx.scores["rps"]
    for nic in ctx.snap.nics:
        if nic.name == "lo" or not nic.rx or ctx.policy(nic) in HANDS_OFF:
            continue
        where = ctx.where(nic)
        if where is None:
            continue
        mode = ctx.cands.settings(nic).rps
        if not nic.virtual and nic.kind == S.UNMAPPED and mode == "auto":
            ctx.unknown("rps", f"{nic.name}: queue mapping unknown; RPS not judged")
            continue
        on, _ = ctx.cands.rps_wanted(nic, where)
        if not on:
            continue
        if nic.virtual:
            why = "RPS is asked for virtual devices"
        else:
            cores = {ctx.core(c) for c in where.cpus}
            why = ("rps = 'on'" if mode == "on" else
                   f"{nic.kind} NIC: {len(Candidates.rx_irq_queues(nic))} rx queue IRQ(s) for {len(cores)} "
                   "eligible core(s)")
        for q in nic.rx:
            if q.rps_cpus is None:
                ctx.unknown("rps", f"{nic.name} rx-{q.index}: rps_cpus unreadable")
                continue
            score.checked += 1
            if not q.rps_cpus:
                ctx.add("rps", f"{nic.name} rx-{q.index}", f"no RPS map; {why}",
                        _queue_plan_text(ctx.queue_plan.get((nic.name, f"rx-{q.index}", "rps_cpus"))))


def _queue_cpus(ctx: _Ctx, nic: S.Nic) -> dict[int, set[int]]:
    """queue index -> the single CPUs its IRQs run on."""
    out: dict[int, set[int]] = defaultdict(set)
    for irq, ref in nic.queue_irqs:
        i = ctx.snap.irqs[irq]
        run = ctx.runs_on(i)
        if run is not None and len(run) == 1:
            for q in (ref.queue,) + ref.extra:
                out[q] |= run
    return out


def _xps(ctx: _Ctx) -> None:
    score = ctx.scores["xps"]
    for nic in ctx.snap.nics:
        if len(nic.tx) < 2 or ctx.policy(nic) in HANDS_OFF or nic.name == "lo":
            continue
        mode = ctx.cands.settings(nic).xps
        if mode == "off" or (mode == "auto" and nic.virtual):
            continue
        if mode == "auto" and nic.kind == S.UNMAPPED:
            ctx.unknown("xps", f"{nic.name}: queue mapping unknown; XPS not judged")
            continue
        unreadable = sum(q.xps_cpus is None for q in nic.tx)
        if unreadable:
            ctx.unknown("xps", f"{nic.name}: xps_cpus unreadable on {unreadable} tx queue(s); XPS not judged")
            continue
        maps = {q.index: q.xps_cpus or frozenset() for q in nic.tx}
        where = ctx.where(nic)
        if where is None:
            continue
        cand = ctx.cands.xps_senders(nic, where)
        own: dict[int, set[int]] = defaultdict(set)
        if not nic.virtual:
            for q, cpus in _queue_cpus(ctx, nic).items():
                if q in maps:
                    for c in cpus:
                        own[c].add(q)
            if not any(own.get(c) for c in cand):
                ctx.unknown("xps", f"{nic.name}: no tx queue IRQ is pinned to one CPU it may use; XPS not judged")
                continue
        for c in sorted(cand):
            score.checked += 1
            via = {q for q, m in maps.items() if c in m}
            mine = own.get(c, set())
            if not via:
                if mine:
                    q = min(mine)
                    ctx.add("xps", f"{nic.name} tx-{q}",
                            f"its IRQ runs on CPU {c} but no XPS map holds CPU {c}: the kernel hashes "
                            "flows sent from there over every tx queue",
                            _queue_plan_text(ctx.queue_plan.get((nic.name, f"tx-{q}", "xps_cpus"))))
                else:
                    ctx.add("xps", f"{nic.name} CPU {c}", "in no XPS map: flows sent from it are hashed "
                            "over every tx queue", _xps_plan_for_cpu(ctx, nic, c))
            elif mine and not via & mine:
                q = min(mine)
                ctx.add("xps", f"{nic.name} tx-{q}",
                        f"its IRQ runs on CPU {c} but XPS sends CPU {c}'s flows through "
                        f"{', '.join(f'tx-{v}' for v in sorted(via))}",
                        _xps_plan_for_cpu(ctx, nic, c))


def _xps_plan_for_cpu(ctx: _Ctx, nic: S.Nic, cpu: int) -> str:
    for q in nic.tx:
        p = ctx.queue_plan.get((nic.name, f"tx-{q.index}", "xps_cpus"))
        if p is not None and isinstance(p.after, frozenset) and cpu in p.after:
            return f"CPU {cpu} sends through {_queue_plan_text(p)}"
    return f"no XPS map planned for CPU {cpu}"


def _rfs(ctx: _Ctx) -> None:
    score = ctx.scores["rfs"]
    total = ctx.snap.rps_sock_flow_entries
    if ctx.cfg.rfs_entries == 0:
        ctx.unknown("rfs", "rfs_entries = 0 in the config: RFS is left to you; not judged")
        return
    with_flows: dict[str, list[int]] = {}
    for nic in ctx.snap.nics:
        counts = [q.rps_flow_cnt for q in nic.rx]
        if any(c is None for c in counts):
            ctx.unknown("rfs", f"{nic.name}: rps_flow_cnt unreadable")
        flows = [q.index for q in nic.rx if q.rps_flow_cnt]
        if flows:
            with_flows[nic.name] = flows
    global_plan = next((g for g in ctx.plan.globals if g.name == "rps_sock_flow_entries"), None)
    gtext = ("rps_sock_flow_entries " + (f"-> {global_plan.after}" if global_plan.changes else "left alone")
             + f" ({global_plan.reason})") if global_plan else "rps_sock_flow_entries not in the plan"
    if total is None:
        if with_flows:
            ctx.unknown("rfs", "rps_sock_flow_entries is not readable here (network namespace?); whether "
                               f"the flow tables of {', '.join(sorted(with_flows))} work is not known")
        return
    for name, flows in sorted(with_flows.items()):
        nic = ctx.nic(name)
        score.checked += 1
        p = ctx.queue_plan.get((name, f"rx-{flows[0]}", "rps_flow_cnt"))
        if total == 0:
            ctx.add("rfs", f"{name} rps_flow_cnt",
                    f"{len(flows)} rx queue(s) have flow tables but rps_sock_flow_entries is 0: RFS is off",
                    f"{gtext}; {_queue_plan_text(p)}")
        elif len(flows) < len(nic.rx):
            missing = [q.index for q in nic.rx if not q.rps_flow_cnt]
            ctx.add("rfs", f"{name} rps_flow_cnt",
                    f"only {len(flows)} of {len(nic.rx)} rx queues have a flow table "
                    f"(none on rx-{', rx-'.join(map(str, missing[:8]))}{' ...' if len(missing) > 8 else ''})",
                    _queue_plan_text(ctx.queue_plan.get((name, f"rx-{missing[0]}", "rps_flow_cnt"))))
    score.checked += 1
    if total > 0 and not with_flows:
        ctx.add("rfs", "rps_sock_flow_entries",
                f"the global flow table has {total} entries but no rx queue has rps_flow_cnt: RFS is off "
                "and the table only costs memory", gtext)


def _effective(ctx: _Ctx) -> None:
    score = ctx.scores["effective"]
    no_file = stale = 0
    for irq, i in sorted(ctx.snap.irqs.items()):
        if not i.movable or i.affinity is None:
            continue
        if i.effective is None:
            no_file += 1
            continue
        if irq in ctx.stale:
            stale += 1
            continue
        if i.effective and not i.effective <= i.affinity:
            if irq in ctx.pending or ctx.barely_fires(i):
                # x86 and others move an IRQ at its next interrupt: one that
                # barely fires keeps its old effective CPU until then
                ctx.add("effective", ctx.irq_label(i),
                        f"pending: moves to CPU {_v(i.affinity)} at its next interrupt (now on CPU "
                        f"{_v(i.effective)}; it fired {i.total} time(s) since boot)",
                        _irq_plan_text(ctx.irq_plan.get(irq)), counted=False)
                continue
            score.checked += 1
            ctx.add("effective", ctx.irq_label(i),
                    f"affinity {_v(i.affinity)} but the kernel runs it on CPU {_v(i.effective - i.affinity)} "
                    "although it fires often (vector space full, a refused write, or an interrupt chip that "
                    "cannot follow)",
                    _irq_plan_text(ctx.irq_plan.get(irq)))
        else:
            score.checked += 1
    if no_file:
        ctx.unknown("effective", f"{no_file} IRQ(s) without effective_affinity (kernel before 4.15 or the chip "
                                 "does not report it)")
    if stale:
        ctx.unknown("effective", f"{stale} IRQ(s) had smp_affinity rewritten after this tree was captured: no "
                                 "kernel updated their effective_affinity, so whether it was honoured is not known")


def _managed(ctx: _Ctx) -> None:
    score = ctx.scores["managed"]
    flag = "managed_irq" in ctx.snap.isolation.isolcpus_flags
    for irq, i in sorted(ctx.snap.irqs.items()):
        if not i.managed:
            continue
        score.checked += 1
        run = ctx.runs_on(i) or frozenset()
        on_isolated = run & ctx.kernel_excluded
        plan = _irq_plan_text(ctx.irq_plan.get(irq))
        if not on_isolated:
            ctx.add("managed", ctx.irq_label(i),
                    f"kernel-managed ({i.managed}), runs on CPU {_v(run)}; no tool can move it", plan, counted=False)
            continue
        housekeeping = (i.affinity or frozenset()) & ctx.plan.eligible
        fired = sum(n for c, n in i.counts if c in ctx.kernel_excluded)
        if housekeeping:
            fix = ("with isolcpus=managed_irq the kernel should have picked a housekeeping CPU; was the IRQ "
                   "started before the isolation took effect?" if flag else
                   "boot with isolcpus=managed_irq,... (kernel 5.6+) and the kernel keeps it on a housekeeping "
                   "CPU of its mask")
            ctx.add("managed", ctx.irq_label(i),
                    f"kernel-managed, runs on isolated CPU {_v(on_isolated)} although its mask {_v(i.affinity)} "
                    f"holds housekeeping CPU {_v(housekeeping)}, so I/O from those CPUs interrupts an isolated "
                    f"one; {fix}", plan)
        else:
            ctx.add("managed", ctx.irq_label(i),
                    f"kernel-managed, its whole mask {_v(i.affinity or run)} is isolated: it fires only when an "
                    f"isolated CPU submits I/O to this queue, which happened {fired} time(s) since boot; "
                    "no IRQ placement can change that (move the I/O to housekeeping CPUs)", plan, counted=False)


def audit(snapshot: S.Snapshot, config: Config, plan: Plan, *, live: bool | None = None,
          stale_effective: frozenset[int] = frozenset(), pending: frozenset[int] = frozenset()) -> Audit:
    """Judge the snapshot against the plan made from it; pure.

    ``live``: the snapshot is the running machine (default: its root is /).
    ``stale_effective``: IRQs whose effective affinity is known to predate
    their smp_affinity (a captured tree someone wrote into afterwards).
    ``pending``: IRQs seen not to fire while their effective affinity was
    watched (``discover.procirq.watch_pending``): their move has not had
    its chance yet.
    """
    if live is None:
        live = snapshot.live
    ctx = _Ctx(snapshot, config, plan, live, frozenset() if live else frozenset(stale_effective))
    ctx.pending = frozenset(pending)
    for check in (_numa, _isolation, _stacking_and_smt, _rps, _xps, _rfs, _effective, _managed):
        check(ctx)
    cannot = [f"{name}: {text}" for name in CATEGORIES for text in ctx.scores[name].unknown]
    if not live:
        cannot.insert(0, "captured tree: no kernel runs here, so effective affinity is what the capture saw; it is "
                         "trusted only for IRQs whose smp_affinity was not rewritten after the capture")
    cannot.append("load: audit judges placement, not how busy each CPU is (counts are totals since boot)")
    cannot.extend(f"discovery: {p}" for p in snapshot.problems)
    order = list(CATEGORIES)
    findings = sorted(ctx.findings, key=lambda f: (order.index(f.category), not f.counted))
    return Audit(root=snapshot.root, live=live, eligible=plan.eligible, excluded=dict(plan.excluded),
                 findings=tuple(findings), scores=ctx.scores, cannot_know=tuple(cannot))

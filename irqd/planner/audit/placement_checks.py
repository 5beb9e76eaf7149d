"""Where the IRQs run: numa, isolation, stacking and smt."""

from __future__ import annotations

from collections import defaultdict

from ... import snapshot as S
from ...cpuset import CpuSet
from ..candidates import HANDS_OFF
from .context import Ctx, irq_plan_text, queue_plan_text, v


def numa(ctx: Ctx) -> None:
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
                        f"{verb} {ctx.where_text(off)}, off {nic.name}'s CPUs {v(where.region)}",
                        irq_plan_text(ctx.irq_plan.get(i.irq)))


def isolation(ctx: Ctx) -> None:
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
            ctx.add("isolation", ctx.irq_label(i), f"{where} excluded CPU {v(bad)} ({sources(bad)})",
                    irq_plan_text(ctx.irq_plan.get(irq)))
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
                        f"{what} map {v(cpus)} holds excluded CPU {v(bad)} ({sources(bad)})",
                        queue_plan_text(ctx.queue_plan.get((nic.name, queue, attr))))


def _occupancy(ctx: Ctx):
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


def _queue_names(items, ctx: Ctx) -> str:
    parts = []
    for name, q, cpu in sorted(items, key=lambda t: (t[0], t[1])):
        nic = ctx.nic(name)
        label = f"{name} queue {q}" if nic is None or nic.kind != S.UNMAPPED else f"{name} vector {q}"
        parts.append(label + (f" on CPU {cpu}" if cpu is not None else ""))
    return ", ".join(parts)


def _slot_plan(ctx: Ctx, items) -> str:
    out = []
    for name, q, _ in sorted(items, key=lambda t: (t[0], t[1])):
        nic = ctx.nic(name)
        irqs = [i for i, ref in nic.queue_irqs if ref.queue == q] if nic.kind != S.UNMAPPED else \
            [nic.other_irqs[q]]
        p = ctx.irq_plan.get(irqs[0]) if irqs else None
        if p is not None and p.after is not None:
            out.append(f"{name} queue {q} -> CPU {v(p.after)}")
        elif p is not None:
            out.append(f"{name} queue {q} left alone")
    return "; ".join(out) or "not in the plan"


def stacking_and_smt(ctx: Ctx) -> None:
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
        idle = (f"cores {', '.join(sorted(v(ctx.core_cpus(k) & ctx.plan.eligible) for k in free))} carry no queue"
                if free else f"CPUs {v(free_cpus)} carry no queue")
        ctx.add("stacking", f"{ctx.core_label(core)} (CPU {v(ctx.core_cpus(core))})",
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
                        f"queues on sibling threads {v(threads)} ({_queue_names(items, ctx)}) while "
                        f"{len(free)} core(s) it may use carry no queue "
                        f"(e.g. CPU {v(ctx.core_cpus(min(free, key=str)) & ctx.plan.eligible)})",
                        _slot_plan(ctx, items))
    ctx.scores["smt"].checked = pairs

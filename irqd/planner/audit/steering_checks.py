"""The steering maps: rps, xps and rfs."""

from __future__ import annotations

from collections import defaultdict

from ... import snapshot as S
from ..candidates import HANDS_OFF, Candidates
from .context import Ctx, queue_plan_text


def rps(ctx: Ctx) -> None:
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
                        queue_plan_text(ctx.queue_plan.get((nic.name, f"rx-{q.index}", "rps_cpus"))))


def _queue_cpus(ctx: Ctx, nic: S.Nic) -> dict[int, set[int]]:
    """queue index -> the single CPUs its IRQs run on."""
    out: dict[int, set[int]] = defaultdict(set)
    for irq, ref in nic.queue_irqs:
        i = ctx.snap.irqs[irq]
        run = ctx.runs_on(i)
        if run is not None and len(run) == 1:
            for q in (ref.queue,) + ref.extra:
                out[q] |= run
    return out


def xps(ctx: Ctx) -> None:
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
                            queue_plan_text(ctx.queue_plan.get((nic.name, f"tx-{q}", "xps_cpus"))))
                else:
                    ctx.add("xps", f"{nic.name} CPU {c}", "in no XPS map: flows sent from it are hashed "
                            "over every tx queue", _xps_plan_for_cpu(ctx, nic, c))
            elif mine and not via & mine:
                q = min(mine)
                ctx.add("xps", f"{nic.name} tx-{q}",
                        f"its IRQ runs on CPU {c} but XPS sends CPU {c}'s flows through "
                        f"{', '.join(f'tx-{v}' for v in sorted(via))}",
                        _xps_plan_for_cpu(ctx, nic, c))


def _xps_plan_for_cpu(ctx: Ctx, nic: S.Nic, cpu: int) -> str:
    for q in nic.tx:
        p = ctx.queue_plan.get((nic.name, f"tx-{q.index}", "xps_cpus"))
        if p is not None and isinstance(p.after, frozenset) and cpu in p.after:
            return f"CPU {cpu} sends through {queue_plan_text(p)}"
    return f"no XPS map planned for CPU {cpu}"


def rfs(ctx: Ctx) -> None:
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
                    f"{gtext}; {queue_plan_text(p)}")
        elif len(flows) < len(nic.rx):
            missing = [q.index for q in nic.rx if not q.rps_flow_cnt]
            ctx.add("rfs", f"{name} rps_flow_cnt",
                    f"only {len(flows)} of {len(nic.rx)} rx queues have a flow table "
                    f"(none on rx-{', rx-'.join(map(str, missing[:8]))}{' ...' if len(missing) > 8 else ''})",
                    queue_plan_text(ctx.queue_plan.get((name, f"rx-{missing[0]}", "rps_flow_cnt"))))
    score.checked += 1
    if total > 0 and not with_flows:
        ctx.add("rfs", "rps_sock_flow_entries",
                f"the global flow table has {total} entries but no rx queue has rps_flow_cnt: RFS is off "
                "and the table only costs memory", gtext)

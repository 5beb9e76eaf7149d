"""``irqd plan`` output: table for people, diff for review, JSON for scripts.

Everything is sorted, so the same plan always prints the same bytes.
"""

from __future__ import annotations

from collections import defaultdict

from ..cpuset import format_list
from ..jsonfmt import dumps
from ..plan import IrqPlan, Plan, QueuePlan, plan_json
from ..snapshot import Snapshot


def _v(value) -> str:
    if value is None:
        return "?"
    if isinstance(value, int):
        return str(value)
    return format_list(value) or "-"


def render_json(plan: Plan) -> str:
    return dumps(plan_json(plan))


def summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (f"{s['irqs_move']} IRQs move, {s['rps_maps_set']} RPS maps set, {s['xps_maps_set']} XPS maps set, "
            f"{s['flow_counts_set']} RFS flow counts set, {s['globals_set']} global settings, "
            f"{s['managed_left_alone']} managed IRQs left alone, {s['irqs_on_excluded_cpus']} on isolated CPUs")


def render_diff(plan: Plan) -> str:
    out = []
    for i in plan.irqs:
        if i.changes:
            out.append(f"irq {i.irq:>5} {i.name or '-':<32} {_v(i.before):>14} -> {_v(i.after):<14} # {i.reason}")
    for q in plan.queues:
        if q.changes:
            out.append(f"{q.dev}/{q.queue}/{q.attr:<13} {_v(q.before):>14} -> {_v(q.after):<14} # {q.reason}")
    for g in plan.globals:
        if g.changes:
            out.append(f"{g.name:<40} {_v(g.before):>14} -> {_v(g.after):<14} # {g.reason}")
    if not out:
        out.append("nothing to change")
    for note in plan.notes:
        out.append(f"note: {note}")
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


def render_table(plan: Plan, snap: Snapshot) -> str:
    out: list[str] = []
    w = out.append
    w(f"Eligible CPUs: {_v(plan.eligible)}")
    for source, cpus in sorted(plan.excluded.items()):
        w(f"  excluded by {source}: {_v(cpus)}")
    by_nic: dict[str, list[IrqPlan]] = defaultdict(list)
    for i in plan.irqs:
        if i.nic:
            by_nic[i.nic].append(i)
    queues: dict[str, dict[str, dict[str, QueuePlan]]] = defaultdict(lambda: defaultdict(dict))
    for q in plan.queues:
        queues[q.dev][q.queue][q.attr] = q
    for nic in snap.nics:
        if nic.name not in by_nic and nic.name not in queues:
            continue
        w("")
        w(f"{nic.name} ({nic.kind}, {nic.driver or '-'}, node {nic.numa_node if nic.numa_node is not None else '?'})")
        if by_nic.get(nic.name):
            w(f"  {'irq':>6} {'queue':>5} {'now':>12} {'after':>12}  name")
            for i in sorted(by_nic[nic.name], key=lambda i: (i.queue is None, i.queue or 0, i.irq)):
                after = "(left alone)" if i.after is None else _v(i.after)
                mark = "*" if i.changes else " "
                queue = i.queue if i.queue is not None else "-"
                w(f" {mark}{i.irq:>6} {queue:>5} {_v(i.before):>12} {after:>12}  {i.name}")
        if nic.name in queues:
            w(f"  {'queue':>6} {'rps now':>12} {'rps after':>12} {'flow':>6} {'xps now':>12} {'xps after':>12}")
            names = sorted(queues[nic.name], key=lambda s: (s[:2], int(s[3:])))
            for qn in names:
                a = queues[nic.name][qn]
                rps, flow, xps = a.get("rps_cpus"), a.get("rps_flow_cnt"), a.get("xps_cpus")
                w(f"  {qn:>6} {_v(rps.before) if rps else '':>12} {_v(rps.after) if rps else '':>12} "
                  f"{_v(flow.after) if flow else '':>6} {_v(xps.before) if xps else '':>12} "
                  f"{_v(xps.after) if xps else '':>12}")
    others = [i for i in plan.irqs if not i.nic]
    if others:
        w("")
        w("Other IRQs")
        w(f"  {'irq':>6} {'class':<13} {'now':>12} {'after':>12}  name / reason")
        for i in others:
            after = "(left alone)" if i.after is None else _v(i.after)
            mark = "*" if i.changes else " "
            w(f" {mark}{i.irq:>6} {i.cls:<13} {_v(i.before):>12} {after:>12}  {i.name}: {i.reason}")
    for g in plan.globals:
        w("")
        w(f"{g.name}: {_v(g.before)} -> {'(left alone)' if g.after is None else _v(g.after)}  ({g.reason})")
    if plan.notes:
        w("")
        for note in plan.notes:
            w(f"note: {note}")
    w("")
    w(summary_line(plan) + "  (* = changes)")
    return "\n".join(out) + "\n"

"""``irqd audit``: discover, plan, judge, print; exit 0 clean, 1 findings, 2 bad input."""

from __future__ import annotations

import sys

from .. import exits
from ..cpuset import format_list
from ..discover import DiscoveryError, Root, RootError, discover
from ..discover.pending import watch_pending
from ..discover.procirq import stale_effective
from ..jsonfmt import dumps
from ..planner import plan as make_plan
from ..planner.audit import CATEGORIES, Audit, audit
from .common import err, known_managed, load_config_or_exit


def _v(cpus) -> str:
    return format_list(cpus) or "-"


def audit_json(a: Audit) -> dict:
    return {
        "root": a.root,
        "live": a.live,
        "clean": a.clean,
        "exit": a.exit_code,
        "eligible_cpus": sorted(a.eligible),
        "excluded_cpus": {k: sorted(v) for k, v in sorted(a.excluded.items())},
        "categories": {name: {"title": title, "checked": a.scores[name].checked,
                              "findings": len(a.counted(name)),
                              "info": sum(1 for f in a.findings if f.category == name and not f.counted),
                              "score": None if (score := a.score(name)) is None else round(score, 1),
                              "unknown": list(a.scores[name].unknown)}
                       for name, title in CATEGORIES.items()},
        "findings": [{"category": f.category, "subject": f.subject, "problem": f.problem, "plan": f.plan,
                      "counted": f.counted} for f in a.findings],
        "cannot_know": list(a.cannot_know),
    }


def render_json(a: Audit) -> str:
    return dumps(audit_json(a))


# a category with more findings than this prints the first ones and a count
_SHOW = 12


def render_table(a: Audit) -> str:
    out: list[str] = []
    w = out.append
    w(f"Audit of {a.root}" + (" (live machine)" if a.live else " (captured tree)"))
    w(f"Eligible CPUs: {_v(a.eligible)}")
    for source, cpus in sorted(a.excluded.items()):
        w(f"  excluded by {source}: {_v(cpus)}")
    for name, title in CATEGORIES.items():
        found = [f for f in a.findings if f.category == name]
        if not found:
            continue
        counted = [f for f in found if f.counted]
        info = [f for f in found if not f.counted]
        for label, group in (("", counted), (" (informational, not counted)", info)):
            if not group:
                continue
            w("")
            w(f"[{name}] {title}{label}: {len(group)}")
            for f in group[:_SHOW]:
                w(f"  {f.subject}: {f.problem}")
                w(f"      plan: {f.plan}")
            if len(group) > _SHOW:
                w(f"  ... and {len(group) - _SHOW} more (--format json lists them all)")
    w("")
    w("Scores")
    w(f"  {'category':<10} {'checked':>7} {'findings':>8} {'score':>7}  what")
    for name, title in CATEGORIES.items():
        s = a.score(name)
        w(f"  {name:<10} {a.scores[name].checked:>7} {len(a.counted(name)):>8} "
          f"{'-' if s is None else f'{s:.1f}%':>7}  {title}")
    if a.cannot_know:
        w("")
        w("What this audit cannot know")
        for text in a.cannot_know:
            w(f"  - {text}")
    w("")
    bad = sorted({f.category for f in a.counted()}, key=list(CATEGORIES).index)
    unknown = sum(len(s.unknown) for s in a.scores.values())
    if a.clean:
        w("Result: clean (exit 0)" + (f"; {unknown} thing(s) could not be judged (listed above)" if unknown else ""))
    else:
        w(f"Result: {len(a.counted())} finding(s) in {', '.join(bad)} (exit 1)")
    return "\n".join(out) + "\n"


def run_audit(args) -> int:
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.USAGE
    try:
        root = Root(args.root)
        snap = discover(args.root, confirmed_managed=known_managed(root))
    except (DiscoveryError, RootError) as e:
        err(str(e))
        return exits.USAGE
    except OSError as e:
        err(f"{args.root}: {e.strerror or e}")
        return exits.USAGE
    the_plan = make_plan(snap, config)
    outside = [i.irq for i in snap.irqs.values()
               if i.movable and i.affinity and i.effective and not i.effective <= i.affinity]
    result = audit(snap, config, the_plan, stale_effective=stale_effective(root, snap.irqs),
                   pending=watch_pending(root, outside))
    if args.format == "html":
        from .picture import render_audit_html
        sys.stdout.write(render_audit_html(snap, the_plan, result, title=f"irqd audit: {snap.root}"))
    else:
        sys.stdout.write(render_json(result) if args.format == "json" else render_table(result))
    return result.exit_code

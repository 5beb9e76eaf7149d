"""``irqd audit``: discover, plan, judge, print; exit 0 clean, 1 findings, 2 bad input.

With MACHINE arguments (roots or ``irqd capture --tar`` archives) it audits
a fleet instead (``fleet.py``): one row per machine; exit 0 when every
machine is clean, 1 when any has findings, 2 when any could not be audited.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import exits
from ..cpuset import format_list
from ..discover import DiscoveryError, Root, RootError, discover
from ..discover.pending import watch_pending
from ..discover.procirq import stale_effective
from ..jsonfmt import dumps
from ..plan import Plan
from ..planner import plan as make_plan
from ..planner.audit import CATEGORIES, Audit, Finding, audit
from ..snapshot import Snapshot
from .common import err, known_managed, load_config_or_exit

if TYPE_CHECKING:   # the model imports pydantic; judging with the defaults never needs it
    from ..config import Config


def _v(cpus) -> str:
    return format_list(cpus) or "-"


def category_json(a: Audit, name: str) -> dict:
    """One category's counts: what was checked, counted and informational findings, the score."""
    return {"checked": a.scores[name].checked,
            "findings": len(a.counted(name)),
            "info": sum(1 for f in a.findings if f.category == name and not f.counted),
            "score": None if (score := a.score(name)) is None else round(score, 1)}


def finding_json(f: Finding) -> dict:
    return {"category": f.category, "subject": f.subject, "problem": f.problem, "plan": f.plan,
            "counted": f.counted}


def audit_json(a: Audit) -> dict:
    return {
        "root": a.root,
        "live": a.live,
        "clean": a.clean,
        "exit": a.exit_code,
        "eligible_cpus": sorted(a.eligible),
        "excluded_cpus": {k: sorted(v) for k, v in sorted(a.excluded.items())},
        "categories": {name: {"title": title, **category_json(a, name), "unknown": list(a.scores[name].unknown)}
                       for name, title in CATEGORIES.items()},
        "findings": [finding_json(f) for f in a.findings],
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


@dataclass(frozen=True)
class Judged:
    """One machine audited: the snapshot and plan the audit judged, and its verdict."""
    snapshot: Snapshot
    plan: Plan
    audit: Audit


def judge(path: str, config: Config) -> Judged | str:
    """Discover the root at ``path``, plan and audit it; or why it could not be read.

    Both ``irqd audit --root`` and the fleet audit call this, so a machine
    in a fleet is judged exactly as it would be on its own.
    """
    try:
        root = Root(path)
        snap = discover(path, confirmed_managed=known_managed(root))
    except (DiscoveryError, RootError) as e:
        return str(e)
    except OSError as e:
        return f"{path}: {e.strerror or e}"
    the_plan = make_plan(snap, config)
    outside = [i.irq for i in snap.irqs.values()
               if i.movable and i.affinity and i.effective and not i.effective <= i.affinity]
    result = audit(snap, config, the_plan, stale_effective=stale_effective(root, snap.irqs),
                   pending=watch_pending(root, outside))
    return Judged(snap, the_plan, result)


def run_audit(args) -> int:
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.USAGE
    judged = judge("/" if args.root is None else args.root, config)
    if isinstance(judged, str):
        err(judged)
        return exits.USAGE
    snap, the_plan, result = judged.snapshot, judged.plan, judged.audit
    if args.format == "html":
        from .picture import render_audit_html
        sys.stdout.write(render_audit_html(snap, the_plan, result, title=f"irqd audit: {snap.root}"))
    else:
        sys.stdout.write(render_json(result) if args.format == "json" else render_table(result))
    return result.exit_code

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

from typing import TYPE_CHECKING

from ... import snapshot as S
from ...plan import Plan
from .context import Ctx
from .kernel_checks import effective, managed
from .placement_checks import isolation, numa, stacking_and_smt
from .report import CATEGORIES, Audit, Finding, Score
from .steering_checks import rfs, rps, xps

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ...config import Config

__all__ = ["CATEGORIES", "Audit", "Finding", "Score", "audit"]


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
    ctx = Ctx(snapshot, config, plan, live, frozenset() if live else frozenset(stale_effective))
    ctx.pending = frozenset(pending)
    for check in (numa, isolation, stacking_and_smt, rps, xps, rfs, effective, managed):
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

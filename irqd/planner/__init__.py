"""``plan(snapshot, config, load=None) -> Plan``: where every IRQ, RPS and XPS map should go.

Pure: no I/O, no clock, no globals. The same snapshot, config and load give
the same plan, and every decision carries its reason. Kernel references:
``Documentation/networking/scaling.rst`` (RPS, RFS, XPS) and
``Documentation/core-api/irq/irq-affinity.rst``.

``candidates`` holds the rules (which CPUs each thing may use), and the
audit asks it the same questions; ``placement`` puts IRQs on CPUs;
``steering`` derives RPS, RFS and XPS from where the queues landed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import snapshot as S
from ..plan import GlobalPlan, Plan, QueuePlan
from .candidates import Candidates
from .placement import Placement
from .steering import Steering

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ..config import Config


def irq_load(snap: S.Snapshot, load: dict[int, float] | None) -> dict[int, float]:
    """Per-IRQ rate: measured when given, else counts over uptime, else raw counts."""
    if load is not None:
        return {i: float(load.get(i, 0.0)) for i in snap.irqs}
    up = snap.uptime if snap.uptime and snap.uptime > 0 else 1.0
    return {i: irq.total / up for i, irq in snap.irqs.items()}


def plan(snapshot: S.Snapshot, config: Config, load: dict[int, float] | None = None,
         pinned: dict[int, int] | None = None) -> Plan:
    """``pinned`` (irq -> CPU) keeps IRQs where they are when that CPU is still a
    candidate: the daemon re-plans around what already runs instead of
    reshuffling. RPS and XPS maps follow the placement either way."""
    cands = Candidates(snapshot, config)
    placement = Placement(snapshot, config, cands, irq_load(snapshot, load), pinned or {})
    placement.run()
    queues: list[QueuePlan] = []
    globals_: list[GlobalPlan] = []
    if cands.eligible:
        queues, globals_ = Steering(snapshot, config, cands, placement.slot_cpu, placement.notes).run()
    return Plan(eligible=cands.eligible, excluded=dict(cands.excluded),
                irqs=tuple(placement.irq_plans[i] for i in sorted(placement.irq_plans)),
                queues=tuple(queues), globals=tuple(globals_), notes=tuple(placement.notes))


__all__ = ["Candidates", "irq_load", "plan"]

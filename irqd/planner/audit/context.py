"""What every audit check shares: the candidates the planner decided with, and how to word a finding."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ... import snapshot as S
from ...cpuset import CpuSet, format_list
from ...plan import IrqPlan, Plan, QueuePlan
from ..candidates import IDLE_RATE, Candidates, Core, Where
from .report import CATEGORIES, Finding, Score

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ...config import Config


def v(cpus) -> str:
    return format_list(cpus) or "-"


# -- what the plan would do ------------------------------------------------------

def irq_plan_text(p: IrqPlan | None) -> str:
    if p is None:
        return "not in the plan"
    if p.after is None:
        return f"left alone: {p.reason}"
    if p.changes:
        return f"moves it to CPU {v(p.after)} ({p.reason})"
    return f"keeps it on CPU {v(p.after)} ({p.reason})"


def queue_plan_text(p: QueuePlan | None) -> str:
    if p is None:
        return "not in the plan (irqd leaves it alone)"
    label = f"{p.queue} {p.attr}"
    after = p.after if isinstance(p.after, int) or p.after is None else v(p.after)
    if p.after is None:
        return f"{label} left alone: {p.reason}"
    if p.changes:
        return f"{label} -> {after} ({p.reason})"
    return f"{label} stays {after} ({p.reason})"


class Place(NamedTuple):
    """Where one queue runs: its core, and its CPU when that is one CPU."""
    core: Core
    cpu: int | None


class Ctx:
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
        self._slots: dict[str, dict[int, Place | None]] | None = None
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
        return f"CPU {v(cpus)}" + (f" (node {','.join(map(str, nodes))})" if nodes else "")

    # queue slots: what the planner places one per core
    def slot_nics(self) -> list[S.Nic]:
        return [n for n in self.snap.nics if not n.virtual and self.policy(n) in ("spread", "pack")
                and self.where(n) is not None]

    def slots(self, nic: S.Nic) -> dict[int, list[S.Irq]]:
        out = {q: [self.snap.irqs[i] for i in irqs] for q, irqs in self.cands.queue_slots(nic).items()}
        return {q: [i for i in irqs if self.judged_irq(i) and i.affinity is not None]
                for q, irqs in out.items() if any(self.judged_irq(i) and i.affinity is not None for i in irqs)}

    def slot_place(self, irqs: list[S.Irq]) -> Place | None:
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
            return Place(self.core(cpu), cpu)
        cores = {self.core(c) for c in cpus}
        if len(cores) == 1:
            return Place(cores.pop(), None)
        return None

    def placed(self) -> dict[str, dict[int, Place | None]]:
        if self._slots is None:
            self._slots = {nic.name: {q: self.slot_place(irqs) for q, irqs in self.slots(nic).items()}
                           for nic in self.slot_nics()}
        return self._slots

"""What the planner decides: every IRQ affinity, RPS/XPS map and RFS size, each with its reason.

A no-op is a result too: an entry whose ``after`` equals ``before`` says why
nothing changes. ``after`` of None means irqd leaves that thing alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cpuset import CpuSet


@dataclass(frozen=True)
class IrqPlan:
    irq: int
    name: str
    cls: str
    nic: str | None
    queue: int | None
    node: int | None
    before: CpuSet | None
    after: CpuSet | None     # None: left alone
    reason: str
    managed: bool = False    # left alone because the kernel manages it

    @property
    def changes(self) -> bool:
        return self.after is not None and self.after != self.before


@dataclass(frozen=True)
class QueuePlan:
    """One sysfs queue attribute: rps_cpus, rps_flow_cnt, xps_cpus or xps_rxqs."""
    dev: str
    queue: str               # "rx-3" | "tx-3"
    attr: str                # "rps_cpus" | "rps_flow_cnt" | "xps_cpus" | "xps_rxqs"
    before: CpuSet | int | None
    after: CpuSet | int | None
    reason: str

    @property
    def changes(self) -> bool:
        return self.after is not None and self.after != self.before


@dataclass(frozen=True)
class GlobalPlan:
    name: str                # "rps_sock_flow_entries"
    before: int | None
    after: int | None
    reason: str

    @property
    def changes(self) -> bool:
        return self.after is not None and self.after != self.before


@dataclass(frozen=True)
class Plan:
    eligible: CpuSet
    excluded: dict[str, CpuSet]   # why CPUs are not eligible, by source
    irqs: tuple[IrqPlan, ...]
    queues: tuple[QueuePlan, ...]
    globals: tuple[GlobalPlan, ...]
    notes: tuple[str, ...]

    def summary(self) -> dict[str, int]:
        moved = sum(1 for i in self.irqs if i.changes)
        managed = sum(1 for i in self.irqs if i.managed)
        on_excluded = sum(1 for i in self.irqs if i.after is not None and not i.after <= self.eligible)
        return {
            "irqs_move": moved,
            "rps_maps_set": sum(1 for q in self.queues if q.attr == "rps_cpus" and q.changes),
            "xps_maps_set": sum(1 for q in self.queues if q.attr in ("xps_cpus", "xps_rxqs") and q.changes),
            "flow_counts_set": sum(1 for q in self.queues if q.attr == "rps_flow_cnt" and q.changes),
            "globals_set": sum(1 for g in self.globals if g.changes),
            "managed_left_alone": managed,
            "irqs_on_excluded_cpus": on_excluded,
        }


def _cpus(value: CpuSet | int | None) -> list[int] | int | None:
    if value is None or isinstance(value, int):
        return value
    return sorted(value)


def plan_json(plan: Plan) -> dict:
    """The plan as plain data: ``irqd plan --format json`` and the daemon's status both print it."""
    return {
        "eligible_cpus": sorted(plan.eligible),
        "excluded_cpus": {k: sorted(v) for k, v in sorted(plan.excluded.items())},
        "summary": plan.summary(),
        "irqs": [{"irq": i.irq, "name": i.name, "class": i.cls, "nic": i.nic, "queue": i.queue, "node": i.node,
                  "before": _cpus(i.before), "after": _cpus(i.after), "change": i.changes, "reason": i.reason}
                 for i in plan.irqs],
        "queues": [{"dev": q.dev, "queue": q.queue, "attr": q.attr, "before": _cpus(q.before),
                    "after": _cpus(q.after), "change": q.changes, "reason": q.reason} for q in plan.queues],
        "globals": [{"name": g.name, "before": g.before, "after": g.after, "change": g.changes, "reason": g.reason}
                    for g in plan.globals],
        "notes": list(plan.notes),
    }

"""What an audit says: its categories, findings, scores and verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from ... import exits
from ...cpuset import CpuSet

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

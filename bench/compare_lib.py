"""Parsing and table code for ``bench/compare_irqbalance.py``, kept apart so tests can run it on saved outputs.

Pure: every function takes text or numbers and returns data or text. The
runner does the copying, the mount namespace, the timing and the printing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# the columns, in irqd audit's order (irqd.audit.CATEGORIES)
CATEGORIES = ("numa", "isolation", "stacking", "smt", "rps", "xps", "rfs", "effective", "managed")
STATES = ("as captured", "irqbalance", "irqd")


@dataclass(frozen=True)
class CategoryScore:
    findings: int
    checked: int
    score: float | None
    unknown: int = 0


@dataclass(frozen=True)
class AuditSummary:
    clean: bool
    categories: dict[str, CategoryScore]

    @property
    def findings(self) -> int:
        return sum(c.findings for c in self.categories.values())


class ParseError(ValueError):
    """Text that is not what the tool prints; the message says what was expected."""


def parse_audit(text: str) -> AuditSummary:
    """``irqd audit --format json`` output -> per-category findings/checked/score.

    Sample: ``{"clean": false, "categories": {"rps": {"checked": 1, "findings": 1, "score": 0.0, ...}}}``.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError(f"not irqd audit JSON: {e}") from None
    if not isinstance(data, dict) or "categories" not in data or "clean" not in data:
        raise ParseError("not irqd audit JSON: no 'clean' and 'categories'")
    cats = {}
    for name, c in data["categories"].items():
        cats[name] = CategoryScore(int(c["findings"]), int(c["checked"]), c.get("score"), len(c.get("unknown", ())))
    return AuditSummary(bool(data["clean"]), cats)


_VERSION = re.compile(r"irqbalance version (\S+)")


def parse_irqbalance_version(text: str) -> str | None:
    """``irqbalance --version`` -> "1.9.2". Sample: ``irqbalance version 1.9.2``."""
    m = _VERSION.search(text)
    return m.group(1) if m else None


# irqbalance's own complaints worth showing in the table (the rest of --debug is chatter)
_COMPLAINT = re.compile(r"(?i)(error|fail|cannot|can't|couldn't|unable|no such|abort|refus|invalid)")
_QUIET = ("Invalid PCI class code", "Daemon couldn't be bound to the file-based socket")


def irqbalance_complaints(output: str, limit: int = 3) -> list[str]:
    """The lines of irqbalance's output that say something went wrong, first ``limit`` distinct ones.

    Sample: ``Daemon couldn't be bound to the file-based socket.`` (a private
    /run makes that harmless, so it and the per-device PCI class warnings are
    left out).
    """
    out: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        if not line or any(q in line for q in _QUIET) or not _COMPLAINT.search(line):
            continue
        if line not in out:
            out.append(line)
        if len(out) >= limit:
            break
    return out


def changed_affinities(before: dict[int, str], after: dict[int, str]) -> list[int]:
    """IRQs whose smp_affinity text changed (compared as masks, so ``3`` equals ``00000003``)."""
    def norm(text: str | None) -> int | None:
        if text is None:
            return None
        try:
            return int(text.strip().replace(",", "") or "0", 16)
        except ValueError:
            return None
    return sorted(irq for irq in after if norm(after.get(irq)) != norm(before.get(irq)))


@dataclass
class Row:
    """One tree in one state: its audit (or why there is none), and the tool's CPU time."""
    tree: str
    state: str
    audit: AuditSummary | None = None
    cpu_seconds: float | None = None
    note: str = ""


@dataclass
class Comparison:
    date: str
    irqbalance_version: str | None
    host: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cell(audit: AuditSummary | None, category: str) -> str:
    """``bad/checked``; ``-`` when nothing could be checked; blank without an audit."""
    if audit is None:
        return ""
    c = audit.categories.get(category)
    if c is None or c.checked == 0:
        return "-" if c is None or not c.findings else str(c.findings)
    return f"{c.findings}/{c.checked}"


def render_table(comp: Comparison) -> str:
    """The comparison as one Markdown table: tree x state rows, audit categories as columns."""
    head = ["tree", "state", *CATEGORIES, "total", "CPU s", "note"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    last = None
    for row in comp.rows:
        name = row.tree if row.tree != last else ""
        last = row.tree
        total = "" if row.audit is None else str(row.audit.findings)
        cpu = "" if row.cpu_seconds is None else f"{row.cpu_seconds:.2f}"
        cells = [name, row.state, *(cell(row.audit, c) for c in CATEGORIES), total, cpu, row.note.replace("|", "/")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def render_report(comp: Comparison) -> str:
    lines = [f"Measured {comp.date} on {comp.host}; irqbalance {comp.irqbalance_version or '(not installed)'}.",
             "",
             "Cells are findings/things checked per `irqd audit` category (`-`: nothing to check); "
             "CPU s is user+sys CPU time of `irqbalance --oneshot` or `irqd apply`.",
             "",
             render_table(comp).rstrip()]
    if comp.notes:
        lines.append("")
        lines.extend(f"- {n}" for n in comp.notes)
    return "\n".join(lines) + "\n"


def comparison_json(comp: Comparison) -> dict:
    def audit(a: AuditSummary | None):
        if a is None:
            return None
        return {"clean": a.clean, "categories": {k: {"findings": c.findings, "checked": c.checked, "score": c.score,
                                                     "unknown": c.unknown} for k, c in a.categories.items()}}
    return {"date": comp.date, "irqbalance_version": comp.irqbalance_version, "host": comp.host,
            "rows": [{"tree": r.tree, "state": r.state, "audit": audit(r.audit), "cpu_seconds": r.cpu_seconds,
                      "note": r.note} for r in comp.rows],
            "notes": list(comp.notes)}


def comparison_from_json(data: dict) -> Comparison:
    rows = []
    for r in data["rows"]:
        a = r["audit"]
        summary = None if a is None else AuditSummary(a["clean"], {
            k: CategoryScore(c["findings"], c["checked"], c["score"], c.get("unknown", 0))
            for k, c in a["categories"].items()})
        rows.append(Row(r["tree"], r["state"], summary, r["cpu_seconds"], r.get("note", "")))
    return Comparison(data["date"], data["irqbalance_version"], data["host"], rows, list(data.get("notes", [])))

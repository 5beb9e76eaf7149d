"""``irqd audit MACHINE ...``: audit many machines at once, one row each.

A MACHINE is a directory laid out like / (a live root or a tree made by
``irqd capture``) or an ``irqd capture --tar`` archive, which is unpacked
into a private temporary directory and removed after (``discover/archive.py``
says what it refuses). Every machine is judged by ``audit.judge``, the very
function ``irqd audit --root`` calls, with the same config, so a row says
what the machine's own audit says. A machine that cannot be read (not a
root, a damaged or hostile archive, a discovery error) becomes a row saying
why, and the others go on.

The table has a machine per row, worst first (most counted findings), the
categories as columns (counted findings; ``-`` when nothing was checked),
and the first finding of each category that has any, cut to fit 120
columns. ``--format json`` gives every machine's counts and counted
findings, for a dashboard.

Exit status: 0 every machine clean, 1 findings on any machine, 2 any machine
could not be audited (each is named on stderr) or bad usage: ``--root``
with MACHINE arguments, ``--format html`` (html covers one machine), a bad
config.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import exits
from ..discover.archive import ArchiveError, machine_name, unpacked
from ..discover.capture import read_manifest
from ..discover.root import Root, RootError
from ..jsonfmt import dumps
from ..planner.audit import CATEGORIES, Audit
from .audit import Judged, category_json, finding_json, judge
from .common import err, load_config_or_exit

if TYPE_CHECKING:   # the model imports pydantic; judging with the defaults never needs it
    from ..config import Config

WIDTH = 120
_NAME_MAX = 28
# column heads: the category names, four of them cut so a row leaves room for the findings
_HEAD = {"isolation": "isol", "stacking": "stack", "effective": "eff", "managed": "mgd"}


@dataclass(frozen=True)
class Machine:
    name: str
    source: str                 # the argument as given
    kernel: str | None
    description: str | None     # from the capture's irqd-fixture.toml
    audit: Audit | None
    error: str | None

    @property
    def exit_code(self) -> int:
        return exits.USAGE if self.audit is None else self.audit.exit_code

    @property
    def counted(self) -> int:
        return 0 if self.audit is None else len(self.audit.counted())


def _judge_root(name: str, source: str, path: str, config: Config) -> Machine:
    try:
        meta = read_manifest(Root(path))
    except RootError:
        meta = {}
    description, kernel = meta.get("description"), meta.get("kernel") or None
    try:
        judged: Judged | str = judge(path, config)
    except Exception as e:   # one machine's surprise must not hide the rest of the fleet
        judged = f"irqd failed on it ({type(e).__name__}: {e}); please report this with the capture"
    if isinstance(judged, str):
        return Machine(name, source, kernel, description, None, judged)
    return Machine(name, source, judged.snapshot.kernel or kernel, description, judged.audit, None)


def audit_machine(source: str, config: Config) -> Machine:
    """Judge one MACHINE argument: a root directory or a capture archive."""
    name = machine_name(source)
    if os.path.isdir(source):
        return _judge_root(name, source, source, config)
    if not os.path.isfile(source):
        return Machine(name, source, None, None, None,
                       f"{source}: no such directory or archive" if not os.path.lexists(source) else
                       f"{source}: neither a directory nor a regular file")
    try:
        with unpacked(source) as where:
            m = _judge_root(name, source, where.root, config)
    except ArchiveError as e:
        return Machine(name, source, None, None, None, str(e))
    if m.error is None:
        return m
    # messages name the archive, not the temporary directory it was unpacked in
    error = m.error.replace(where.scratch + "/", f"{source}:").replace(where.scratch, source)
    return Machine(m.name, m.source, m.kernel, m.description, None, error)


def audit_fleet(sources: list[str], config: Config) -> list[Machine]:
    """Every machine judged, worst first: those that could not be audited, then by counted findings, then name."""
    machines = [audit_machine(s, config) for s in sources]
    # two machines with one name (a/web.tar.gz, b/web.tar.gz) are told apart by their source
    names = [m.name for m in machines]
    machines = [m if names.count(m.name) == 1 else
                Machine(m.source, m.source, m.kernel, m.description, m.audit, m.error) for m in machines]
    return sorted(machines, key=lambda m: (m.audit is not None, -m.counted, m.name))


def fleet_exit(machines: list[Machine]) -> int:
    return max((m.exit_code for m in machines), default=exits.OK)


# -- json ------------------------------------------------------------------------------

def machine_json(m: Machine) -> dict:
    a = m.audit
    return {
        "name": m.name,
        "source": m.source,
        "kernel": m.kernel,
        "description": m.description,
        "clean": a is not None and a.clean,
        "exit": m.exit_code,
        "error": m.error,
        "counted": None if a is None else m.counted,
        "categories": {} if a is None else {name: category_json(a, name) for name in CATEGORIES},
        "findings": [] if a is None else [finding_json(f) for f in a.counted()],
    }


def summary_json(machines: list[Machine]) -> dict:
    judged = [m for m in machines if m.audit is not None]
    return {
        "machines": len(machines),
        "clean": sum(1 for m in judged if m.counted == 0),
        "with_findings": sum(1 for m in judged if m.counted),
        "not_audited": [m.name for m in machines if m.audit is None],
        "findings": sum(m.counted for m in judged),
        "categories": {name: {"title": title,
                              "machines": sum(1 for m in judged if m.audit and m.audit.counted(name)),
                              "findings": sum(len(m.audit.counted(name)) for m in judged if m.audit)}
                       for name, title in CATEGORIES.items()},
        "exit": fleet_exit(machines),
    }


def render_json(machines: list[Machine]) -> str:
    return dumps({"machines": [machine_json(m) for m in machines], "summary": summary_json(machines)})


# -- table -----------------------------------------------------------------------------

def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."


def _clip_middle(text: str, width: int) -> str:
    # host names differ at their ends (web-0117) as often as at their starts
    if len(text) <= width:
        return text
    left = (width - 3) // 2
    return text[:left] + "..." + text[len(text) - (width - 3 - left):]


def _cell(a: Audit, name: str) -> str:
    n = len(a.counted(name))
    return "-" if n == 0 and a.scores[name].checked == 0 else str(n)


def worst(a: Audit) -> str:
    """The first counted finding of each category that has one, in category order."""
    firsts = []
    for name in CATEGORIES:
        found = a.counted(name)
        if found:
            firsts.append(f"{found[0].subject}: {found[0].problem}")
    return " | ".join(firsts) if firsts else "clean"


def render_table(machines: list[Machine]) -> str:
    heads = [_HEAD.get(name, name) for name in CATEGORIES]
    rows = [(m, _clip_middle(m.name, _NAME_MAX), None if m.audit is None else [_cell(m.audit, c) for c in CATEGORIES])
            for m in machines]
    hit = [str(sum(1 for m in machines if m.audit and m.audit.counted(c))) for c in CATEGORIES]
    name_w = max([len("machines hit")] + [len(name) for _, name, _ in rows])
    widths = [max(len(heads[i]), len(hit[i]), *(len(cells[i]) for _, _, cells in rows if cells))
              for i in range(len(heads))]
    total_w = max(len("total"), *(len(str(m.counted)) for m in machines))

    def line(name: str, cells: list[str], total: str, text: str) -> str:
        left = f"{name:<{name_w}}  " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths)) + f" {total:>{total_w}}  "
        return (left + _clip(text, max(WIDTH - len(left), 20))).rstrip()

    out = [f"Fleet audit of {len(machines)} machine(s): counted findings per category, "
           "'-' where nothing was checked",
           line("machine", heads, "total", "worst findings (the first of each category)")]
    for m, name, cells in rows:
        if m.audit is None or cells is None:
            out.append(_clip(f"{name:<{name_w}}  cannot audit: {m.error}", WIDTH))
        else:
            out.append(line(name, cells, str(m.counted), worst(m.audit)))
    out.append(line("machines hit", hit, "", ""))
    out.append("")
    out.append("Columns: " + ", ".join(f"{h} {name}" for name, h in _HEAD.items())
               + ". Every finding of one machine: irqd audit --root DIR")
    s = summary_json(machines)
    text = (f"Result: {s['machines']} machine(s): {s['clean']} clean, {s['with_findings']} with findings, "
            f"{s['findings']} findings in all")
    if s["not_audited"]:
        text += f", {len(s['not_audited'])} could not be audited ({', '.join(s['not_audited'])})"
    out.append(f"{text}; exit {s['exit']}")
    return "\n".join(out) + "\n"


def run_fleet(args) -> int:
    if args.root is not None:
        err("audit: --root reads one machine; with MACHINE arguments name every machine as an argument")
        return exits.USAGE
    if args.format == "html":
        err("audit: --format html covers one machine; use --format table or json with several")
        return exits.USAGE
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.USAGE
    machines = audit_fleet(list(args.machines), config)
    for m in machines:
        if m.error is not None:
            err(f"cannot audit {m.name}: {m.error}")
    sys.stdout.write(render_json(machines) if args.format == "json" else render_table(machines))
    return fleet_exit(machines)

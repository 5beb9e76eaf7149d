"""``irqd plan --format svg|html`` and ``irqd audit --format html``: the plan as a picture.

Pure functions of a snapshot and a plan (and, for the audit, its findings):
``render_svg``, ``render_html``, ``render_audit_html``. Same input, same
bytes: everything drawn is sorted, nothing depends on time or dict order.

What is drawn, once for *now* and once for *after the plan*, side by side:
NUMA nodes as regions, cores as boxes, SMT threads as cells inside (one
``<rect class="cpu" data-cpu=N>`` per online CPU); excluded CPUs (isolated,
nohz_full, banned ...) hatched, with every source that excluded them in the
cell's ``<title>``; each queue IRQ as one small mark on the CPU it runs on
(one ``<rect class="irq" data-irq=N>`` per queue IRQ), coloured by NIC, round
when kernel-managed, hollow when its affinity allows several CPUs; a strip
along the top of a cell when the CPU is in an XPS map (it sends through that
tx queue) and along the bottom when it is in an RPS map (rx queues steer to
it), coloured by NIC, grey when several NICs share it. Hover any cell or mark
for the details.

At 1,024 CPUs the picture summarises instead of labelling: CPU numbers are
printed only up to ``LABEL_CPUS`` online CPUs; beyond that a cell carries no
text, each node region has one summary line, and a cell with more queue IRQs
than fit shows their count. Marks and cells stay (one element each), so the
size grows linearly: 1.9 MB of SVG for 1,024 CPUs, 16 nodes and 2,430 queue IRQs
(tests/machinegen.py large_specs()[1]), drawn in about 0.2 s.

Where the kernel is not told which CPU an IRQ runs on (no
``effective_affinity``: old kernels, some interrupt chips), the *now* side
draws the IRQ hollow on the lowest CPU its affinity allows: irqd cannot know
which of them the chip picks.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

# The one line to change if CPU-list formatting moves again.
from ..cpuset import format_list, parse_list
from ..plan import IrqPlan, Plan
from ..snapshot import NET_QUEUE, Snapshot

LABEL_CPUS = 128          # print CPU numbers up to this many online CPUs
TITLE_ITEMS = 8           # list at most this many items in one hover text
CELL_W, CELL_H = 20, 24   # one SMT thread
MARK, MARK_STEP = 5, 6    # one queue IRQ mark, 3 x 3 per cell
MARKS_PER_CELL = 9
GAP = 4
NODE_HEAD = 18
PANEL_HEAD = 26
MIN_PANEL_W = 340

# Distinct, colour-blind-friendlier first (Okabe-Ito + Tableau), then golden-angle hues.
_PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#8c564b",
            "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#f0e442")

_CSS = """
svg.irqd { font-family: sans-serif; }
.irqd text { fill: #222; }
.irqd .panel-title { font-size: 15px; font-weight: bold; }
.irqd .node { fill: #f6f6f2; stroke: #b8b8b0; }
.irqd .node-label { font-size: 11px; }
.irqd .core { fill: #e4e4de; stroke: #a0a098; stroke-width: 0.5; }
.irqd .cpu { fill: #ffffff; stroke: #8c8c84; stroke-width: 0.5; }
.irqd .cpu.excluded { fill: url(#hatch); }
.irqd .cpu.finding { stroke: #d00000; stroke-width: 2; }
.irqd .cpu-label { font-size: 7px; fill: #555; }
.irqd .count { font-size: 9px; font-weight: bold; fill: #000; }
.irqd .irq.wide { fill: #ffffff; stroke-width: 1.2; }
.irqd .legend { font-size: 11px; }
"""


def _nic_colours(nics: Iterable[str]) -> dict[str, str]:
    out = {}
    for i, name in enumerate(sorted(set(nics))):
        if i < len(_PALETTE):
            out[name] = _PALETTE[i]
        else:
            out[name] = f"hsl({(i * 137.508) % 360:.0f},65%,42%)"
    return out


def _v(cpus) -> str:
    return format_list(cpus) or "-"


@dataclass
class _Mark:
    irq: int
    nic: str
    queue: int | None
    cpu: int
    cpus: frozenset[int]       # all CPUs its affinity allows on this side
    managed: bool
    text: str


@dataclass
class _Side:
    """One half of the picture: where queue IRQs run and which CPUs are in RPS/XPS maps."""

    title: str
    marks: dict[int, list[_Mark]] = field(default_factory=lambda: defaultdict(list))
    unplaced: list[str] = field(default_factory=list)    # queue IRQs on no online CPU
    rps: dict[int, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    xps: dict[int, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))


@dataclass(frozen=True)
class _Core:
    label: str
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class _Node:
    node: int | None
    cores: tuple[_Core, ...]


# -- the model ---------------------------------------------------------------------

def _layout_nodes(snap: Snapshot) -> list[_Node]:
    by_node: dict[int | None, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
    for cpu in sorted(snap.online):
        node = snap.cpu_node.get(cpu)
        t = snap.topology.get(cpu)
        if t is None:
            key: tuple = ("cpu", cpu)
        elif t.core is not None:
            key = ("core", t.package if t.package is not None else -1, t.die if t.die is not None else -1, t.core)
        else:
            # no core id: the sibling list is the core
            key = ("siblings", min(t.siblings))
        by_node[node][key].append(cpu)
    out = []
    for node in sorted(by_node, key=lambda n: (n is None, n if n is not None else 0)):
        cores = []
        for key, cpus in sorted(by_node[node].items(), key=lambda kv: min(kv[1])):
            if key[0] == "core":
                label = f"package {key[1]} core {key[3]}" if key[1] >= 0 else f"core {key[3]}"
            else:
                label = "core of CPU " + str(min(cpus))
            cores.append(_Core(label, tuple(cpus)))
        out.append(_Node(node, tuple(cores)))
    return out


def _managed(snap: Snapshot, p: IrqPlan) -> bool:
    i = snap.irqs.get(p.irq)
    return (i is not None and i.managed is not None) or p.reason.startswith("kernel-managed")


def _runs_on(snap: Snapshot, p: IrqPlan) -> frozenset[int] | None:
    """Where an IRQ runs now: the kernel's effective affinity, else the affinity it was given."""
    i = snap.irqs.get(p.irq)
    if i is not None and i.effective:
        return frozenset(i.effective)
    return frozenset(p.before) if p.before is not None else None


def _sides(snap: Snapshot, plan: Plan) -> tuple[_Side, _Side]:
    now, after = _Side("now"), _Side("after the plan")
    online = snap.online
    for p in sorted(plan.irqs, key=lambda p: p.irq):
        if p.cls != NET_QUEUE or p.nic is None:
            continue
        managed = _managed(snap, p)
        before = _runs_on(snap, p)
        target = frozenset(p.after) if p.after is not None else before
        label = f"irq {p.irq} {p.name} ({p.nic} queue {p.queue if p.queue is not None else '?'})"
        for side, cpus, text in (
                (now, before, f"{label}\nnow: CPU {_v(before) if before is not None else '?'}"),
                (after, target, (f"{label}\nafter: CPU {_v(target) if target is not None else '?'}"
                                f"{'' if p.changes else ' (unchanged)'}\n{p.reason}"))):
            here = (cpus or frozenset()) & online
            if not here:
                side.unplaced.append(label)
                continue
            cpu = min(here)
            if managed:
                text += "\nkernel-managed: no tool can move it"
            side.marks[cpu].append(_Mark(p.irq, p.nic, p.queue, cpu, here, managed, text))

    planned = {(q.dev, q.queue, q.attr): q for q in plan.queues}
    for nic in sorted(snap.nics, key=lambda n: n.name):
        for rx in nic.rx:
            q = planned.get((nic.name, f"rx-{rx.index}", "rps_cpus"))
            before_set = rx.rps_cpus or frozenset()
            after_set = q.after if q is not None and isinstance(q.after, frozenset) else before_set
            for side, cpus in ((now, before_set), (after, after_set)):
                for cpu in sorted(cpus & online):
                    side.rps[cpu][nic.name].append(rx.index)
        for tx in nic.tx:
            q = planned.get((nic.name, f"tx-{tx.index}", "xps_cpus"))
            before_set = tx.xps_cpus or frozenset()
            after_set = q.after if q is not None and isinstance(q.after, frozenset) else before_set
            for side, cpus in ((now, before_set), (after, after_set)):
                for cpu in sorted(cpus & online):
                    side.xps[cpu].append((nic.name, tx.index))
    return now, after


def _excluded(plan: Plan) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for source in sorted(plan.excluded):
        for cpu in sorted(plan.excluded[source]):
            out[cpu].append(source)
    return out


def _listed(items: list[str]) -> str:
    if len(items) <= TITLE_ITEMS:
        return ", ".join(items)
    return ", ".join(items[:TITLE_ITEMS]) + f" ... and {len(items) - TITLE_ITEMS} more"


def _ranges(numbers: list[int]) -> str:
    return format_list(numbers)


# -- drawing -----------------------------------------------------------------------

class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.texts = 0

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(self, x: float, y: float, cls: str, s: str, anchor: str = "start") -> None:
        self.texts += 1
        extra = f' text-anchor="{anchor}"' if anchor != "start" else ""
        self.add(f'<text x="{x:g}" y="{y:g}" class="{cls}"{extra}>{escape(s)}</text>')


def _core_size(threads: int, labels: bool) -> tuple[int, int]:
    return 2 + threads * (CELL_W + 2), 2 + (9 if labels else 0) + CELL_H + 2


def _node_cols(cores: int, threads: int) -> int:
    return max(1, min(cores, max(1, 16 // max(1, threads))))


def _node_size(n: _Node, threads: int, labels: bool) -> tuple[int, int]:
    cw, ch = _core_size(threads, labels)
    cols = _node_cols(len(n.cores), threads)
    rows = math.ceil(len(n.cores) / cols)
    return GAP + cols * (cw + GAP), NODE_HEAD + rows * (ch + GAP) + GAP


@dataclass
class _Geometry:
    threads: int
    labels: bool
    node_cols: int
    node_w: int
    node_h: list[int]      # per row of nodes
    panel_w: int
    panel_h: int


def _geometry(nodes: list[_Node], online: int) -> _Geometry:
    threads = max((len(c.cpus) for n in nodes for c in n.cores), default=1)
    labels = online <= LABEL_CPUS
    sizes = [_node_size(n, threads, labels) for n in nodes]
    node_w = max((w for w, _ in sizes), default=100)
    # as many node columns as keep one panel about as tall as wide, preferring full rows of nodes
    tallest = max((h for _, h in sizes), default=100)
    count = max(1, len(nodes))

    def skew(c: int) -> float:
        return abs(math.log((c * (node_w + GAP)) / (math.ceil(count / c) * (tallest + GAP))))

    even = [c for c in range(1, count + 1) if count % c == 0 and skew(c) < 1.0]
    node_cols = min(even or range(1, count + 1), key=lambda c: (skew(c), c))
    # nodes fill the panel's minimum width, so a small machine's labels fit
    node_w = max(node_w, (MIN_PANEL_W - GAP) // node_cols - GAP)
    rows = [sizes[i:i + node_cols] for i in range(0, len(sizes), node_cols)]
    node_h = [max(h for _, h in row) for row in rows]
    panel_w = node_cols * (node_w + GAP) + GAP
    panel_h = PANEL_HEAD + sum(h + GAP for h in node_h) + GAP
    return _Geometry(threads, labels, node_cols, node_w, node_h, panel_w, panel_h)


def _cell_title(snap: Snapshot, cpu: int, node: int | None, core: _Core, side: _Side,
                excluded: Mapping[int, list[str]], findings: Mapping[int, list[int]]) -> str:
    lines = [f"CPU {cpu} (node {node if node is not None else '?'}, {core.label}, threads {_v(core.cpus)})"]
    if cpu in excluded:
        lines.append("excluded: " + ", ".join(excluded[cpu]))
    marks = side.marks.get(cpu, [])
    if marks:
        lines.append(f"{len(marks)} queue IRQ(s): " + _listed(
            [f"{m.nic} q{m.queue if m.queue is not None else '?'} (irq {m.irq}{', managed' if m.managed else ''})"
             for m in marks]))
    rps = side.rps.get(cpu)
    if rps:
        lines.append("RPS: " + _listed([f"{nic} rx {_ranges(qs)}" for nic, qs in sorted(rps.items())]))
    xps = side.xps.get(cpu)
    if xps:
        lines.append("XPS: " + _listed([f"{nic} tx-{q}" for nic, q in xps]))
    if cpu in findings:
        lines.append("findings: " + ", ".join(f"#{n}" for n in findings[cpu]))
    return "\n".join(lines)


def _strip(svg: _Svg, x: float, y: float, nics: list[str], colours: Mapping[str, str], cls: str) -> None:
    names = sorted(set(nics))
    colour = colours[names[0]] if len(names) == 1 else "#555555"
    svg.add(f'<rect x="{x + 1:g}" y="{y:g}" width="{CELL_W - 2}" height="2" class="{cls}" fill="{colour}"/>')


def _draw_panel(svg: _Svg, snap: Snapshot, nodes: list[_Node], geo: _Geometry, side: _Side, x0: int,
                colours: Mapping[str, str], excluded: Mapping[int, list[str]],
                findings: Mapping[int, list[int]]) -> None:
    svg.add(f'<g class="panel" data-side={quoteattr(side.title)}>')
    queue_irqs = sum(len(v) for v in side.marks.values())
    svg.text(x0 + GAP, 18, "panel-title", f"{side.title}: {queue_irqs} queue IRQs on CPUs"
             + (f", {len(side.unplaced)} on no online CPU" if side.unplaced else ""))
    cw, ch = _core_size(geo.threads, geo.labels)
    y_row = PANEL_HEAD
    for r in range(0, len(nodes), geo.node_cols):
        row_h = geo.node_h[r // geo.node_cols]
        for c, n in enumerate(nodes[r:r + geo.node_cols]):
            nx = x0 + GAP + c * (geo.node_w + GAP)
            cpus = [cpu for core in n.cores for cpu in core.cpus]
            nirq = sum(len(side.marks.get(cpu, [])) for cpu in cpus)
            nexcl = sum(1 for cpu in cpus if cpu in excluded)
            name = f"node {n.node}" if n.node is not None else "no NUMA node"
            svg.add(f'<g class="node-region" data-node="{n.node if n.node is not None else -1}">')
            svg.add(f'<rect x="{nx}" y="{y_row}" width="{geo.node_w}" height="{row_h}" rx="4" class="node"/>')
            summary = f"{name}: CPUs {_v(cpus)}, {nirq} queue IRQs" + (f", {nexcl} excluded" if nexcl else "")
            svg.text(nx + 5, y_row + 13, "node-label", summary)
            cols = _node_cols(len(n.cores), geo.threads)
            for k, core in enumerate(n.cores):
                cx = nx + GAP + (k % cols) * (cw + GAP)
                cy = y_row + NODE_HEAD + (k // cols) * (ch + GAP)
                svg.add(f'<rect x="{cx}" y="{cy}" width="{cw}" height="{ch}" rx="2" class="core"/>')
                for t, cpu in enumerate(core.cpus):
                    tx = cx + 2 + t * (CELL_W + 2)
                    ty = cy + 2 + (9 if geo.labels else 0)
                    if geo.labels:
                        svg.text(tx + CELL_W / 2, cy + 9, "cpu-label", str(cpu), anchor="middle")
                    _draw_cell(svg, snap, cpu, n.node, core, side, tx, ty, colours, excluded, findings)
            svg.add("</g>")
        y_row += row_h + GAP
    svg.add("</g>")


def _draw_cell(svg: _Svg, snap: Snapshot, cpu: int, node: int | None, core: _Core, side: _Side, x: int, y: int,
               colours: Mapping[str, str], excluded: Mapping[int, list[str]],
               findings: Mapping[int, list[int]]) -> None:
    cls = "cpu"
    attrs = f' data-cpu="{cpu}"'
    if cpu in excluded:
        cls += " excluded"
        # space-separated: a source name may hold commas (cmdline:isolcpus(managed_irq,domain))
        attrs += f' data-excluded={quoteattr(" ".join(excluded[cpu]))}'
    if cpu in findings:
        cls += " finding"
        attrs += f' data-findings="{",".join(str(n) for n in findings[cpu])}"'
    title = _cell_title(snap, cpu, node, core, side, excluded, findings)
    svg.add(f'<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" class="{cls}"{attrs}>'
            f'<title>{escape(title)}</title></rect>')
    if cpu in side.xps:
        _strip(svg, x, y + 1, [nic for nic, _ in side.xps[cpu]], colours, "xps")
    if cpu in side.rps:
        _strip(svg, x, y + CELL_H - 3, list(side.rps[cpu]), colours, "rps")
    marks = side.marks.get(cpu, [])
    for i, m in enumerate(marks):
        slot = i % MARKS_PER_CELL
        mx = x + 2 + (slot % 3) * MARK_STEP + 0.5
        my = y + 4 + (slot // 3) * MARK_STEP
        colour = colours.get(m.nic, "#000000")
        mcls = "irq" + (" managed" if m.managed else "") + (" wide" if len(m.cpus) > 1 else "")
        paint = f'stroke="{colour}"' if len(m.cpus) > 1 else f'fill="{colour}"'
        rx = ' rx="2.5"' if m.managed else ""
        svg.add(f'<rect x="{mx:g}" y="{my}" width="{MARK}" height="{MARK}"{rx} class="{mcls}" {paint}'
                f' data-irq="{m.irq}" data-nic={quoteattr(m.nic)}><title>{escape(m.text)}</title></rect>')
    if len(marks) > MARKS_PER_CELL:
        # more than fit: the number says how many are stacked here
        svg.add(f'<rect x="{x + 1}" y="{y + 6}" width="{CELL_W - 2}" height="12" fill="#ffffff" opacity="0.85"/>')
        svg.text(x + CELL_W / 2, y + 15.5, "count", str(len(marks)), anchor="middle")


_KEYS = (("irq", "queue IRQ (colour: NIC)"), ("managed", "kernel-managed IRQ"),
         ("wide", "IRQ allowed on several CPUs (drawn on the lowest)"), ("excluded", "excluded CPU (hover: why)"),
         ("xps", "top strip: CPU in an XPS map"), ("rps", "bottom strip: CPU in an RPS map (grey: several NICs)"),
         ("count", "number: queue IRQs stacked on one CPU"))


def _flow(svg: _Svg, items: list[tuple[str, str]], x0: int, y: int, width: int) -> int:
    """Swatch-and-label items left to right, wrapping; returns the y of the last line."""
    x: float = x0
    for glyph, label in items:
        w = 16 + 6.2 * len(label) + 16
        if x + w > width and x > x0:
            x = x0
            y += 16
        svg.add(glyph.format(x=f"{x:g}", y=y + 2))
        svg.text(x + 16, y + 11, "legend", label)
        x += w
    return y


def _glyph(key: str) -> str:
    if key == "irq":
        return '<rect x="{x}" y="{y}" width="10" height="10" fill="#333333"/>'
    if key == "managed":
        return '<rect x="{x}" y="{y}" width="10" height="10" rx="5" fill="#333333"/>'
    if key == "wide":
        return '<rect x="{x}" y="{y}" width="10" height="10" fill="#ffffff" stroke="#333333" stroke-width="1.5"/>'
    if key == "excluded":
        return '<rect x="{x}" y="{y}" width="10" height="10" fill="url(#hatch)" stroke="#8c8c84"/>'
    if key == "xps":
        return '<rect x="{x}" y="{y}" width="12" height="3" fill="#333333"/>'
    if key == "rps":
        return '<rect x="{x}" y="{y}" width="12" height="3" transform="translate(0,7)" fill="#333333"/>'
    return '<rect x="{x}" y="{y}" width="10" height="10" fill="#ffffff" stroke="#8c8c84"/>'


def _legend(svg: _Svg, snap: Snapshot, colours: Mapping[str, str], y0: int, width: int) -> int:
    """Symbols, then NIC colours; returns the height used."""
    y = _flow(svg, [(_glyph(k), text) for k, text in _KEYS], GAP, y0 + 4, width)
    nics = []
    for nic in sorted(colours):
        n = snap.nic(nic)
        node = n.numa_node if n is not None and n.numa_node is not None and n.numa_node >= 0 else "?"
        label = nic + (f" ({n.driver}, node {node})" if n else "")
        nics.append((f'<rect x="{{x}}" y="{{y}}" width="10" height="10" fill="{colours[nic]}" class="swatch"/>',
                     label))
    y = _flow(svg, nics, GAP, y + 20, width)
    return y + 20 - y0


def _finding_map(findings: Mapping[int, list[int]] | None) -> Mapping[int, list[int]]:
    return findings or {}


def _svg(snap: Snapshot, plan: Plan, findings: Mapping[int, list[int]] | None = None) -> str:
    nodes = _layout_nodes(snap)
    geo = _geometry(nodes, len(snap.online))
    now, after = _sides(snap, plan)
    queue_nics = {p.nic for p in plan.irqs if p.cls == NET_QUEUE and p.nic is not None}
    colours = _nic_colours(queue_nics | {nic for side in (now, after) for v in side.rps.values() for nic in v}
                           | {nic for side in (now, after) for v in side.xps.values() for nic, _ in v})
    excluded = _excluded(plan)
    fmap = _finding_map(findings)
    width = 2 * geo.panel_w + 3 * GAP
    body = _Svg()
    _draw_panel(body, snap, nodes, geo, now, 0, colours, excluded, fmap)
    _draw_panel(body, snap, nodes, geo, after, geo.panel_w + 2 * GAP, colours, excluded, {})
    legend = _Svg()
    lh = _legend(legend, snap, colours, geo.panel_h, width)
    height = geo.panel_h + lh
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="irqd" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" data-online="{len(snap.online)}" '
            f'data-texts="{body.texts + legend.texts}">'
            f'<style>{_CSS}</style>'
            '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="5" height="5" fill="#f2d7d5"/>'
            '<line x1="0" y1="0" x2="0" y2="5" stroke="#c0392b" stroke-width="1.5"/></pattern></defs>'
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    return "\n".join([head, *body.parts, *legend.parts, "</svg>"]) + "\n"


def render_svg(snapshot: Snapshot, plan: Plan) -> str:
    """The plan as one standalone SVG: now on the left, after the plan on the right."""
    return _svg(snapshot, plan)


# -- HTML ----------------------------------------------------------------------------

_PAGE_CSS = """
body { font-family: sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px 0; }
p.meta { margin: 2px 0 10px 0; color: #444; }
div.picture { overflow: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f0f0ea; }
span.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
"""


def _page(title: str, meta: list[str], svg: str, tables: list[str]) -> str:
    out = ['<!DOCTYPE html>',
           '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">',
           '<head><meta charset="utf-8"/>',
           f'<title>{escape(title)}</title>',
           f'<style>{_PAGE_CSS}</style></head>',
           '<body>',
           f'<h1>{escape(title)}</h1>']
    out += [f'<p class="meta">{escape(m)}</p>' for m in meta]
    out.append('<div class="picture">')
    out.append(svg.rstrip("\n"))
    out.append('</div>')
    out += tables
    out.append('</body></html>')
    return "\n".join(out) + "\n"


def _table(headers: list[str], rows: list[list[str]], cls: str) -> str:
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _meta(snap: Snapshot, plan: Plan) -> list[str]:
    s = plan.summary()
    return [(f"root {snap.root}; kernel {snap.kernel or 'unknown'}; {len(snap.online)} online CPUs in "
            f"{len(snap.nodes) or 1} NUMA node(s); eligible CPUs {_v(plan.eligible)}"),
            (f"{s['irqs_move']} IRQs move, {s['rps_maps_set']} RPS maps set, {s['xps_maps_set']} XPS maps set, "
            f"{s['managed_left_alone']} managed IRQs left alone")]


def _common_tables(snap: Snapshot, plan: Plan) -> list[str]:
    nic_rows = []
    queue_irqs: dict[str, int] = defaultdict(int)
    for p in plan.irqs:
        if p.cls == NET_QUEUE and p.nic is not None:
            queue_irqs[p.nic] += 1
    for n in sorted(snap.nics, key=lambda n: n.name):
        nic_rows.append([n.name, n.driver or "?", str(n.numa_node) if n.numa_node is not None else "?", n.kind,
                         f"{len(n.rx)} rx / {len(n.tx)} tx", str(queue_irqs.get(n.name, 0))])
    excl_rows = [[source, _v(cpus)] for source, cpus in sorted(plan.excluded.items())]
    out = [_table(["NIC", "driver", "node", "kind", "queues", "queue IRQs"], nic_rows, "nics")]
    if excl_rows:
        out.append(_table(["excluded by", "CPUs"], excl_rows, "excluded"))
    return out


def render_html(snapshot: Snapshot, plan: Plan, title: str = "irqd plan") -> str:
    """One self-contained HTML page: the SVG inline, CSS inline, no scripts, no external assets."""
    return _page(title, _meta(snapshot, plan), render_svg(snapshot, plan), _common_tables(snapshot, plan))


# -- audit ---------------------------------------------------------------------------

_SUBJECT_CPUS = re.compile(r"\bCPU ([0-9][0-9,\-]*)")
_SUBJECT_IRQ = re.compile(r"^irq ([0-9]+)\b")
_PROBLEM_CPUS = (re.compile(r"\bexcluded CPU ([0-9][0-9,\-]*)"),     # isolation: the excluded CPUs themselves
                 re.compile(r"\bsibling threads ([0-9][0-9,\-]*)"),  # smt: the siblings sharing queues
                 re.compile(r"\bruns on CPU ([0-9][0-9,\-]*)"))
_SUBJECT_QUEUE = re.compile(r"^(\S+) (rx|tx)-([0-9]+)\b")


def finding_cpus(snapshot: Snapshot, finding) -> frozenset[int]:
    """The CPUs a finding is about, as well as its text tells.

    A ``cpus`` attribute on the finding wins (proposed for audit.Finding);
    else the CPUs its subject names (``eth0 CPU 3``, ``package 0 core 2
    (CPU 2,42)``); else the excluded CPUs or SMT siblings its problem names;
    else where the IRQ it names runs; else the CPU its problem says something
    runs on; else the CPUs of the queue's IRQ. Empty when the finding is
    about no CPU (the RFS global table, say).
    """
    explicit = getattr(finding, "cpus", None)
    if explicit is not None:
        return frozenset(explicit) & snapshot.online
    subject, problem = finding.subject, finding.problem

    def parsed(text: str) -> frozenset[int]:
        try:
            return frozenset(parse_list(text.rstrip(",-"))) & snapshot.online
        except ValueError:
            return frozenset()

    def runs_on(irq: int) -> frozenset[int]:
        i = snapshot.irqs.get(irq)
        return frozenset(i.effective or i.affinity or ()) & snapshot.online if i is not None else frozenset()

    if m := _SUBJECT_CPUS.search(subject):
        return parsed(m.group(1))
    for pattern in _PROBLEM_CPUS[:2]:
        if m := pattern.search(problem):
            return parsed(m.group(1))
    if m := _SUBJECT_IRQ.match(subject):
        return runs_on(int(m.group(1)))
    if m := _PROBLEM_CPUS[2].search(problem):
        return parsed(m.group(1))
    if m := _SUBJECT_QUEUE.match(subject):
        nic, direction, queue = snapshot.nic(m.group(1)), m.group(2), int(m.group(3))
        for irq, ref in nic.queue_irqs if nic is not None else ():
            if (ref.queue == queue or queue in ref.extra) and ref.direction in ("rxtx", direction):
                return runs_on(irq)
    return frozenset()


def render_audit_html(snapshot: Snapshot, plan: Plan, audit, title: str = "irqd audit",
                      cpus: Mapping[int, Iterable[int]] | None = None) -> str:
    """The plan's picture with each audit finding marked (red outline, ``#n`` on hover) on its CPUs, *now* side.

    ``cpus`` maps a finding's index in ``audit.findings`` to its CPUs when the
    caller knows them; otherwise ``finding_cpus`` derives them from the text.
    """
    per_cpu: dict[int, list[int]] = defaultdict(list)
    rows = []
    for n, f in enumerate(audit.findings, start=1):
        where = frozenset(cpus[n - 1]) if cpus is not None and (n - 1) in cpus else finding_cpus(snapshot, f)
        for cpu in sorted(where & snapshot.online):
            per_cpu[cpu].append(n)
        rows.append([f"#{n}", f.category, f.subject, f.problem, f.plan, _v(where) if where else "-",
                     "yes" if f.counted else "no (informational)"])
    svg = _svg(snapshot, plan, {cpu: per_cpu[cpu] for cpu in sorted(per_cpu)})
    counted = sum(1 for f in audit.findings if f.counted)
    meta = _meta(snapshot, plan) + [(f"{counted} counted finding(s), {len(audit.findings) - counted} informational; "
                                    "findings are outlined in red on the 'now' side")]
    tables = [_table(["#", "category", "subject", "problem", "the plan", "CPUs", "counted"], rows, "findings")]
    return _page(title, meta, svg, tables + _common_tables(snapshot, plan))

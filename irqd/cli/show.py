"""``irqd show``: the snapshot for people (table) and for scripts (JSON).

The JSON shape is documented in the README and held stable by the golden
files in ``fixtures/sysfs/*/show.json``.
"""

from __future__ import annotations

from collections import defaultdict

from ..cpuset import format_list
from ..jsonfmt import dumps
from ..snapshot import Irq, Nic, Snapshot


def _cpus(cpus) -> list[int] | None:
    return None if cpus is None else sorted(cpus)


def snapshot_json(s: Snapshot) -> dict:
    return {
        "kernel": s.kernel,
        "cpus": {
            "online": _cpus(s.online),
            "possible": _cpus(s.possible),
            "housekeeping": _cpus(s.housekeeping),
            "isolated": {
                "cpus": _cpus(s.isolation.cpus),
                "sources": {k: _cpus(v) for k, v in sorted(s.isolation.sources.items())},
            },
            "topology": [
                {"cpu": t.cpu, "node": s.cpu_node.get(t.cpu), "package": t.package, "die": t.die,
                 "core": t.core, "siblings": _cpus(t.siblings), "llc": _cpus(t.llc), "llc_level": t.llc_level}
                for t in (s.topology[c] for c in sorted(s.topology))
            ],
        },
        "nodes": {str(n): _cpus(node.cpus) for n, node in sorted(s.nodes.items())},
        "node_distances": {str(n): {str(k): v for k, v in sorted(node.distances.items())}
                           for n, node in sorted(s.nodes.items())},
        "nics": [_nic_json(n) for n in s.nics],
        "irqs": [_irq_json(i) for _, i in sorted(s.irqs.items())],
        "rps_sock_flow_entries": s.rps_sock_flow_entries,
        "problems": [str(p).replace(s.root.rstrip("/") + "/", "/") if s.root != "/" else str(p) for p in s.problems],
    }


def _nic_json(n: Nic) -> dict:
    return {
        "name": n.name,
        "driver": n.driver,
        "pci": n.pci,
        "numa_node": n.numa_node,
        "local_cpus": _cpus(n.local_cpus),
        "kind": n.kind,
        "devtype": n.devtype,
        "rx_queues": len(n.rx),
        "tx_queues": len(n.tx),
        "queue_irqs": {str(irq): ref.queue for irq, ref in n.queue_irqs},
        "queue_directions": {str(irq): ref.direction for irq, ref in n.queue_irqs},
        "other_irqs": list(n.other_irqs),
        "mapping_note": n.mapping_note,
        "rps_cpus": {str(q.index): _cpus(q.rps_cpus) for q in n.rx},
        "rps_flow_cnt": {str(q.index): q.rps_flow_cnt for q in n.rx},
        "xps_cpus": {str(q.index): _cpus(q.xps_cpus) for q in n.tx},
    }


def _irq_json(i: Irq) -> dict:
    return {
        "irq": i.irq,
        "name": i.name,
        "chip": i.chip,
        "device": i.device,
        "class": i.cls,
        "nic": i.nic,
        "queue": None if i.queue is None else i.queue.queue,
        "managed": i.managed,
        "managed_reason": i.managed_reason,
        "movable": i.movable,
        "node": i.node,
        "affinity": _cpus(i.affinity),
        "effective_affinity": _cpus(i.effective),
        "affinity_hint": _cpus(i.hint),
        "total": i.total,
    }


def render_json(s: Snapshot) -> str:
    return dumps(snapshot_json(s))


def _fmt(cpus) -> str:
    if cpus is None:
        return "?"
    return format_list(cpus) or "-"


def render_table(s: Snapshot) -> str:
    out: list[str] = []
    w = out.append
    w(f"Machine: {s.root}" + (f"  (kernel {s.kernel})" if s.kernel else ""))
    w(f"CPUs online {_fmt(s.online)}; housekeeping {_fmt(s.housekeeping)}; isolated {_fmt(s.isolation.cpus)}")
    for source, cpus in sorted(s.isolation.sources.items()):
        w(f"  kept free by {source}: {_fmt(cpus)}")
    w("")
    w("NUMA nodes")
    nodes = s.nodes or {}
    for n, node in sorted(nodes.items()):
        cores = defaultdict(set)
        for cpu in node.cpus:
            t = s.topology.get(cpu)
            key = (t.package, t.core) if t and t.core is not None else (None, cpu)
            cores[key].add(cpu)
        threads = max((len(c) for c in cores.values()), default=0)
        llc_sets = {llc for c in node.cpus if c in s.topology and (llc := s.topology[c].llc)}
        llcs = [format_list(x) for x in sorted(llc_sets, key=min)]
        dist = " ".join(f"{k}:{v}" for k, v in sorted(node.distances.items()))
        w(f"  node {n}: CPUs {_fmt(node.cpus)}  ({len(cores)} cores x {threads} threads)  distance {dist or '?'}")
        if llcs:
            w(f"    last-level caches: {'; '.join(llcs[:8])}{' ...' if len(llcs) > 8 else ''}")
        groups = sorted("/".join(map(str, sorted(c))) for c in cores.values())
        groups.sort(key=lambda g: int(g.split("/")[0]))
        line = "    cores (SMT threads):"
        for g in groups:
            if len(line) + len(g) + 1 > 100:
                w(line)
                line = "     "
            line += " " + g
        w(line)
    if not nodes:
        w("  (no /sys/devices/system/node: one node assumed)")
    w("")
    w("Network devices")
    for nic in s.nics:
        where = f"node {nic.numa_node}" if nic.numa_node is not None else "node ?"
        w(f"  {nic.name}: {nic.kind}, driver {nic.driver or '-'}, pci {nic.pci or '-'}, {where}, "
          f"local CPUs {_fmt(nic.local_cpus)}, rx {len(nic.rx)} tx {len(nic.tx)}")
        if nic.mapping_note:
            w(f"    ! {nic.mapping_note}")
        rps = {q.index: q.rps_cpus for q in nic.rx}
        xps = {q.index: q.xps_cpus for q in nic.tx}
        if nic.queue_irqs:
            w(f"    {'queue':>8} {'irq':>6}  {'affinity':<16} {'effective':<10} {'rps':<12} xps")
            for irq, ref in nic.queue_irqs:
                i = s.irqs[irq]
                label = f"{ref.direction}-{ref.queue}"
                w(f"    {label:>8} {irq:>6}  {_fmt(i.affinity):<16} {_fmt(i.effective):<10} "
                  f"{_fmt(rps.get(ref.queue)) if ref.direction != 'tx' else '':<12} "
                  f"{_fmt(xps.get(ref.queue)) if ref.direction != 'rx' else ''}")
        elif nic.rx and any(q.rps_cpus for q in nic.rx):
            w("    rps: " + ", ".join(f"rx-{q.index}={_fmt(q.rps_cpus)}" for q in nic.rx))
        for irq in nic.other_irqs:
            i = s.irqs[irq]
            w(f"    {'other':>8} {irq:>6}  {_fmt(i.affinity):<16} {_fmt(i.effective):<10} {i.name}")
    w("")
    w("Other IRQs")
    w(f"  {'irq':>6} {'class':<13} {'device':<13} {'affinity':<16} {'effective':<10} {'total':>12}  name")
    for irq in sorted(s.irqs):
        i = s.irqs[irq]
        if i.nic is not None:
            continue
        managed = f" [managed: {i.managed}]" if i.managed else ""
        fixed = "" if i.movable else " [per-CPU or unused]"
        w(f"  {irq:>6} {i.cls:<13} {i.device or '-':<13} {_fmt(i.affinity):<16} {_fmt(i.effective):<10} "
          f"{i.total:>12}  {i.name}{managed}{fixed}")
    if s.problems:
        w("")
        w("Could not read or understand")
        for p in s.problems:
            w(f"  {p}")
    return "\n".join(out) + "\n"

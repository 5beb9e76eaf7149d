"""Readers for ``/sys/devices/system/cpu`` and ``/sys/devices/system/node``.

Samples: ``cpu/online`` holds ``0-79``; ``cpu7/topology/thread_siblings_list``
holds ``7,47``; ``cpu7/cache/index3/shared_cpu_list`` holds ``0-19,40-59``;
``node/node1/cpulist`` holds ``20-39,60-79``; ``node1/distance`` holds ``21 10``.
Node ids may be sparse (0,2,3) and CPUs may be offline; neither is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..cpuset import CpuFormatError, CpuSet, parse_list
from ..snapshot import CpuTopo, NumaNode
from .procirq import read_cpuset
from .root import Root

CPU = "sys/devices/system/cpu"
NODE = "sys/devices/system/node"


@dataclass(frozen=True)
class CpuSets:
    online: CpuSet
    possible: CpuSet
    present: CpuSet
    isolated: CpuSet | None   # None: the file is missing (old kernel)
    nohz_full: CpuSet | None


def read_list(root: Root, rel: str) -> CpuSet | None:
    text = root.read(rel)
    if text is None:
        return None
    try:
        return parse_list(text)
    except CpuFormatError as e:
        root.note(rel, str(e))
        return None


def read_cpu_sets(root: Root, fallback_online: CpuSet) -> CpuSets:
    online = read_list(root, f"{CPU}/online")
    if online is None:
        root.note(f"{CPU}/online", "missing; online CPUs taken from the /proc/interrupts header")
        online = fallback_online
    possible = read_list(root, f"{CPU}/possible") or online
    present = read_list(root, f"{CPU}/present") or online
    return CpuSets(online, possible, present,
                   read_list(root, f"{CPU}/isolated"),
                   read_list(root, f"{CPU}/nohz_full"))


def read_cpu_topology(root: Root, cpu: int, known: dict[int, CpuTopo] | None = None) -> CpuTopo:
    base = f"{CPU}/cpu{cpu}"
    topo = f"{base}/topology"
    siblings = read_list(root, f"{topo}/thread_siblings_list")
    if siblings is None:
        siblings, _ = read_cpuset(root, f"{topo}/thread_siblings")
    l2 = llc = None
    llc_level = None
    # an SMT sibling read before shares this CPU's L2 and LLC: reuse them
    twin = next((k for s in sorted(siblings or ()) if known and (k := known.get(s)) is not None
                 and k.l2 and cpu in k.l2 and k.llc and cpu in k.llc), None)
    indexes = [] if twin else root.listdir(f"{base}/cache")
    if twin:
        l2, llc, llc_level = twin.l2, twin.llc, twin.llc_level
    for index in indexes:
        if not index.startswith("index"):
            continue
        level = root.read_int(f"{base}/cache/{index}/level")
        # L1 is per core and never decides placement; L2 and up are unified
        if level is None or level < 2:
            continue
        shared, _ = read_cpuset(root, f"{base}/cache/{index}/shared_cpu_map", f"{base}/cache/{index}/shared_cpu_list")
        if shared is None:
            continue
        if level == 2:
            l2 = shared
        if llc_level is None or level > llc_level:
            llc, llc_level = shared, level
    return CpuTopo(
        cpu=cpu,
        package=_id(root, f"{topo}/physical_package_id"),
        die=_id(root, f"{topo}/die_id"),
        core=_id(root, f"{topo}/core_id"),
        siblings=siblings or frozenset({cpu}),
        l2=l2, llc=llc, llc_level=llc_level,
    )


def _id(root: Root, rel: str) -> int | None:
    value = root.read_int(rel)
    # -1 is the kernel's "unknown"
    return None if value is None or value < 0 else value


def read_nodes(root: Root) -> dict[int, NumaNode]:
    ids = sorted(int(m.group(1)) for e in root.listdir(NODE) if (m := re.fullmatch(r"node([0-9]+)", e)))
    # the kernel prints one distance per *online* node, in id order
    online = read_list(root, f"{NODE}/online")
    order = sorted(online) if online is not None else ids
    nodes: dict[int, NumaNode] = {}
    for node in ids:
        cpus, _ = read_cpuset(root, f"{NODE}/node{node}/cpumap", f"{NODE}/node{node}/cpulist")
        nodes[node] = NumaNode(node, cpus or frozenset(), _distances(root, node, order))
    return nodes


def _distances(root: Root, node: int, order: list[int]) -> dict[int, int]:
    rel = f"{NODE}/node{node}/distance"
    text = root.read_line(rel)
    if not text:
        return {}
    try:
        values = [int(w) for w in text.split()]
    except ValueError:
        root.note(rel, f"not a list of numbers: {text[:40]!r}")
        return {}
    if len(order) != len(values):
        root.note(rel, f"{len(values)} distances for {len(order)} online nodes")
        return {}
    return dict(zip(order, values))

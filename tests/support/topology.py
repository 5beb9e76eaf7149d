"""Where a generated machine's CPUs sit, and the kernel's CPU choices that follow from it.

CPU numbering as on Intel/AMD Linux: thread t of physical core c is CPU
``c + t * cores``, so SMT siblings are i and i + N/2. A node's cores are cut
into ``l3_per_node`` L3 domains as even as can be.

Managed NVMe vectors: ``lib/group_cpus.c`` group_cpus_evenly(): vectors
shared between nodes in proportion to their CPUs, siblings kept together.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.spec import MachineSpec


@dataclass
class Topo:
    possible: list[int]
    online: list[int]
    node_of: dict[int, int]
    socket_of: dict[int, int]
    core_id: dict[int, int]
    siblings: dict[int, frozenset[int]]
    llc: dict[int, frozenset[int]]
    node_cpus: dict[int, frozenset[int]]          # all (possible) CPUs of a node
    package_cpus: dict[int, frozenset[int]]


def topology_of(spec: MachineSpec) -> Topo:
    ncores, threads = spec.cores, spec.threads_per_core
    node_of, socket_of, core_id, siblings, llc = {}, {}, {}, {}, {}
    cores_per_socket = spec.nodes_per_socket * spec.cores_per_node
    for c in range(ncores):
        cpus = frozenset(c + t * ncores for t in range(threads))
        node = c // spec.cores_per_node
        within = c % spec.cores_per_node
        # L3 domains: the node's cores cut into l3_per_node runs as even as can be
        dom = within * spec.l3_per_node // spec.cores_per_node
        lo = next(k for k in range(spec.cores_per_node) if k * spec.l3_per_node // spec.cores_per_node == dom)
        hi = max(k for k in range(spec.cores_per_node) if k * spec.l3_per_node // spec.cores_per_node == dom)
        base = node * spec.cores_per_node
        shared = frozenset(k + t * ncores for k in range(base + lo, base + hi + 1) for t in range(threads))
        for cpu in cpus:
            node_of[cpu] = node
            socket_of[cpu] = c // cores_per_socket
            core_id[cpu] = c % cores_per_socket
            siblings[cpu] = cpus
            llc[cpu] = shared
    possible = list(range(spec.cpus))
    offline = set(spec.offline)
    if 0 in offline:
        raise ValueError("CPU 0 cannot be offline")
    if offline - set(possible):
        raise ValueError(f"offline CPUs {sorted(offline - set(possible))} do not exist")
    online = [c for c in possible if c not in offline]
    node_cpus = {n: frozenset(c for c in possible if node_of[c] == n) for n in range(spec.nodes)}
    package_cpus = {s: frozenset(c for c in possible if socket_of[c] == s) for s in range(spec.sockets)}
    return Topo(possible, online, node_of, socket_of, core_id, siblings, llc, node_cpus, package_cpus)


def node_distance(spec: MachineSpec, a: int, b: int) -> int:
    if a == b:
        return 10
    return 12 if a // spec.nodes_per_socket == b // spec.nodes_per_socket else 21


def local_spread(i: int, node: int, topo: Topo) -> int:
    """cpumask_local_spread(): the i-th online CPU, the node's own first."""
    online = topo.online
    near = [c for c in online if node >= 0 and topo.node_of[c] == node]
    far = [c for c in online if c not in set(near)]
    order = near + far
    return order[i % len(order)]


def spread_masks(nvec: int, topo: Topo) -> list[frozenset[int]]:
    """group_cpus_evenly() over the possible CPUs: node shares, then sibling-first runs."""
    nodes = [n for n in sorted(topo.node_cpus) if topo.node_cpus[n]]
    if nvec <= len(nodes):
        groups: list[set[int]] = [set() for _ in range(nvec)]
        for k, n in enumerate(nodes):
            groups[k % nvec] |= topo.node_cpus[n]
        return [frozenset(g) for g in groups]
    # alloc_nodes_groups(): smallest nodes first, each at least one group
    share: dict[int, int] = {}
    left_cpus = sum(len(topo.node_cpus[n]) for n in nodes)
    left = nvec
    for n in sorted(nodes, key=lambda n: (len(topo.node_cpus[n]), n)):
        ncpus = len(topo.node_cpus[n])
        g = max(1, left * ncpus // left_cpus)
        share[n] = min(g, ncpus)
        left -= share[n]
        left_cpus -= ncpus
    out: list[frozenset[int]] = []
    for n in nodes:
        todo = sorted(topo.node_cpus[n])
        g = share[n]
        per, extra = divmod(len(todo), g)
        for k in range(g):
            want = per + (1 if k < extra else 0)
            grp: list[int] = []
            while want > 0 and todo:
                cpu = todo.pop(0)
                grp.append(cpu)
                want -= 1
                for sib in sorted(topo.siblings[cpu]):
                    if want > 0 and sib in todo:
                        todo.remove(sib)
                        grp.append(sib)
                        want -= 1
            out.append(frozenset(grp))
    return out

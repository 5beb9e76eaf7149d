"""Steering maps: RPS, RFS and XPS, following where the queue IRQs landed.

``Documentation/networking/scaling.rst``: RPS spreads receive work where a
NIC has fewer rx queue IRQs than CPUs; RFS sizes a flow table per queue and
a global one; XPS maps each CPU onto one tx queue, preferably the queue whose
IRQ runs on it. Pure: the placement and the candidates in, ``QueuePlan`` and
``GlobalPlan`` entries out.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from .. import snapshot as S
from ..plan import GlobalPlan, QueuePlan
from .candidates import HANDS_OFF, Candidates, Where

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ..config import Config


def pow2ceil(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


class Steering:
    def __init__(self, snap: S.Snapshot, config: Config, cands: Candidates, slot_cpu: dict[tuple[str, int], int],
                 notes: list[str]):
        self.snap = snap
        self.cfg = config
        self.cands = cands
        self.slot_cpu = slot_cpu
        self.notes = notes

    def run(self) -> tuple[list[QueuePlan], list[GlobalPlan]]:
        out: list[QueuePlan] = []
        entries = pow2ceil(self.cfg.rfs_entries) if self.cfg.rfs_entries > 0 else 0
        any_rps = False
        for nic in self.snap.nics:
            settings = self.cands.settings(nic)
            if settings.policy in HANDS_OFF:
                continue
            if nic.name == "lo":
                continue  # loopback traffic never leaves the CPU that sent it
            where = self.cands.nic_where(nic)
            if where is None:
                continue
            rps_on = self._rps(nic, where, out)
            any_rps = any_rps or bool(rps_on)
            if rps_on is not None:
                self._rfs(nic, rps_on, entries, out)
            self._xps(nic, settings.xps, where, out)
        globals_ = []
        before = self.snap.rps_sock_flow_entries
        if before is None:
            if any_rps and entries:
                self.notes.append("rps_sock_flow_entries is not readable here (network namespace, or a kernel "
                                  "without CONFIG_RPS): RFS flow tables are sized but the global table is not")
        elif not entries:
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, None, "rfs_entries = 0: RFS left as is"))
        elif any_rps:
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, entries,
                                       f"RPS is on for some device: RFS global table of {entries} entries"))
        elif before and not self._flow_tables_left(out):
            # every per-queue flow table is off after the plan: a global table
            # no queue uses would leave RFS half set up
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, 0,
                                       "no RPS planned and no rx queue keeps a flow table: RFS off"))
        else:
            globals_.append(GlobalPlan("rps_sock_flow_entries", before, None, "no RPS planned; RFS left as is"))
        return out, globals_

    def _flow_tables_left(self, out: list[QueuePlan]) -> bool:
        """Does any rx queue, planned or left alone, keep an RFS flow table?"""
        planned = {(q.dev, q.queue): q.after for q in out if q.attr == "rps_flow_cnt" and q.after is not None}
        for nic in self.snap.nics:
            for q in nic.rx:
                count = planned.get((nic.name, f"rx-{q.index}"), q.rps_flow_cnt)
                if count:
                    return True
        return False

    def _rps(self, nic: S.Nic, where: Where, out: list[QueuePlan]) -> bool | None:
        """True/False: RPS planned on/off; None: RPS left alone."""
        if not nic.rx:
            return None
        on, why = self.cands.rps_wanted(nic, where)
        if on is None:
            return None
        if nic.virtual:
            for q in nic.rx:
                self._queue(out, nic, f"rx-{q.index}", "rps_cpus", q.rps_cpus, where.cpus if on else frozenset(), why)
            return on
        for q in nic.rx:
            if not on:
                self._queue(out, nic, f"rx-{q.index}", "rps_cpus", q.rps_cpus, frozenset(), why)
                continue
            cpu = self.slot_cpu.get((nic.name, q.index))
            cpus = where.cpus
            detail = f"{why}; rx-{q.index} over eligible CPUs of {where.label()}"
            if cpu is not None:
                shared = (self.cands.llc(cpu) or frozenset()) & where.cpus
                if len(shared) >= 2:
                    cpus, detail = shared, f"{why}; rx-{q.index} over the CPUs sharing CPU {cpu}'s last-level cache"
            self._queue(out, nic, f"rx-{q.index}", "rps_cpus", q.rps_cpus, cpus, detail)
        return on

    def _rfs(self, nic: S.Nic, rps_on: bool, entries: int, out: list[QueuePlan]) -> None:
        if not entries:
            return
        per_queue = pow2ceil(max(1, entries // max(1, len(nic.rx)))) if rps_on else 0
        why = (f"RFS: {entries} entries / {len(nic.rx)} rx queue(s)" if rps_on else "RPS off: no RFS flow table")
        for q in nic.rx:
            self._queue(out, nic, f"rx-{q.index}", "rps_flow_cnt", q.rps_flow_cnt, per_queue, why)

    def _xps(self, nic: S.Nic, mode: str, where: Where, out: list[QueuePlan]) -> None:
        if len(nic.tx) < 2 or (mode == "auto" and (nic.virtual or nic.kind == S.UNMAPPED)):
            return  # one tx queue needs no XPS (the kernel refuses the attribute)
        if mode == "off":
            for q in nic.tx:
                self._queue(out, nic, f"tx-{q.index}", "xps_cpus", q.xps_cpus, frozenset(), "xps = 'off'")
            return
        maps: dict[int, set[int]] = {q.index: set() for q in nic.tx}
        if nic.virtual:
            for n, cpu in enumerate(sorted(where.cpus)):
                maps[sorted(maps)[n % len(maps)]].add(cpu)
            why = {q: "xps = 'on' for a virtual device: eligible CPUs dealt round-robin" for q in maps}
        else:
            why = self._xps_physical(nic, where, maps)
        for q in nic.tx:
            self._queue(out, nic, f"tx-{q.index}", "xps_cpus", q.xps_cpus, frozenset(maps[q.index]), why[q.index])
            if self.cfg.xps_mode == "rxqs" and q.xps_rxqs is not None:
                rxq = frozenset({q.index}) if any(r.index == q.index for r in nic.rx) else frozenset()
                self._queue(out, nic, f"tx-{q.index}", "xps_rxqs", q.xps_rxqs, rxq,
                            f"xps_mode = 'rxqs': tx-{q.index} serves flows received on rx-{q.index}")

    def _xps_physical(self, nic: S.Nic, where: Where, maps: dict[int, set[int]]) -> dict[int, str]:
        """Every eligible CPU of every node onto exactly one tx queue (scaling.rst: "each CPU maps onto one queue").

        A CPU that carries queue i's IRQ sends through queue i. The other CPUs,
        the NIC's own node first and then by distance, take a spare queue (one
        no CPU sends through yet) first, the one whose IRQ is nearest; when no
        queue is spare, the nearest queue by SMT core, cache and node, the
        least used first. A CPU left out would hash its flows over every
        queue and contend on their locks.
        """
        cands, name = self.cands, nic.name
        irq_cpu = {q: c for q in maps if (c := self.slot_cpu.get((name, q))) is not None}
        owner: dict[int, int] = {}
        senders = cands.xps_senders(nic, where)
        for q in sorted(maps):
            cpu = irq_cpu.get(q)
            if cpu is not None and cpu in senders and cpu not in owner:
                owner[cpu] = q
                maps[q].add(cpu)
        home = where.node

        def distance(a: int | None, b: int | None) -> int:
            if a is None or b is None or a == b:
                return 0 if a == b else 1 << 20
            return cands.snap.nodes[a].distances.get(b, 1 << 20) if a in cands.snap.nodes else 1 << 20

        def nearness(cpu: int, q: int) -> tuple[int, int, int]:
            anchor = irq_cpu.get(q)
            if anchor is None:
                return (1, 1, 1 << 21)
            return (anchor not in cands.siblings(cpu), anchor not in (cands.llc(cpu) or frozenset()),
                    distance(cands.node_of.get(anchor), cands.node_of.get(cpu)))

        rest = sorted(senders - set(owner),
                      key=lambda c: (c not in where.cpus, distance(home, cands.node_of.get(c)), c))
        # a CPU keeps the queue it sends through now, when that queue is not another CPU's own: a
        # ban lifting or a re-plan then adds CPUs to maps instead of dealing them all again
        now: dict[int, int] = {}
        for txq in nic.tx:
            for c in txq.xps_cpus or ():
                now.setdefault(c, txq.index)
        spare_for: dict[int, set[int]] = {}
        anchored_nodes = {cands.node_of.get(cpu) for cpu in owner}
        # spare queues first: keeping stops where it would leave a queue without a CPU
        keep_at_most = len(rest) - sum(1 for q in maps if not maps[q])
        for c in rest:
            if keep_at_most <= 0:
                break
            q_now = now.get(c)
            anchor = irq_cpu.get(q_now) if q_now is not None else None
            if q_now is None or anchor is None or owner.get(anchor) != q_now:
                continue   # not a queue some CPU owns: dealt again below
            node = cands.node_of.get(c)
            if cands.node_of.get(anchor) == node or node not in anchored_nodes:
                maps[q_now].add(c)   # still as near as any queue can be
                keep_at_most -= 1
        placed = set().union(*maps.values())
        rest = [c for c in rest if c not in placed]
        # The nearest queue for each CPU is min over the pool of (nearness, use, q). Nearness takes few values
        # (SMT sibling, then cache, then node distance), so the queues are looked up by their IRQ's CPU and
        # node, and the least used of a node's queues is kept in a heap, instead of scoring every queue for
        # every CPU (1,024 CPUs x 128 queues x 26 NICs otherwise).
        by_anchor: dict[int, list[int]] = {}
        by_node: dict[int | None, list[int]] = {}
        for q, a in sorted(irq_cpu.items()):
            by_anchor.setdefault(a, []).append(q)
            by_node.setdefault(cands.node_of.get(a), []).append(q)
        anchorless = [q for q in sorted(maps) if q not in irq_cpu]
        spare = {q for q in maps if not maps[q]}
        anchored_memo: dict[frozenset[int], list[int]] = {}
        heaps: dict[object, list[tuple[int, int]]] = {}

        def anchored_in(cpus: frozenset[int]) -> list[int]:
            got = anchored_memo.get(cpus)
            if got is None:
                if len(cpus) < len(by_anchor):
                    got = [q for a in cpus for q in by_anchor.get(a, ())]
                else:
                    got = [q for a, qs in by_anchor.items() if a in cpus for q in qs]
                anchored_memo[cpus] = got
            return got

        def least_used(group: object, qs: list[int]) -> tuple[int, int]:
            # (use, q) of the group's least used queue; uses only grow, so a stale entry is refreshed and
            # pushed back until the top one is current
            heap = heaps.get(group)
            if heap is None:
                heap = heaps[group] = sorted((len(maps[q]), q) for q in qs)
            while True:
                n, q = heap[0]
                if n == len(maps[q]):
                    return n, q
                heapq.heapreplace(heap, (len(maps[q]), q))

        def nearest(c: int) -> int:
            pool = spare or None     # while some queue has no CPU, only those; then every queue

            def key(q: int) -> tuple:
                return (nearness(c, q), len(maps[q]), q)

            for cpus in (cands.siblings(c), cands.llc(c) or frozenset()):
                near = anchored_in(cpus)
                if pool is not None:
                    near = [q for q in near if q in pool]
                if near:
                    return min(near, key=key)
            here = cands.node_of.get(c)
            if pool is not None:
                best: int | None = None
                for node, qs in by_node.items():
                    inside = [q for q in qs if q in pool]
                    if inside:
                        d = distance(node, here)
                        if best is None or d < best:
                            best, near = d, inside
                        elif d == best:
                            near += inside
                return min(near or [q for q in anchorless if q in pool], key=lambda q: (len(maps[q]), q))
            if not by_node:
                return least_used("anchorless", anchorless)[1]
            dist = {node: distance(node, here) for node in by_node}
            closest = min(dist.values())
            return min(least_used(node, by_node[node]) for node in by_node if dist[node] == closest)[1]

        for c in rest:
            q = nearest(c)
            if spare:
                spare_for[q] = maps[q]
                spare.discard(q)
            maps[q].add(c)
        why: dict[int, str] = {}
        for q in maps:
            cpu = irq_cpu.get(q)
            if not maps[q]:
                why[q] = f"tx-{q}: every eligible CPU already sends through a queue of its own; no XPS map"
            elif q in spare_for:
                why[q] = (f"tx-{q}: its IRQ's CPU sends through another queue, so CPUs without one "
                          "send through it (one queue per CPU, nearest first)")
            elif cpu is not None and owner.get(cpu) == q:
                why[q] = (f"tx-{q} sends from CPU {cpu} (its IRQ), and from the CPUs without a queue "
                          "nearest to it (SMT core, cache, then node)")
            else:
                why[q] = f"tx-{q}: CPUs without a queue of their own, nearest first"
        return why

    def _queue(self, out, nic: S.Nic, queue: str, attr: str, before, after, why: str) -> None:
        if before is None:
            out.append(QueuePlan(nic.name, queue, attr, None, None, f"{attr} not readable; left alone"))
        else:
            out.append(QueuePlan(nic.name, queue, attr, before, after, why))

"""Steering maps: RPS, RFS and XPS, following where the queue IRQs landed.

``Documentation/networking/scaling.rst``: RPS spreads receive work where a
NIC has fewer rx queue IRQs than CPUs; RFS sizes a flow table per queue and
a global one; XPS maps each CPU onto one tx queue, preferably the queue whose
IRQ runs on it. Pure: the placement and the candidates in, ``QueuePlan`` and
``GlobalPlan`` entries out.
"""

from __future__ import annotations

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
        owner: dict[int, int] = {}
        if nic.virtual:
            for n, cpu in enumerate(sorted(where.cpus)):
                maps[sorted(maps)[n % len(maps)]].add(cpu)
            why = {q: "xps = 'on' for a virtual device: eligible CPUs dealt round-robin" for q in maps}
        else:
            why = {}
            for qi in sorted(maps):
                slot = self.slot_cpu.get((nic.name, qi))
                if slot is not None and slot in where.cpus and slot not in owner:
                    owner[slot] = qi
                    maps[qi].add(slot)
            anchored = {qi: next(iter(c)) for qi, c in maps.items() if c}
            for cpu in sorted(where.cpus - set(owner)):
                to = self._xps_queue(cpu, anchored, maps)
                if to is not None:
                    maps[to].add(cpu)
            for qi in maps:
                slot = self.slot_cpu.get((nic.name, qi))
                if qi in anchored:
                    why[qi] = (f"tx-{qi} sends from CPU {anchored[qi]} (its IRQ) and the CPUs sharing its cache "
                               "that carry no queue")
                elif slot is not None and slot in owner:
                    why[qi] = (f"tx-{qi}: its IRQ's CPU {slot} already sends through tx-{owner[slot]} "
                               "(more queues than CPUs); no XPS map")
                else:
                    why[qi] = f"tx-{qi} has no IRQ of its own on this node; no XPS map"
        for q in nic.tx:
            self._queue(out, nic, f"tx-{q.index}", "xps_cpus", q.xps_cpus, frozenset(maps[q.index]), why[q.index])
            if self.cfg.xps_mode == "rxqs" and q.xps_rxqs is not None:
                rxq = frozenset({q.index}) if any(r.index == q.index for r in nic.rx) else frozenset()
                self._queue(out, nic, f"tx-{q.index}", "xps_rxqs", q.xps_rxqs, rxq,
                            f"xps_mode = 'rxqs': tx-{q.index} serves flows received on rx-{q.index}")

    def _xps_queue(self, cpu: int, anchored: dict[int, int], maps) -> int | None:
        """The tx queue for a CPU without one: a queue whose CPU shares its L2, then its LLC, then any."""
        if not anchored:
            return None
        for share in (self.cands.siblings(cpu), self.cands.llc(cpu) or frozenset()):
            near = [q for q, c in anchored.items() if c in share]
            if near:
                return min(near, key=lambda q: (len(maps[q]), q))
        return min(anchored, key=lambda q: (len(maps[q]), q))

    def _queue(self, out, nic: S.Nic, queue: str, attr: str, before, after, why: str) -> None:
        if before is None:
            out.append(QueuePlan(nic.name, queue, attr, None, None, f"{attr} not readable; left alone"))
        else:
            out.append(QueuePlan(nic.name, queue, attr, before, after, why))

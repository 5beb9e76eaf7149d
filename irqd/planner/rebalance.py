"""The daemon's load moves, as a pure function of the plan, the candidates and measured load.

Greedy: take the move that cuts the hottest CPU most, until the imbalance is
under the threshold or the moves run out. A move must cut the hottest CPU's
load by ``MIN_GAIN`` of it, so noise never moves anything.
"""

from __future__ import annotations

from ..cpuset import CpuSet
from ..plan import Plan
from .candidates import Candidates

MIN_GAIN = 0.10         # a move must cut the hottest CPU's load by 10% of it


def choose_moves(plan: Plan, cands: Candidates, load: dict[int, float], per_cpu: dict[int, dict[int, float]],
                 blocked: set[int], max_moves: int, threshold: float) -> dict[int, int]:
    """IRQ -> CPU moves. ``load``: rate per eligible CPU; ``per_cpu``: each IRQ's rate on each CPU;
    ``blocked``: IRQs that may not move now (hands-off, moved too recently)."""
    movable: dict[int, CpuSet] = {}
    for p in plan.irqs:
        if p.after is None or p.irq not in cands.snap.irqs or p.irq in blocked:
            continue
        movable[p.irq] = cands.move_targets(next(iter(p.after))) if p.after else cands.eligible
    load = dict(load)
    moves: dict[int, int] = {}
    while len(moves) < max_moves:
        hot = max(load, key=lambda c: (load[c], -c))
        top = load[hot]
        best = None
        for irq, allowed in movable.items():
            r = per_cpu.get(irq, {}).get(hot, 0.0)
            if r <= 0 or irq in moves:
                continue
            choices = [c for c in allowed if c != hot and c in load]
            if not choices:
                continue
            target = min(choices, key=lambda c: (load[c], c))
            new_top = max(top - r, load[target] + r, max(v for c, v in load.items() if c not in (hot, target))
                          if len(load) > 2 else 0.0)
            gain = top - new_top
            if best is None or gain > best[0]:
                best = (gain, irq, target, r)
        if best is None or best[0] < MIN_GAIN * top:
            break
        _, irq, target, r = best
        load[hot] -= r
        load[target] += r
        moves[irq] = target
        mean = sum(load.values()) / len(load)
        if max(load.values()) / mean <= threshold:
            break
    return moves

"""Ban sources as their writers write them, and what is left on banned CPUs: for the ban tests and bench."""

from __future__ import annotations

import time
from pathlib import Path

from irqd.cpuset import format_mask, parse_mask
from irqd.discover import discover

TREE = "intel-2s-mlx5"      # 48 CPUs on 2 nodes, 2 mlx5 and an igb with RPS on
BAN = frozenset({2, 3, 26, 27})
# how long a change may take in this test: the stated 100 ms (inotify) and 1 s (the
# default_smp_affinity poll) plus a re-plan and its writes on a shared, loaded CI machine
LIMIT = 10.0


def cri_o_mask_without(root: Path, cpus: frozenset[int]) -> None:
    """cri-o updateNewIRQSMPAffinityMask: read, clear the container's CPUs, write back (no newline)."""
    path = root / "proc/irq/default_smp_affinity"
    current = parse_mask(path.read_text())
    text = path.read_text().strip()
    digits = len(text.replace(",", ""))
    path.write_text(format_mask(current - cpus, digits))


def cri_o_banned_line(root: Path, banned: frozenset[int]) -> None:
    """cri-o updateIrqBalanceConfigFile: the inverse of the new mask, 8-digit groups, in place."""
    env = root / "etc/sysconfig/irqbalance"
    mask = parse_mask((root / "proc/irq/default_smp_affinity").read_text())
    width = 64
    inverse = ((1 << width) - 1) & ~sum(1 << c for c in mask)
    text = format(inverse, "x").rjust(width // 4, "0")
    value = ",".join(text[i:i + 8] for i in range(0, len(text), 8))
    lines = [ln for ln in env.read_text().splitlines() if not ln.startswith("IRQBALANCE_BANNED_CPUS=")]
    env.write_text("\n".join([*lines, f'IRQBALANCE_BANNED_CPUS="{value}"']) + "\n")


def left_on(root: Path, cpus: frozenset[int]) -> list[str]:
    """Every movable IRQ and RPS/XPS map of the tree that still holds one of ``cpus``."""
    snap = discover(str(root))
    out = [f"irq {i.irq}" for i in snap.irqs.values()
           if i.movable and not i.managed and i.affinity and i.affinity & cpus]
    for nic in snap.nics:
        out += [f"{nic.name} rx-{q.index}" for q in nic.rx if q.rps_cpus and q.rps_cpus & cpus]
        out += [f"{nic.name} tx-{q.index}" for q in nic.tx if q.xps_cpus and q.xps_cpus & cpus]
    return out


def wait_clear(root: Path, cpus: frozenset[int], limit: float = LIMIT) -> float:
    start = time.monotonic()
    while left_on(root, cpus):
        assert time.monotonic() - start < limit, f"still on {sorted(cpus)}: {left_on(root, cpus)[:8]}"
        time.sleep(0.05)
    return time.monotonic() - start


def affinities(root: Path) -> dict[int, str]:
    return {int(p.parent.name): p.read_text() for p in (root / "proc/irq").glob("*/smp_affinity")}

"""What a plan means on disk: the files to write, each a ``Target`` that knows what it is.

The one place irqd's write vocabulary lives. A target is built from the plan
(never from a path), and ``classify`` is the one way back from a saved path
(the state file keys originals by path), so no other code parses a path.
Writes go nowhere but ``proc/irq/N/smp_affinity``, the rx/tx queue
attributes under ``sys/class/net/DEV/queues`` and ``rps_sock_flow_entries``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..cpuset import CpuSet
from ..plan import Plan

SCOPES = ("irq", "rps", "xps", "sysctl")

_IRQ = re.compile(r"^proc/irq/(?P<irq>[0-9]+)/smp_affinity$")
_RX = re.compile(r"^sys/class/net/(?P<dev>[^/]+)/queues/(?P<queue>rx-[0-9]+)/(?P<attr>rps_cpus|rps_flow_cnt)$")
_TX = re.compile(r"^sys/class/net/(?P<dev>[^/]+)/queues/(?P<queue>tx-[0-9]+)/(?P<attr>xps_cpus|xps_rxqs)$")
_SYSCTL = re.compile(r"^proc/sys/net/core/(?P<attr>rps_sock_flow_entries)$")

# every file irqd may write, with its scope (a deployment grants exactly these)
WRITABLE = ((_IRQ, "irq"), (_RX, "rps"), (_TX, "xps"), (_SYSCTL, "sysctl"))


@dataclass(frozen=True)
class Target:
    rel: str                      # root-relative path of the file
    scope: str                    # irq | rps | xps | sysctl
    value: CpuSet | int | None    # what to write; None for a target named only to restore it
    label: str
    irq: int | None = None
    dev: str | None = None        # network device, for queue attributes
    queue: str | None = None      # "rx-3" | "tx-3"
    attr: str | None = None       # smp_affinity | rps_cpus | ... | rps_sock_flow_entries
    fallback_pool: CpuSet = frozenset()  # eligible CPUs to try when the kernel answers ENOSPC


def irq_target(irq: int, value: CpuSet | None, name: str = "", pool: CpuSet = frozenset()) -> Target:
    return Target(f"proc/irq/{irq}/smp_affinity", "irq", value, f"irq {irq} ({name or '-'})", irq=irq,
                  attr="smp_affinity", fallback_pool=pool)


def queue_target(dev: str, queue: str, attr: str, value: CpuSet | int | None) -> Target:
    scope = "rps" if attr.startswith("rps") else "xps"
    return Target(f"sys/class/net/{dev}/queues/{queue}/{attr}", scope, value, f"{dev} {queue} {attr}",
                  dev=dev, queue=queue, attr=attr)


def sysctl_target(name: str, value: int | None) -> Target:
    return Target(f"proc/sys/net/core/{name}", "sysctl", value, name, attr=name)


def classify(rel: str) -> Target | None:
    """The target a saved path names, or None when irqd must never write there."""
    if m := _IRQ.match(rel):
        return irq_target(int(m["irq"]), None)
    if m := _RX.match(rel) or _TX.match(rel):
        return queue_target(m["dev"], m["queue"], m["attr"], None)
    if m := _SYSCTL.match(rel):
        return sysctl_target(m["attr"], None)
    return None


def targets(plan: Plan, only: tuple[str, ...] = SCOPES) -> list[Target]:
    out: list[Target] = []
    if "irq" in only:
        for p in plan.irqs:
            if p.changes:
                out.append(irq_target(p.irq, p.after, p.name, plan.eligible))
    for q in plan.queues:
        scope = "rps" if q.attr.startswith("rps") else "xps"
        if q.changes and scope in only:
            out.append(queue_target(q.dev, q.queue, q.attr, q.after))
    if "sysctl" in only:
        for g in plan.globals:
            if g.changes:
                out.append(sysctl_target(g.name, g.after))
    return out

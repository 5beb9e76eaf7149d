"""Parsers for ``/proc/stat``, ``/proc/softirqs`` and ``/proc/uptime``: the load irqd balances by.

``/proc/stat`` sample: ``cpu3 1210 0 2001 900812 33 0 1402 0 0 0``
(user nice system idle iowait irq softirq steal guest guest_nice, in USER_HZ).
``/proc/softirqs`` sample: ``      NET_RX:     120033      88001`` under a
``CPU0 CPU1`` header that lists possible CPUs.
``/proc/uptime`` sample: ``350735.47 234388.90``.
"""

from __future__ import annotations

from ..snapshot import CpuTime


class StatFormatError(ValueError):
    pass


def parse_stat(text: str) -> dict[int, CpuTime]:
    out: dict[int, CpuTime] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or not words[0].startswith("cpu") or words[0] == "cpu":
            continue
        try:
            cpu = int(words[0][3:])
            fields = [int(w) for w in words[1:]]
        except ValueError:
            raise StatFormatError(f"line {lineno}: not a cpu line: {line[:60]!r}") from None
        if len(fields) < 7:
            raise StatFormatError(f"line {lineno}: {words[0]} has {len(fields)} fields, needs at least 7")
        out[cpu] = CpuTime(irq=fields[5], softirq=fields[6], total=sum(fields[:8]))
    return out


def parse_softirqs(text: str) -> dict[str, dict[int, int]]:
    lines = text.splitlines()
    if not lines:
        raise StatFormatError("line 1: empty")
    try:
        cpus = [int(w[3:]) for w in lines[0].split()]
    except ValueError:
        raise StatFormatError(f"line 1: not a CPU header: {lines[0][:60]!r}") from None
    out: dict[str, dict[int, int]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        label, sep, rest = line.partition(":")
        if not sep:
            continue
        try:
            counts = [int(w) for w in rest.split()]
        except ValueError:
            raise StatFormatError(f"line {lineno}: bad counts for {label.strip()}") from None
        out[label.strip()] = dict(zip(cpus, counts))
    return out


def parse_uptime(text: str) -> float:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        raise StatFormatError(f"line 1: not an uptime: {text[:40]!r}") from None

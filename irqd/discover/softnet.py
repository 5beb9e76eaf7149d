"""Parser for ``/proc/net/softnet_stat``: per-CPU packet processing and backlog drops.

Sample (kernel 6.x, one line per *online* CPU, every field ``%08x`` hex)::

    0000a1c2 00000003 0000001f 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000

Columns, from ``softnet_seq_show()`` in net/core/net-procfs.c: processed,
dropped (``netdev_max_backlog`` exceeded), time_squeeze, five zeros (was
fastroute), one zero (was cpu_collision), received_rps, flow_limit_count;
since 5.10 also the backlog length and the CPU id (13 columns); since 6.0
also the input and process queue lengths (15 columns). Kernels before 5.10
print 10 or 11 columns and no CPU id; the file skips offline CPUs
(``softnet_get_online()``), so there row *i* is the *i*-th online CPU, not
CPU *i*, and the caller must pass the online CPUs to map rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_CPU_COLUMN = 12      # 0-based; present when a line has 13 or more columns
_MIN_COLUMNS = 3      # processed, dropped, time_squeeze: every kernel since 2.6 prints them


class SoftnetFormatError(ValueError):
    """A line of softnet_stat that cannot be read; carries the line number."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Softnet:
    cpu: int
    processed: int      # packets taken off this CPU's backlog / by NAPI polls on it
    dropped: int        # packets dropped because this CPU's backlog was full
    time_squeeze: int   # net_rx_action ran out of budget or time with work left
    received_rps: int | None = None   # IPIs received to process RPS-steered packets (absent before 2.6.35)


def parse_softnet(text: str, online: Iterable[int] | None = None) -> dict[int, Softnet]:
    """Per-CPU rows by CPU id.

    Lines carrying the CPU id column are mapped by it. Lines without it
    (kernels before 5.10) are mapped to ``online`` in order; without
    ``online`` they cannot be mapped and raise.
    """
    order = sorted(online) if online is not None else None
    out: dict[int, Softnet] = {}
    row = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if len(words) < _MIN_COLUMNS:
            raise SoftnetFormatError(lineno, f"{len(words)} columns, needs at least {_MIN_COLUMNS}")
        try:
            values = [int(w, 16) for w in words]
        except ValueError:
            raise SoftnetFormatError(lineno, f"not hex numbers: {line[:60]!r}") from None
        if len(values) > _CPU_COLUMN:
            cpu = values[_CPU_COLUMN]
        elif order is None:
            raise SoftnetFormatError(lineno, "no CPU id column (kernel before 5.10) and no online CPU list to map rows")
        elif row >= len(order):
            raise SoftnetFormatError(lineno, f"more rows than the {len(order)} online CPUs")
        else:
            cpu = order[row]
        if cpu in out:
            raise SoftnetFormatError(lineno, f"CPU {cpu} appears twice")
        out[cpu] = Softnet(cpu=cpu, processed=values[0], dropped=values[1], time_squeeze=values[2],
                           received_rps=values[9] if len(values) > 9 else None)
        row += 1
    return out

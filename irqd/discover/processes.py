"""Is irqbalance running? A second balancer would undo every IRQ irqd places within seconds.

On the live host psutil answers, and a zombie (an irqbalance that exited
and was not yet reaped) does not count: it balances nothing. Under a root
other than ``/`` (a container with the host's /proc at ``/host/proc``, or a
captured tree) the root's own ``proc/PID/stat`` files are read instead.
Sample ``/proc/PID/stat``: ``1234 (irqbalance) S 1 1234 ...``.
"""

from __future__ import annotations

from .root import Root

NAME = "irqbalance"


def irqbalance_pids(root: Root) -> list[int]:
    """PIDs of irqbalance processes that are alive (not zombies), sorted."""
    if root.is_live:
        return _live()
    return _from_tree(root)


def _live() -> list[int]:
    import psutil  # only the live host needs it; a tree is read through its root

    pids = []
    for proc in psutil.process_iter(["name", "status"]):
        try:
            if proc.info["name"] == NAME and proc.info["status"] not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                pids.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return sorted(pids)


def parse_stat_line(text: str) -> tuple[str, str] | None:
    """``/proc/PID/stat`` -> (comm, state); comm may hold spaces and parentheses, so split at the last ')'."""
    open_at, close_at = text.find("("), text.rfind(")")
    if open_at < 0 or close_at < open_at:
        return None
    rest = text[close_at + 1:].split()
    if not rest:
        return None
    return text[open_at + 1:close_at], rest[0]


def _from_tree(root: Root) -> list[int]:
    pids = []
    for entry in root.listdir("proc"):
        if not (entry.isascii() and entry.isdigit()):
            continue
        text = root.read(f"proc/{entry}/stat")
        parsed = parse_stat_line(text) if text else None
        if parsed and parsed[0] == NAME and parsed[1] not in ("Z", "X"):
            pids.append(int(entry))
    return sorted(pids)

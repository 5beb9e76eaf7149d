"""The node's audit score as node-feature-discovery labels, through NFD's local source.

NFD reads every file in ``/etc/kubernetes/node-feature-discovery/features.d/``
(dotfiles excluded) as ``name=value`` lines and publishes them as labels of
the node; ``# +expiry-time=RFC3339`` makes it drop the labels after that time,
so a node whose irqd stopped loses them instead of showing a stale score.
No Kubernetes API access is needed. Written by rename from a dotfile in the
same directory, so NFD never reads half a file.
"""

from __future__ import annotations

import datetime
import os

from ..planner.audit import CATEGORIES, Audit

PREFIX = "irqd.feature.node.kubernetes.io"


def overall_score(a: Audit) -> int:
    """Percent of everything checked, over all categories, that is right (100 when nothing was checked)."""
    checked = sum(s.checked for s in a.scores.values())
    wrong = len(a.counted())
    return 100 if checked == 0 else max(0, round(100 * (checked - wrong) / checked))


def render(a: Audit, expires: datetime.datetime) -> str:
    lines = [f"# +expiry-time={expires.astimezone(datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
             f"{PREFIX}/audit-score={overall_score(a)}",
             f"{PREFIX}/audit-clean={'true' if a.clean else 'false'}"]
    lines += [f"{PREFIX}/audit-{name}={len(a.counted(name))}" for name in CATEGORIES]
    return "\n".join(lines) + "\n"


def write(path: str, a: Audit, expires: datetime.datetime) -> None:
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, render(a, expires).encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)

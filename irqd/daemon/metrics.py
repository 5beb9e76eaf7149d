"""Prometheus text file for node_exporter's textfile collector, written atomically."""

from __future__ import annotations

import os


def render(metrics: dict) -> str:
    """``metrics``: name -> (help, type, [(labels dict, value), ...])."""
    out = []
    for name, (text, kind, samples) in sorted(metrics.items()):
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            out.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")
    return "\n".join(out) + "\n"


def write_textfile(path: str, metrics: dict) -> None:
    """Temp file in the same directory, then rename: the collector never reads half a file."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(render(metrics))
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)

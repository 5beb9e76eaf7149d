"""bash and zsh completion for irqd, generated from the argparse parser by shtab.

shtab (PyPI, MPL-2.0) walks the same parser ``--help`` prints, nested
sub-commands (``irqd config check``) and ``choices`` included, and needs no
network or running program. It is needed only to generate the scripts (at
package build time or by hand), not to run irqd.

    python -m irqd.cli.completion OUTDIR

writes OUTDIR/irqd (bash, for /usr/share/bash-completion/completions/) and
OUTDIR/_irqd (zsh, for /usr/share/zsh/vendor-completions/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# What a metavar names, so the shell offers files or directories there.
DIRECTORY_METAVARS = {"DIR", "DEST"}
FILE_METAVARS = {"FILE", "PATH", "MACHINE"}   # MACHINE: a root directory or an archive


def annotated_parser() -> argparse.ArgumentParser:
    """irqd's parser with shtab's file/directory hints set on path arguments."""
    import shtab

    from . import build_parser
    parser = build_parser()
    todo = [parser]
    while todo:
        p = todo.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
            elif action.metavar in DIRECTORY_METAVARS:
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
            elif action.metavar in FILE_METAVARS:
                action.complete = shtab.FILE  # type: ignore[attr-defined]
    return parser


def script(shell: str) -> str:
    import shtab
    return shtab.complete(annotated_parser(), shell=shell)


def write_scripts(outdir: str | Path) -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in (("bash", "irqd"), ("zsh", "_irqd")):
        path = outdir / name
        path.write_text(script(shell), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m irqd.cli.completion",
                                 description="write bash (irqd) and zsh (_irqd) completion scripts")
    ap.add_argument("outdir")
    args = ap.parse_args(argv)
    try:
        import shtab  # noqa: F401
    except ImportError:
        print("completion: needs shtab (pip install shtab)", file=sys.stderr)
        return 2
    for path in write_scripts(args.outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

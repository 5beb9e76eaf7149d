"""Checks tests share: golden files, a root tree's symlinks, two trees compared file by file."""

import filecmp
import os
from pathlib import Path


def update_golden() -> bool:
    return os.environ.get("IRQD_UPDATE_GOLDEN") == "1"


def check_golden(path: Path, text: str) -> None:
    """Compare with a golden file; IRQD_UPDATE_GOLDEN=1 rewrites it (review the diff)."""
    if update_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path}; run IRQD_UPDATE_GOLDEN=1 pytest and review it"
    assert text == path.read_text(), f"{path} differs; if the change is meant, IRQD_UPDATE_GOLDEN=1 and review the diff"


def check_links(root) -> None:
    """Every symlink in a root tree is relative and resolves inside it, as the kernel's do."""
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            if not os.path.islink(path):
                continue
            target = os.readlink(path)
            assert not target.startswith("/"), f"{path}: absolute link {target}"
            real = os.path.realpath(path)
            assert real.startswith(real_root + os.sep), f"{path}: link leaves the tree"
            # git keeps no empty directory, so a driver directory with nothing
            # readable in it (bind, unbind are write-only) is lost; irqd reads
            # only the link's name
            if entry == "driver" and "/drivers/" in target:
                continue
            assert os.path.exists(real), f"{path}: dangling link to {target}"


def same_tree(a, b):
    """Recursive comparison of two trees (links compared as links), ignoring irqd's own var/."""
    cmp = filecmp.dircmp(a, b, ignore=["var"])
    problems: list[str] = []

    def walk(c, rel=""):
        problems.extend(os.path.join(rel, f) for f in c.left_only + c.right_only + c.funny_files)
        for f in c.common_files:
            pa, pb = os.path.join(c.left, f), os.path.join(c.right, f)
            if os.path.islink(pa) or os.path.islink(pb):
                if os.readlink(pa) != os.readlink(pb):
                    problems.append(os.path.join(rel, f))
            elif Path(pa).read_bytes() != Path(pb).read_bytes():
                problems.append(os.path.join(rel, f))
        for name, sub in c.subdirs.items():
            if not os.path.islink(os.path.join(c.left, name)):
                walk(sub, os.path.join(rel, name))
    walk(cmp)
    return problems

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "sysfs"
GOLDEN = REPO / "fixtures" / "golden"


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "proc" / "interrupts").exists())


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


@pytest.fixture
def fixture_copy(tmp_path):
    """Copy a fixture tree (symlinks kept) so a test may write into it."""
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest, symlinks=True)
        return dest
    return copy

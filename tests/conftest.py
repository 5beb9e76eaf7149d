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


@pytest.fixture
def fixture_copy(tmp_path):
    """Copy a fixture tree (symlinks kept) so a test may write into it."""
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest, symlinks=True)
        return dest
    return copy

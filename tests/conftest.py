"""pytest fixtures; the paths and checks tests import live in tests/support/."""
import shutil
from pathlib import Path

import pytest

from tests.support.paths import FIXTURES


@pytest.fixture
def fixture_copy(tmp_path):
    """Copy a fixture tree (symlinks kept) so a test may write into it."""
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest, symlinks=True)
        return dest
    return copy

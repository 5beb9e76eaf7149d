"""A normal user runs apply, restore or run (issue 11, item 8): exit 4, one clear line, nothing written.

The tree is a fixture copy owned by root and readable by everyone, as a
live /proc and /sys are: a normal user can read it and write nothing in it.
irqd runs as nobody (uid 65534) through setpriv. The interpreter must be one
nobody can execute; when the test's own is not (a pyenv under a 0700
/root), the system python3 of the same version is used with this
interpreter's site-packages on its path.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from tests.support.clikit import ENV, REPO, irqd, snapshot_tree, tree_diff
from tests.support.paths import FIXTURES

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
MESSAGE = "run as root (or with CAP_NET_ADMIN)"


def _python_for_nobody() -> tuple[str, dict] | None:
    env = {**ENV, "PYTHONPATH": f"{REPO}:{sysconfig.get_paths()['purelib']}"}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (sys.executable, shutil.which(version), f"/usr/bin/{version}"):
        if not exe:
            continue
        ok = subprocess.run([*NOBODY, exe, "-c", "import pydantic, irqd.cli"], check=False, env=env,
                            capture_output=True, cwd="/")
        if ok.returncode == 0:
            return exe, env
    return None


PY = _python_for_nobody() if os.geteuid() == 0 and shutil.which("setpriv") else None
pytestmark = pytest.mark.skipif(PY is None, reason="needs root, setpriv, and a python nobody can run")


def as_nobody(*args, timeout=20) -> subprocess.CompletedProcess:
    assert PY is not None
    exe, env = PY
    return subprocess.run([*NOBODY, exe, "-m", "irqd", *map(str, args)], check=False, capture_output=True, text=True,
                          timeout=timeout, env=env, cwd="/", stdin=subprocess.DEVNULL)


@pytest.fixture
def public_copy():
    """A fixture copy in a directory everyone may enter; owned by root, so nobody cannot write it."""
    base = Path(tempfile.mkdtemp(prefix="irqd-nonroot-"))
    os.chmod(base, 0o755)
    root = base / "dev-virtio-2cpu"
    shutil.copytree(FIXTURES / "dev-virtio-2cpu", root, symlinks=True)
    yield root
    shutil.rmtree(base)


def test_reading_works_as_nobody(public_copy):
    # the harness itself: a normal user may read and plan
    out = as_nobody("plan", "--root", public_copy, "--format", "json")
    assert out.returncode == 0, out.stderr


def test_apply_as_nobody(public_copy):
    before = snapshot_tree(public_copy, skip=())
    out = as_nobody("apply", "--root", public_copy, "--yes")
    assert (out.returncode, MESSAGE in out.stderr) == (4, True), (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    assert tree_diff(before, snapshot_tree(public_copy, skip=())) == []


def test_restore_as_nobody(public_copy):
    done = irqd("apply", "--root", public_copy, "--yes")   # as root: a state with originals
    assert done.returncode == 0, done.stderr
    before = snapshot_tree(public_copy, skip=())
    out = as_nobody("restore", "--root", public_copy)
    assert (out.returncode, MESSAGE in out.stderr) == (4, True), (out.returncode, out.stderr)
    assert tree_diff(before, snapshot_tree(public_copy, skip=())) == []


def test_run_as_nobody(public_copy):
    before = snapshot_tree(public_copy, skip=())
    try:
        out = as_nobody("run", "--root", public_copy, "--no-netlink", "--cycles", "1", timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("irqd run as nobody kept running")
    assert (out.returncode, MESSAGE in out.stderr) == (4, True), (out.returncode, out.stderr)
    assert tree_diff(before, snapshot_tree(public_copy, skip=())) == []

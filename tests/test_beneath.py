"""The writer's one opener refuses every link, with openat2 and with the per-component fallback alike."""

from __future__ import annotations

import errno
import os

import pytest

import irqd.apply.beneath as B


@pytest.fixture(params=["openat2", "fallback"])
def mode(request, monkeypatch):
    if request.param == "fallback":
        monkeypatch.setattr(B, "_openat2_works", False)   # a kernel before 5.6, or a seccomp filter
    return request.param


def _tree(tmp_path):
    root = tmp_path / "root"
    (root / "proc/irq/38").mkdir(parents=True)
    (root / "proc/irq/38/smp_affinity").write_text("1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "smp_affinity").write_text("precious\n")
    return root, outside


def test_a_plain_file_opens_and_writes(tmp_path, mode):
    root, _ = _tree(tmp_path)
    fd = B.open_beneath(str(root), "proc/irq/38/smp_affinity", os.O_WRONLY)
    os.write(fd, b"2\n")
    os.close(fd)
    assert (root / "proc/irq/38/smp_affinity").read_text() == "2\n"


@pytest.mark.parametrize("where", ["dir", "file"])
def test_a_symlink_anywhere_on_the_way_is_refused(tmp_path, mode, where):
    root, outside = _tree(tmp_path)
    if where == "dir":
        os.rename(root / "proc/irq/38", tmp_path / "moved")
        os.symlink(outside, root / "proc/irq/38")
    else:
        os.remove(root / "proc/irq/38/smp_affinity")
        os.symlink(outside / "smp_affinity", root / "proc/irq/38/smp_affinity")
    with pytest.raises(OSError) as e:
        B.open_beneath(str(root), "proc/irq/38/smp_affinity", os.O_WRONLY)
    assert e.value.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV)
    assert (outside / "smp_affinity").read_text() == "precious\n"


def test_dotdot_never_climbs_out(tmp_path, mode):
    root, outside = _tree(tmp_path)
    with pytest.raises(OSError):
        B.open_beneath(str(root), "../outside/smp_affinity", os.O_WRONLY)
    assert (outside / "smp_affinity").read_text() == "precious\n"

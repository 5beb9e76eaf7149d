"""Nothing irqd writes escapes --root, under races too (issue 11, item 3).

(a) While apply and restore run on a copy, a thread swaps ``proc/irq/38``
with a symlink to a directory outside the tree, atomically, with
renameat2(RENAME_EXCHANGE), over and over. A check of the resolved path
followed by an ordinary open of the same path (which follows links again)
writes outside; an open beneath the root that follows no link cannot.
(b) A symlinked ``var/lib/irqd`` or ``run/irqd`` must not put the state,
the lock or the socket outside the tree. (c) The daemon must not delete a
foreign file where its socket goes.
"""
import ctypes
import errno
import os
import platform
import shutil
import threading

import pytest

from tests.support.clikit import Daemon, assert_clean, irqd

IRQ = 38   # virtio2-input.0 on dev-virtio-2cpu: the plan moves it (mask 3 -> 1)
SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}.get(platform.machine())
AT_FDCWD, RENAME_EXCHANGE = -100, 2
_libc = ctypes.CDLL(None, use_errno=True)


def exchange(a: str, b: str) -> None:
    if _libc.syscall(SYS_RENAMEAT2, AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


def _outside_irq_dir(tmp_path, root):
    """A directory outside the tree that looks like proc/irq/38: same files, same bytes."""
    outside = tmp_path / "outside" / "irq38"
    shutil.copytree(root / f"proc/irq/{IRQ}", outside)
    return outside


def _fingerprint(d):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.iterdir()) if p.is_file()}


ROUNDS = int(os.environ.get("IRQD_SWAP_ROUNDS", "12"))


@pytest.mark.skipif(SYS_RENAMEAT2 is None, reason="renameat2 syscall number unknown for this machine")
def test_symlink_swap_race_never_writes_outside(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    outside = _outside_irq_dir(tmp_path, root)
    before = _fingerprint(outside)
    real = str(root / f"proc/irq/{IRQ}")
    decoy = str(root / "proc/irq/decoy")   # not a number: irqd does not list it
    os.symlink(str(outside), decoy)
    try:
        exchange(real, decoy)
        exchange(real, decoy)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOSYS):
            pytest.skip(f"RENAME_EXCHANGE not supported here: {e}")
        raise
    stop = threading.Event()
    swaps = [0]

    def swapper():
        while not stop.is_set():
            exchange(real, decoy)
            swaps[0] += 1

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    outcomes = []
    try:
        for _ in range(ROUNDS):
            for args in (("apply", "--root", root, "--yes", "--only", "irq"), ("restore", "--root", root)):
                out = irqd(*args)
                assert_clean(out, args[0])
                outcomes.append(out.returncode)
            if _fingerprint(outside) != before:
                break
    finally:
        stop.set()
        thread.join()
        if os.path.islink(real):
            exchange(real, decoy)
    assert swaps[0] > 100, "the swapping thread barely ran"
    assert _fingerprint(outside) == before, \
        f"a file outside the tree was written ({swaps[0]} swaps, exits {outcomes}): {_fingerprint(outside)}"
    assert sorted(p.name for p in outside.iterdir()) == sorted(before)


@pytest.mark.parametrize("link", ["var/lib/irqd", "var"])
def test_symlinked_state_dir_is_refused(link, fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    if (root / link).exists():
        shutil.rmtree(root / link)
    os.symlink(str(elsewhere), root / link)
    out = irqd("apply", "--root", root, "--yes")
    assert_clean(out, "apply")
    assert list(elsewhere.rglob("*")) == [], f"state or lock written outside the tree: {list(elsewhere.rglob('*'))}"
    assert out.returncode == 2 and link in out.stderr, (out.returncode, out.stderr)


def test_symlinked_run_dir_is_refused(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "run").mkdir()
    os.symlink(str(elsewhere), root / "run/irqd")
    out = irqd("run", "--root", root, "--no-netlink", "--cycles", "1", timeout=30)
    assert_clean(out, "run")
    assert list(elsewhere.iterdir()) == [], f"socket made outside the tree: {list(elsewhere.iterdir())}"
    assert out.returncode == 2 and "run/irqd" in out.stderr, (out.returncode, out.stderr)


def test_daemon_leaves_a_foreign_file_at_its_socket_path(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    sock = root / "run/irqd/irqd.sock"
    sock.parent.mkdir(parents=True)
    sock.write_text("not irqd's\n")
    out = irqd("run", "--root", root, "--no-netlink", "--cycles", "1", timeout=30)
    assert_clean(out, "run")
    assert sock.is_file() and sock.read_text() == "not irqd's\n", "the daemon deleted a foreign file"
    assert "irqd.sock" in out.stderr, out.stderr


def test_daemon_leaves_a_live_socket_of_another_daemon(fixture_copy, tmp_path):
    """A second daemon on the same tree must not steal the first one's socket."""
    root = fixture_copy("dev-virtio-2cpu")
    with Daemon(root, tmp_path, "--interval", "60") as first:
        first.wait_ready()
        ino = os.stat(first.socket).st_ino
        out = irqd("run", "--root", root, "--no-netlink", "--cycles", "1", "--socket", first.socket,
                   "--state", tmp_path / "b" / "state.json", timeout=30)   # its own lock
        assert_clean(out, "second run")
        assert os.path.exists(first.socket) and os.stat(first.socket).st_ino == ino, \
            "the second daemon replaced the first one's socket"
        status = irqd("status", "--socket", first.socket, "--format", "json")
        assert status.returncode == 0 and f'"pid": {first.proc.pid}' in status.stdout, status.stderr
        first.stop()

"""Opening a file beneath a root without following a single symlink: the writer's one opener.

Resolving a path and then opening it by name is a race: between the two a
directory can be swapped for a symlink (renameat2 RENAME_EXCHANGE) and the
open lands outside the tree. So irqd resolves links itself, inside the root
(``Root.resolve``), and then opens the resolved path refusing every link on
the way:

- ``openat2(rootfd, path, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`` where the
  kernel has it (Linux 5.6+, syscall 437 on every architecture);
- otherwise one ``openat(dirfd, component, O_NOFOLLOW | O_DIRECTORY)`` per
  component, each relative to the last, and O_NOFOLLOW on the file itself.

A link found either way is ELOOP (or ENOTDIR): the caller reports it, never
writes through it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

SYS_OPENAT2 = 437
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_OPEN_HOW = struct.Struct("QQQ")   # struct open_how { u64 flags; u64 mode; u64 resolve; }

_openat2_works: bool | None = None   # None: not tried yet
_libc: ctypes.CDLL | None = None


class HostPath(str):
    """A host path that remembers its root, so whoever opens it can stay beneath that root.

    A ``str`` (messages, fault-injecting tests and ``endswith`` keep working);
    ``root`` is the directory the open is confined to and ``rel`` the path
    inside it, with every link already resolved.
    """

    root: str
    rel: str

    def __new__(cls, root: str, rel: str) -> HostPath:
        rel = rel.lstrip("/")
        self = super().__new__(cls, os.path.join(root, rel))
        self.root, self.rel = root, rel
        return self


def _openat2(dirfd: int, rel: str, flags: int) -> int | None:
    """The fd, or None when this kernel (or a seccomp filter) has no openat2."""
    global _openat2_works, _libc
    if _openat2_works is False:
        return None
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    how = ctypes.create_string_buffer(_OPEN_HOW.pack(flags | os.O_CLOEXEC, 0,
                                                     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS))
    fd = _libc.syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_int(dirfd), ctypes.c_char_p(os.fsencode(rel)),
                       how, ctypes.c_size_t(_OPEN_HOW.size))
    if fd < 0:
        code = ctypes.get_errno()
        if code in (errno.ENOSYS, errno.EPERM) and _openat2_works is None:
            _openat2_works = False   # EPERM: a seccomp filter that does not know openat2
            return None
        raise OSError(code, os.strerror(code), rel)
    _openat2_works = True
    return int(fd)


def _walk(dirfd: int, rel: str, flags: int) -> int:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise OSError(errno.EXDEV, "not a path beneath the root", rel)
    fd = os.dup(dirfd)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def open_beneath(root: str, rel: str, flags: int) -> int:
    """An fd for ``root/rel``, opened with ``flags``; OSError (ELOOP, ENOTDIR, EXDEV) on any link."""
    rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _openat2(rootfd, rel.lstrip("/"), flags)
        return fd if fd is not None else _walk(rootfd, rel, flags)
    finally:
        os.close(rootfd)


def open_host(path: str, flags: int) -> int:
    """Open a ``HostPath`` beneath its root; any other path (a test's own) with O_NOFOLLOW on the file."""
    if isinstance(path, HostPath):
        return open_beneath(path.root, path.rel, flags)
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)

"""The one door through which irqd reaches a machine: a root directory.

``/`` on a live host, a captured tree anywhere else. Paths are given as the
kernel shows them (``proc/interrupts``) and symlinks are resolved inside the
root, never against the host's ``/``, so a capture can never make irqd read
the machine it runs on.

``Root`` is also the one answer to "is this the live host?" and the one
place irqd's own files (state, lock, status socket) are placed: under the
root, exactly where they would be on the captured machine.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..snapshot import Problem

# sysfs answers these for an attribute that exists but has nothing to say
# (prometheus/procfs canIgnoreError); they mean "missing", not "broken".
_MISSING_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EINVAL, errno.EOPNOTSUPP,
                   errno.ENODEV, errno.ENXIO, errno.EIO}

_MAX_LINKS = 40

# irqd's own files, as root-relative paths: /var/lib/irqd/state.json on a
# live host, ROOT/var/lib/irqd/state.json under --root
STATE_FILE = "var/lib/irqd/state.json"
SOCKET_FILE = "run/irqd/irqd.sock"


# Every read is bounded, so a damaged or hostile tree (a huge file; /dev/zero is refused as not
# regular) cannot exhaust memory. proc/interrupts is the one big kernel file: a row is ~11 bytes
# per CPU ("%10u " per count), so 8,192 CPUs (CONFIG_NR_CPUS's maximum) x ~4,000 rows (a large
# server's MSI-X vectors; the generated 1,024-CPU tree's 45 MB is ~4,000 rows) is ~360 MB.
# Everything else (proc/stat, softirqs at 8,192 CPUs: under 1 MB) fits 16 MiB with room.
MAX_READ = 16 << 20
MAX_READ_BIG = {"proc/interrupts": 512 << 20}


class SpecialFile(OSError):
    """Not a regular file (a FIFO, device, socket), or larger than any kernel file of its kind."""


def _slurp(path: str, limit: int = MAX_READ, prefix: str | None = None) -> bytes:
    """The bytes of a regular file, at most ``limit``; with ``prefix``, OSError(EXDEV) when the
    file opened (after the kernel followed every link) is not beneath it."""
    # os.open/os.read skip the buffered-file layer: discovery reads ~10,000
    # small files on a 256-CPU machine, and each open counts. O_NONBLOCK: a FIFO must not hang.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if prefix is not None:
            where = os.readlink(f"/proc/self/fd/{fd}")
            if not where.startswith(prefix):
                raise OSError(errno.EXDEV, "leads out of the root", where)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpecialFile(errno.EINVAL, "not a regular file")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536 if size < 65536 else 1 << 20)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise SpecialFile(errno.EFBIG, f"larger than {limit >> 20} MiB")
            chunks.append(chunk)
    finally:
        os.close(fd)


class RootError(Exception):
    """The root itself is unusable (not a directory, no proc/interrupts)."""


@dataclass
class Root:
    path: str = "/"
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = os.path.abspath(self.path)
        if not os.path.isdir(self.path):
            raise RootError(f"{self.path}: not a directory")
        self._prefix = self.path.rstrip("/") + "/"
        self._real_prefix = os.path.realpath(self.path).rstrip("/") + "/"   # what /proc/self/fd shows

    @property
    def is_live(self) -> bool:
        """True on the running machine: only there does a kernel answer writes and update files."""
        return self.path == "/"

    @property
    def state_path(self) -> str:
        return self.host(STATE_FILE)

    @property
    def socket_path(self) -> str:
        return self.host(SOCKET_FILE)

    def own_path_problem(self, path: str) -> str | None:
        """Why irqd must not keep its own file (state, lock, socket) at ``path``, or None.

        Beneath a captured tree, a directory on the way that is a symlink
        would put irqd's files (and its writes) outside the tree: refused,
        naming the link. On the live host the admin owns /var/lib and /run.
        """
        if self.is_live or not path.startswith(self._prefix):
            return None
        rel = os.path.dirname(path[len(self._prefix):])
        parts = [p for p in rel.split("/") if p]
        for n in range(1, len(parts) + 1):
            sub = "/".join(parts[:n])
            if os.path.islink(self.host(sub)):
                return (f"{self.host(sub)} is a symlink ({sub} -> {os.readlink(self.host(sub))}); irqd keeps its "
                        "files inside the tree and will not follow it")
        return None

    def host(self, rel: str) -> str:
        """The real path of ``rel`` (no link resolution)."""
        return self._prefix + rel.lstrip("/")

    def show(self, rel: str) -> str:
        """How a path is named in messages: as on the machine, prefixed with the root."""
        rel = rel.lstrip("/")
        return "/" + rel if self.is_live else os.path.join(self.path, rel)

    def note(self, rel: str, message: str) -> None:
        problem = Problem(self.show(rel), message)
        if problem not in self.problems:
            self.problems.append(problem)

    # -- reading ---------------------------------------------------------

    def read(self, rel: str, *, required: bool = False) -> str | None:
        """File contents, or None when the file is absent.

        Absent optional files are normal (older kernels, partial captures)
        and are not noted here; the caller knows whether absence matters.
        Other errors are noted with the path.
        """
        rel = rel.lstrip("/")
        limit = MAX_READ_BIG.get(rel, MAX_READ)
        try:
            try:
                data = _slurp(self.host(rel), limit, None if self.is_live else self._real_prefix)
            except OSError as e:
                if e.errno != errno.EXDEV or isinstance(e, SpecialFile):
                    raise
                # a link left the tree (an absolute target, as on the captured machine): follow
                # it inside the root instead, never on the host
                real = self.resolve(rel)
                if real is None:
                    self.note(rel, "a link out of the tree, to nothing inside it: not followed")
                    return None
                data = _slurp(self.host(real), limit, self._real_prefix)
        except SpecialFile as e:
            self.note(rel, e.strerror or str(e))
            return None
        except OSError as e:
            if e.errno in _MISSING_ERRNOS or e.errno == errno.EISDIR:
                if required:
                    self.note(rel, "missing")
                return None
            self.note(rel, os.strerror(e.errno or 0) or str(e))
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.note(rel, "not text")
            return None

    def read_line(self, rel: str) -> str | None:
        text = self.read(rel)
        return None if text is None else text.strip()

    def read_int(self, rel: str) -> int | None:
        text = self.read_line(rel)
        if text is None or text == "":
            return None
        try:
            return int(text, 0)
        except ValueError:
            self.note(rel, f"expected a number, found {text[:40]!r}")
            return None

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host(rel)))
        except OSError:
            return []

    def mtime_ns(self, rel: str) -> int | None:
        """When a file was last written, without following a final symlink; None when absent."""
        try:
            return os.lstat(self.host(rel)).st_mtime_ns
        except OSError:
            return None

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.host(rel))

    def isdir(self, rel: str) -> bool:
        return os.path.isdir(self.host(rel))

    def islink(self, rel: str) -> bool:
        return os.path.islink(self.host(rel))

    # -- links -----------------------------------------------------------

    def resolve(self, rel: str) -> str | None:
        """Resolve every symlink in ``rel`` inside the root.

        Returns the root-relative path without a leading slash, or None when
        a link dangles or loops. Absolute link targets are taken as
        root-relative, the way they would read on the captured machine.
        """
        parts = [p for p in PurePosixPath("/" + rel.lstrip("/")).parts[1:]]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join(done + [part])
            host = self.host(candidate)
            if os.path.islink(host):
                hops += 1
                if hops > _MAX_LINKS:
                    return None
                try:
                    target = os.readlink(host)
                except OSError:   # went away between the two calls (a device unplugged)
                    return None
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/")] + parts
                continue
            if not os.path.lexists(host):
                return None
            done.append(part)
        return "/".join(done)

    def link_target(self, rel: str) -> str | None:
        """A symlink's target as the kernel wrote it (``net:[4026531840]``), or None."""
        try:
            return os.readlink(self.host(rel))
        except OSError:
            return None

    def link_name(self, rel: str) -> str | None:
        """Last path component of a symlink's target (e.g. a driver's name)."""
        try:
            return os.path.basename(os.readlink(self.host(rel)).rstrip("/")) or None
        except OSError:
            return None

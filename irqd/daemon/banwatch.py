"""Noticing a ban change at once: inotify on the directories of the ban files, a poll of procfs.

The sources (``irqd.discover.bans``) change while the machine runs: cri-o
rewrites ``/etc/sysconfig/irqbalance`` (in place) and
``/proc/irq/default_smp_affinity`` when a latency-sensitive pod starts or
stops; ``irqd ban`` renames a drop-in into ``/run/irqd/banned.d``. Editors
and ``sed -i`` replace a file by renaming a new one over it, so the watch is
on the directories, not the files. procfs has no inotify: the one small
file is read every quarter of a second and compared (four reads of a
one-line file a second cost nothing, and a ban then takes effect well
within the second the issue allows).

Each change puts one ``BanEvent`` on the daemon's event queue; the daemon
debounces a burst into one re-plan, the same way as netlink events.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import select
import struct
import threading
from dataclasses import dataclass
from typing import Any

from ..discover.bans import DEFAULT_AFFINITY, DROPIN_DIR, DROPIN_SUFFIX, IRQBALANCE_ENV_FILES
from ..discover.root import Root

# <sys/inotify.h>
IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_IGNORED = 0x8000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_MASK = (IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
         | IN_MOVE_SELF)
_EVENT = struct.Struct("iIII")   # wd, mask, cookie, len, then len bytes of name

# directories whose entries are ban files, and which names in them matter
_ENV_DIRS: dict[str, frozenset[str]] = {os.path.dirname(f): frozenset({os.path.basename(f)})
                                        for f in IRQBALANCE_ENV_FILES}


@dataclass(frozen=True)
class BanEvent:
    """A ban source changed; shaped like a netlink event so the daemon debounces both alike."""

    source: str
    kind: str = "ban"
    ifname: str | None = None


class _Inotify:
    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self.fd: int = fd

    def add(self, path: str) -> int:
        wd = int(self._add(self.fd, os.fsencode(path), _MASK))
        if wd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), path)
        return wd

    def read(self) -> list[tuple[int, int, str]]:
        """(wd, mask, name) of every pending event."""
        out: list[tuple[int, int, str]] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            at = 0
            while at + _EVENT.size <= len(data):
                wd, mask, _, size = _EVENT.unpack_from(data, at)
                name = data[at + _EVENT.size:at + _EVENT.size + size].split(b"\0", 1)[0]
                out.append((wd, mask, os.fsdecode(name)))
                at += _EVENT.size + size

    def close(self) -> None:
        os.close(self.fd)


class BanWatcher:
    """A thread that reports ban changes on ``events``; ``errors`` says what it could not watch."""

    def __init__(self, root: Root, events: queue.Queue[Any], poll: float = 0.25):
        self.root = root
        self.events = events
        self.poll = poll
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inotify: _Inotify | None = None
        self._dirs: dict[int, str] = {}     # wd -> root-relative directory
        self._default: str | None = None

    def start(self) -> None:
        try:
            self._inotify = _Inotify()
        except OSError as e:
            self.errors.append(f"inotify: {e.strerror}; ban files are read every {self.poll:g} s instead")
        self._default = self.root.read(DEFAULT_AFFINITY)
        self._watch_dirs()
        self._thread = threading.Thread(target=self._run, name="irqd-bans", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.poll + 1)
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def _watch_dirs(self) -> list[str]:
        """Watch each directory that exists now; one that appears later is picked up at the next poll.

        Returns the directories newly watched (a new one may already hold ban files).
        """
        if self._inotify is None:
            return []
        wanted = [*_ENV_DIRS, DROPIN_DIR]
        have = set(self._dirs.values())
        added = []
        for rel in wanted:
            if rel in have or not self.root.isdir(rel) or self.root.islink(rel):
                continue
            try:
                self._dirs[self._inotify.add(self.root.host(rel))] = rel
                added.append(rel)
            except OSError as e:
                self.errors.append(f"{self.root.show(rel)}: cannot watch: {e.strerror}")
        return added

    def _relevant(self, rel_dir: str, name: str) -> bool:
        if rel_dir == DROPIN_DIR:
            return name.endswith(DROPIN_SUFFIX) and not name.startswith(".")
        return name in _ENV_DIRS.get(rel_dir, frozenset())

    def _run(self) -> None:
        snapshot = self._files_state() if self._inotify is None else None
        while not self._stop.is_set():
            changed: set[str] = set()
            if self._inotify is not None:
                ready, _, _ = select.select([self._inotify.fd], [], [], self.poll)
                if ready:
                    for wd, mask, name in self._inotify.read():
                        rel = self._dirs.get(wd)
                        if rel is None:
                            continue
                        if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF):
                            self._dirs.pop(wd, None)   # the directory went: watched again when it is back
                            changed.add(rel)
                        elif self._relevant(rel, name):
                            changed.add(f"{rel}/{name}")
                changed.update(self._watch_dirs())
            else:
                self._stop.wait(self.poll)
                now = self._files_state()
                if now != snapshot:
                    changed.add("ban files")
                    snapshot = now
            default = self.root.read(DEFAULT_AFFINITY)
            if default != self._default:
                self._default = default
                changed.add(DEFAULT_AFFINITY)
            for what in sorted(changed):
                self.events.put(BanEvent(source=what))

    def _files_state(self) -> tuple[tuple[str, str | None], ...]:
        """Without inotify: the content of every ban file, to compare poll by poll."""
        names = [*IRQBALANCE_ENV_FILES,
                 *(f"{DROPIN_DIR}/{n}" for n in self.root.listdir(DROPIN_DIR) if n.endswith(DROPIN_SUFFIX))]
        return tuple((rel, self.root.read(rel)) for rel in names)

"""Daemon logging: journald priorities when under systemd, each distinct problem once.

Under journald (``$JOURNAL_STREAM`` set) lines carry ``<N>`` priority
prefixes (sd-daemon(3)); otherwise plain text. A problem is logged the first
time its key is seen, then counted and summarised at most every
``repeat_after`` seconds, so a broken device cannot flood the journal.
"""

from __future__ import annotations

import os
import sys
import time

ERR, WARNING, NOTICE, INFO, DEBUG = 3, 4, 5, 6, 7


class Log:
    def __init__(self, stream=None, journald: bool | None = None, repeat_after: float = 600.0, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.journald = bool(os.environ.get("JOURNAL_STREAM")) if journald is None else journald
        self.repeat_after = repeat_after
        self.clock = clock
        self._seen: dict[str, tuple[float, int]] = {}

    def _write(self, priority: int, message: str) -> None:
        prefix = f"<{priority}>" if self.journald else ""
        for line in message.splitlines() or [""]:
            self.stream.write(f"{prefix}{line}\n")
        self.stream.flush()

    def log(self, priority: int, message: str, key: str | None = None) -> bool:
        """Log ``message``; with ``key``, only once per key and then as a periodic count."""
        if key is None:
            self._write(priority, message)
            return True
        now = self.clock()
        if key not in self._seen:
            self._seen[key] = (now, 0)
            self._write(priority, message)
            return True
        since, repeats = self._seen[key]
        if now - since >= self.repeat_after:
            self._write(priority, f"{message} (repeated {repeats + 1} times since)" if repeats else message)
            self._seen[key] = (now, 0)
            return True
        self._seen[key] = (since, repeats + 1)
        return False

    def prune(self, keep) -> None:
        """Drop every key ``keep(key)`` says is about something gone."""
        for key in [k for k in self._seen if not keep(k)]:
            del self._seen[key]

    def forget(self, key: str) -> None:
        """The problem went away: log it again if it comes back."""
        self._seen.pop(key, None)

    def err(self, message: str, key: str | None = None) -> bool:
        return self.log(ERR, message, key)

    def warn(self, message: str, key: str | None = None) -> bool:
        return self.log(WARNING, message, key)

    def notice(self, message: str, key: str | None = None) -> bool:
        return self.log(NOTICE, message, key)

    def info(self, message: str, key: str | None = None) -> bool:
        return self.log(INFO, message, key)

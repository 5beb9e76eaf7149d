"""The state file: every original value irqd replaced, so ``irqd restore`` can put it back.

``/var/lib/irqd/state.json`` on a live host, ``ROOT/var/lib/irqd/state.json``
under ``--root`` (``Root.state_path``). Saved atomically (temp file, fsync, rename, fsync of the
directory); the previous good copy is kept as ``state.json.bak`` so a file
damaged from outside still leaves the originals recoverable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

VERSION = 1


class StateError(Exception):
    """The state file cannot be read or written; the message names it."""


@dataclass
class State:
    path: str
    originals: dict[str, str] = field(default_factory=dict)   # root-relative path -> exact original text
    written: dict[str, str] = field(default_factory=dict)     # root-relative path -> what irqd last wrote
    managed: set[int] = field(default_factory=set)            # IRQs whose affinity write the kernel refused
    identity: dict[str, int] = field(default_factory=dict)    # path -> inode irqd wrote to (a recreated queue is new)
    recovered_from_backup: bool = False

    def save_original(self, rel: str, text: str) -> bool:
        """Remember the value before irqd's first change; never overwrite it."""
        if rel in self.originals:
            return False
        self.originals[rel] = text
        return True

    def to_json(self) -> dict:
        return {"version": VERSION, "originals": dict(sorted(self.originals.items())),
                "written": dict(sorted(self.written.items())), "identity": dict(sorted(self.identity.items())),
                "managed": sorted(self.managed)}

    def save(self) -> None:
        directory = os.path.dirname(self.path) or "."
        try:
            os.makedirs(directory, exist_ok=True)
            tmp = f"{self.path}.tmp.{os.getpid()}"
            data = json.dumps(self.to_json(), indent=1).encode() + b"\n"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if os.path.exists(self.path):
                bak = self.path + ".bak"
                if os.path.exists(bak):
                    os.unlink(bak)
                os.link(self.path, bak)
            os.rename(tmp, self.path)
            dfd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            raise StateError(f"{self.path}: cannot save state: {e.strerror}") from None

    def clear(self) -> None:
        for path in (self.path, self.path + ".bak"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StateError(f"{path}: cannot remove: {e.strerror}") from None
        self.originals.clear()
        self.written.clear()
        self.identity.clear()
        self.managed.clear()


def load_state(path: str) -> State:
    """The saved state, an empty one when there is none, or StateError when damaged beyond the backup."""
    try:
        return _parse(path, _read(path))
    except FileNotFoundError:
        return State(path)
    except StateError as damaged:
        try:
            state = _parse(path, _read(path + ".bak"))
        except (FileNotFoundError, StateError):
            raise damaged from None
        state.recovered_from_backup = True
        return state


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise StateError(f"{path}: cannot read state: {e}") from None


def _parse(path: str, text: str) -> State:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateError(f"{path}: damaged state file (line {e.lineno}: {e.msg})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateError(f"{path}: not an irqd state file of version {VERSION}")
    originals, written, managed = data.get("originals", {}), data.get("written", {}), data.get("managed", [])
    if not (isinstance(originals, dict) and isinstance(written, dict) and isinstance(managed, list)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in originals.items())
            and all(isinstance(i, int) for i in managed)):
        raise StateError(f"{path}: damaged state file (unexpected field types)")
    identity = data.get("identity", {})
    if not isinstance(identity, dict) or not all(isinstance(v, int) for v in identity.values()):
        raise StateError(f"{path}: damaged state file (unexpected field types)")
    return State(path, dict(originals), dict(written), set(managed), dict(identity))

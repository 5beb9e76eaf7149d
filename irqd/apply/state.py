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
    # queue attribute path -> its netdev's ifindex: what survives ``ip link set NAME name NEW``, so
    # the entry follows the device to its new name (the path stays, for display, under that name)
    ifindex: dict[str, int] = field(default_factory=dict)
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
                "managed": sorted(self.managed), "ifindex": dict(sorted(self.ifindex.items()))}

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
        self.ifindex.clear()

    def forget(self, rel: str) -> None:
        for table in (self.originals, self.written, self.identity, self.ifindex):
            table.pop(rel, None)

    def move(self, rel: str, new: str) -> None:
        for texts in (self.originals, self.written):
            if rel in texts:
                texts[new] = texts.pop(rel)
        for numbers in (self.identity, self.ifindex):
            if rel in numbers:
                numbers[new] = numbers.pop(rel)


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
    identity, ifindex = data.get("identity", {}), data.get("ifindex", {})
    # every value checked, bool apart from int (JSON true is no IRQ number)
    problem = (_bad_map("originals", originals, str) or _bad_map("written", written, str)
               or _bad_map("identity", identity, int) or _bad_map("ifindex", ifindex, int))
    if problem is None and not (isinstance(managed, list) and all(type(i) is int for i in managed)):
        problem = "managed: a list of IRQ numbers expected"
    if problem:
        raise StateError(f"{path}: damaged state file (unexpected field types: {problem})")
    return State(path, dict(originals), dict(written), set(managed), dict(identity), dict(ifindex))


def _bad_map(name: str, value: object, kind: type) -> str | None:
    if not isinstance(value, dict):
        return f"{name}: an object expected"
    for k, v in value.items():
        if not isinstance(k, str) or type(v) is not kind:
            return f"{name}: {k!r} holds {type(v).__name__}, not {kind.__name__}"
    return None

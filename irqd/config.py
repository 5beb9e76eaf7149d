"""irqd's TOML configuration: reading a file, its errors, and the defaults.

Light on purpose: with no config file (the default), ``irqd plan`` and
``irqd show`` get ``default_config()``, plain frozen dataclasses, and never
import pydantic. A file is validated by the pydantic model in
irqd/config_model.py (the one module that imports pydantic), which has the
same attributes and the same rule methods (``ConfigRules``), so the planner
cannot tell them apart; tests/test_config.py checks the defaults agree.

Strict: unknown keys, bad CPU lists, out-of-range values and coerced types
are errors, all reported at once as ``file:line: field.path: message``.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .config_rules import ConfigRules
from .config_rules import DeviceSettings as DeviceSettings  # re-exported: the planner imports it from here
from .config_rules import Numa as Numa
from .config_rules import Policy as Policy
from .config_rules import Switch as Switch

if TYPE_CHECKING:
    from .config_model import Config

DEFAULT_PATH = "/etc/irqd/irqd.toml"

_MODEL_NAMES = ("Config", "Device", "IrqRule", "Isolation", "Daemon")


def __getattr__(name: str) -> Any:
    """``irqd.config.Config`` and the other model classes, imported (with pydantic) when asked for."""
    if name in _MODEL_NAMES:
        from . import config_model
        return getattr(config_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ConfigError(Exception):
    """Every problem in one config file, each with its location."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


# -- the defaults, without pydantic (same values as config_model's; tests/test_config.py checks) --

@dataclass(frozen=True)
class _IsolationDefaults:
    sysfs_isolated: bool = True
    nohz_full: bool = True
    isolcpus: bool = True
    irqaffinity: bool = True
    default_smp_affinity: bool = True
    irqbalance_banned: bool = True
    banned_d: bool = True


@dataclass(frozen=True)
class _DaemonDefaults:
    interval: float = 10.0
    imbalance_threshold: float = 1.5
    samples: int = 3
    max_moves_per_cycle: int = 4
    min_move_interval: float = 300.0
    respect_manual_changes: bool = True
    restore_on_exit: bool = False
    metrics_path: str | None = None
    nfd_features_path: str | None = None


@dataclass(frozen=True)
class _Defaults(ConfigRules):
    banned_cpus: str = ""
    policy: str = "spread"
    rps: str = "auto"
    xps: str = "auto"
    xps_mode: str = "cpus"
    numa: str = "nearest"
    rps_virtual: bool = False
    follow_affinity_hint: bool = False
    rfs_entries: int = 32768
    irqs_in_netns: bool = False
    isolation: _IsolationDefaults = field(default_factory=_IsolationDefaults)
    daemon: _DaemonDefaults = field(default_factory=_DaemonDefaults)
    device: tuple = ()
    irq: tuple = ()


_DEFAULTS = _Defaults()


def default_config() -> Config:
    """The defaults, as plain frozen dataclasses (no pydantic import): what ``irqd plan`` uses
    when there is no config file. Typed as the model: the planner reads the same attributes."""
    return cast("Config", _DEFAULTS)


MAX_CONFIG_BYTES = 1 << 20


def _read_config(target: str) -> bytes:
    """The file's bytes: a regular file only, opened non-blocking (a FIFO must not hang the
    daemon on SIGHUP), at most MAX_CONFIG_BYTES."""
    fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(target, [f"{target}: not a regular file"])
        data = os.read(fd, MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(target, [f"{target}: larger than {MAX_CONFIG_BYTES >> 10} KiB; not a config file"])
    return data


def load_config(path: str | None, *, required: bool = False) -> Config:
    """Load ``path`` (default /etc/irqd/irqd.toml). A missing default file means defaults."""
    target = path or DEFAULT_PATH
    try:
        raw = _read_config(target)
    except FileNotFoundError:
        if path is None and not required:
            return default_config()
        raise ConfigError(target, [f"{target}: no such file"]) from None
    except OSError as e:
        raise ConfigError(target, [f"{target}: {e.strerror}"]) from None
    return parse_config(raw.decode("utf-8", errors="replace"), target)


_TOML_AT = re.compile(r"^(?P<msg>.*?) \(at line (?P<line>[0-9]+), column (?P<col>[0-9]+)\)$")


def parse_config(text: str, path: str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        if m := _TOML_AT.match(msg):
            raise ConfigError(path, [f"{path}:{m['line']}: {m['msg']} (column {m['col']})"]) from None
        if msg.endswith("(at end of document)"):
            end = text.count("\n") + (0 if text.endswith("\n") else 1)
            raise ConfigError(path, [f"{path}:{max(end, 1)}: {msg.removesuffix(' (at end of document)')} "
                                     "(at end of file)"]) from None
        raise ConfigError(path, [f"{path}: {msg}"]) from None
    except RecursionError:
        raise ConfigError(path, [f"{path}:{_deep_line(text)}: nesting too deep"]) from None
    from .config_model import InvalidConfig, validate
    try:
        return validate(data)
    except RecursionError:
        raise ConfigError(path, [f"{path}:{_deep_line(text)}: nesting too deep"]) from None
    except InvalidConfig as e:
        lines = _key_lines(text)
        problems: list[tuple[int, str]] = []
        for err in e.errors:
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_for(lines, loc)
            where = f"{path}:{line}" if line else path
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append((line or 0, f"{where}: {field}: {msg}"))
        raise ConfigError(path, [p for _, p in sorted(problems, key=lambda p: p[0])]) from None


_DEEP = 64   # no irqd setting nests more than 3 deep


def _deep_line(text: str) -> int:
    """The line where arrays and inline tables first nest more than _DEEP deep (1 if never):
    where a RecursionError in the TOML reader or the validator came from."""
    depth, line, quote, i = 0, 1, "", 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
        elif quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif c in "[{":
            depth += 1
            if depth > _DEEP:
                return line
        elif c in "]}":
            depth -= 1
        i += 1
    return 1


# one key of a dotted key: bare, "basic" or 'literal' (TOML 1.0), with the spaces around it
_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


def _key_path(text: str) -> tuple[tuple[str, ...], int] | None:
    """A (dotted) TOML key at the start of ``text``: its parts and where it ends, or None."""
    parts: list[str] = []
    pos = 0
    while True:
        m = _KEY_PART.match(text, pos)
        if not m or m.end() == pos:
            return None
        bare, basic, literal = m.groups()
        if bare is not None:
            parts.append(bare)
        elif basic is not None:
            parts.append(basic.encode().decode("unicode_escape") if "\\" in basic else basic)
        else:
            parts.append(literal)
        pos = m.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


def _key_lines(text: str) -> dict[tuple, int]:
    """Map (table..., key) paths, and every prefix of them, to line numbers; tomllib keeps no
    positions. Quoted keys, dotted keys with spaces, [a.b] and [[a]] headers all count."""
    out: dict[tuple, int] = {}
    table: tuple = ()
    counts: dict[tuple, int] = {}

    def mark(path: tuple, n: int) -> None:
        for i in range(1, len(path) + 1):
            out.setdefault(path[:i], n)

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[["):
            found = _key_path(line[2:])
            if found and line[2 + found[1]:].lstrip().startswith("]]"):
                name = found[0]
                counts[name] = counts.get(name, -1) + 1
                table = name + (counts[name],)
                mark(table, n)
        elif line.startswith("["):
            found = _key_path(line[1:])
            if found and line[1 + found[1]:].lstrip().startswith("]"):
                table = found[0]
                mark(table, n)
        elif (found := _key_path(line)) and line[found[1]:].startswith("="):
            mark(table + found[0], n)
    return out


def _line_for(lines: dict[tuple, int], loc: tuple) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def config_toml(config: Config) -> str:
    """The effective config as TOML (``irqd config show``)."""
    if isinstance(config, _Defaults):
        from .config_model import Config as Model
        config = Model()
    data = config.model_dump(exclude_none=True)
    out: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
    for k, v in scalars.items():
        out.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            out.append(f"\n[{k}]")
            out.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
    for k, v in data.items():
        if isinstance(v, list):
            for item in v:
                out.append(f"\n[[{k}]]")
                out.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in item.items())
    return "\n".join(out) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

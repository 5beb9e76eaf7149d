"""irqd's TOML configuration: the only module that imports pydantic.

Strict: unknown keys, bad CPU lists and out-of-range values are errors, all
reported at once as ``file:line: field.path: message``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .cpuset import CpuFormatError, CpuSet, check_list, parse_list

DEFAULT_PATH = "/etc/irqd/irqd.toml"

Policy = Literal["spread", "pack", "node", "manual", "ignore"]
Switch = Literal["auto", "on", "off"]
Numa = Literal["strict", "nearest"]


class ConfigError(Exception):
    """Every problem in one config file, each with its location."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


def _cpulist(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("a CPU list is a string such as \"0-3,8\"")
    try:
        check_list(value)
    except CpuFormatError as e:
        raise ValueError(str(e)) from None
    return value


class _Strict(BaseModel):
    # strict: "no" is not a boolean and "10" is not a number (an int is still a fine float)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Isolation(_Strict):
    """Which sources of isolated CPUs irqd honours (all by default)."""
    sysfs_isolated: bool = True
    nohz_full: bool = True
    isolcpus: bool = True
    irqaffinity: bool = True


class Daemon(_Strict):
    interval: Annotated[float, Field(ge=1, le=3600)] = 10.0
    imbalance_threshold: Annotated[float, Field(ge=1.05, le=100)] = 1.5
    samples: Annotated[int, Field(ge=1, le=100)] = 3
    max_moves_per_cycle: Annotated[int, Field(ge=0, le=1000)] = 4
    min_move_interval: Annotated[float, Field(ge=0, le=86400)] = 300.0
    respect_manual_changes: bool = True
    restore_on_exit: bool = False
    metrics_path: str | None = None


class Device(_Strict):
    """Per-device section: matches by interface name glob, driver or PCI address."""
    match: str | None = None
    driver: str | None = None
    pci: str | None = None
    policy: Policy | None = None
    cpus: str | None = None
    exclude_cpus: str | None = None
    rps: Switch | None = None
    xps: Switch | None = None
    numa: Numa | None = None

    @field_validator("cpus", "exclude_cpus")
    @classmethod
    def _cpus(cls, v):
        return _cpulist(v)

    @model_validator(mode="after")
    def _needs_a_matcher(self):
        if not (self.match or self.driver or self.pci):
            raise ValueError("a [[device]] needs at least one of match, driver, pci")
        if self.pci and not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]", self.pci):
            raise ValueError(f"pci {self.pci!r} is not a PCI address like 0000:3b:00.0")
        return self

    @property
    def cpu_set(self) -> CpuSet | None:
        return None if not self.cpus else parse_list(self.cpus)

    @property
    def exclude_set(self) -> CpuSet | None:
        return None if not self.exclude_cpus else parse_list(self.exclude_cpus)

    def matches(self, name: str, driver: str | None, pci: str | None) -> bool:
        if self.match and not fnmatch.fnmatchcase(name, self.match):
            return False
        if self.driver and self.driver != driver:
            return False
        if self.pci and (pci or "").lower() != self.pci.lower():
            return False
        return True


class IrqRule(_Strict):
    """Per-IRQ override: by number or by action-name glob."""
    irq: Annotated[int, Field(ge=0)] | None = None
    name: str | None = None
    policy: Literal["manual", "ignore", "spread", "node"] | None = None
    cpus: str | None = None

    @field_validator("cpus")
    @classmethod
    def _cpus(cls, v):
        return _cpulist(v)

    @model_validator(mode="after")
    def _needs_a_matcher(self):
        if self.irq is None and not self.name:
            raise ValueError("an [[irq]] needs irq or name")
        if self.policy is None and self.cpus is None:
            raise ValueError("an [[irq]] needs policy or cpus")
        return self

    @property
    def cpu_set(self) -> CpuSet | None:
        return None if self.cpus is None else parse_list(self.cpus)

    def matches(self, irq: int, name: str) -> bool:
        if self.irq is not None and self.irq != irq:
            return False
        if self.name and not fnmatch.fnmatchcase(name, self.name):
            return False
        return True


@dataclass(frozen=True)
class DeviceSettings:
    """One device's settings once its [[device]] section and the defaults are merged.

    The one place a per-device key falls back to the global one, so the
    planner and the audit can never disagree on it.
    """
    rule: Device | None
    policy: str
    rps: str
    xps: str
    numa: str
    cpus: CpuSet | None          # [[device]] cpus, parsed; None: no limit
    exclude_cpus: CpuSet | None


class Config(_Strict):
    banned_cpus: str = ""
    policy: Literal["spread", "pack", "node"] = "spread"
    rps: Switch = "auto"
    xps: Switch = "auto"
    xps_mode: Literal["cpus", "rxqs"] = "cpus"
    numa: Numa = "nearest"
    rps_virtual: bool = False
    follow_affinity_hint: bool = False
    rfs_entries: Annotated[int, Field(ge=0, le=1 << 26)] = 32768
    irqs_in_netns: bool = False
    isolation: Isolation = Isolation()
    daemon: Daemon = Daemon()
    device: list[Device] = []
    irq: list[IrqRule] = []

    @field_validator("banned_cpus")
    @classmethod
    def _banned(cls, v):
        return _cpulist(v)

    def banned(self) -> frozenset[int]:
        return parse_list(self.banned_cpus)

    def device_rule(self, name: str, driver: str | None, pci: str | None) -> Device | None:
        """The first [[device]] section that matches, as in most firewalls: order matters."""
        return next((d for d in self.device if d.matches(name, driver, pci)), None)

    def device_settings(self, name: str | None = None, driver: str | None = None,
                        pci: str | None = None) -> DeviceSettings:
        """Settings for a device; with no name, the global defaults (storage and other devices)."""
        rule = self.device_rule(name, driver, pci) if name is not None else None
        return DeviceSettings(
            rule=rule,
            policy=(rule.policy if rule is not None and rule.policy else None) or self.policy,
            rps=(rule.rps if rule is not None and rule.rps else None) or self.rps,
            xps=(rule.xps if rule is not None and rule.xps else None) or self.xps,
            numa=(rule.numa if rule is not None and rule.numa else None) or self.numa,
            cpus=rule.cpu_set if rule is not None else None,
            exclude_cpus=rule.exclude_set if rule is not None else None,
        )

    def irq_rule(self, irq: int, name: str) -> IrqRule | None:
        return next((r for r in self.irq if r.matches(irq, name)), None)


def default_config() -> Config:
    return Config()


# a config file is a few KB; a bound keeps a huge or endless file (a link to /dev/zero) from
# exhausting memory
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
    try:
        return Config.model_validate(data)
    except RecursionError:
        raise ConfigError(path, [f"{path}:{_deep_line(text)}: nesting too deep"]) from None
    except ValidationError as e:
        lines = _key_lines(text)
        problems: list[tuple[int, str]] = []
        for err in e.errors():
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

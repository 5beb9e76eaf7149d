"""irqd's configuration model, validated by pydantic: the only module that imports pydantic.

Imported only to check a config file (``irqd.config.parse_config``), to
show it, and to document it (irqd.toml(5)). With no config file,
``irqd plan`` and ``irqd show`` never import it: the defaults are plain
frozen dataclasses in irqd/config.py with the same attributes and methods.

Strict: unknown keys, bad CPU lists and out-of-range values are errors, and
no coercion ("no" is not a boolean, "10" is not a number; an int is a fine
float).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .config_rules import ConfigRules, Numa, Policy, Switch
from .cpuset import CpuFormatError, CpuSet, check_list, parse_list


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
    """Which sources of isolated and banned CPUs irqd honours (all by default)."""
    sysfs_isolated: bool = True
    nohz_full: bool = True
    isolcpus: bool = True
    irqaffinity: bool = True
    default_smp_affinity: bool = True
    irqbalance_banned: bool = True
    banned_d: bool = True


class Daemon(_Strict):
    interval: Annotated[float, Field(ge=1, le=3600)] = 10.0
    imbalance_threshold: Annotated[float, Field(ge=1.05, le=100)] = 1.5
    samples: Annotated[int, Field(ge=1, le=100)] = 3
    max_moves_per_cycle: Annotated[int, Field(ge=0, le=1000)] = 4
    min_move_interval: Annotated[float, Field(ge=0, le=86400)] = 300.0
    respect_manual_changes: bool = True
    restore_on_exit: bool = False
    metrics_path: str | None = None
    nfd_features_path: str | None = None


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


class Config(_Strict, ConfigRules):
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


class InvalidConfig(Exception):
    """What pydantic found wrong, as its error dicts (loc, msg, type): irqd/config.py places them."""

    def __init__(self, errors: list):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s)")


def validate(data: dict) -> Config:
    """The model of a parsed TOML document, or InvalidConfig with every problem."""
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise InvalidConfig(list(e.errors())) from None

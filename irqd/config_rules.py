"""What the planner asks of a configuration, shared by the defaults (irqd/config.py, plain
dataclasses) and a validated file (irqd/config_model.py, pydantic): one set of answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .cpuset import CpuSet, parse_list

Policy = Literal["spread", "pack", "node", "manual", "ignore"]
Switch = Literal["auto", "on", "off"]
Numa = Literal["strict", "nearest"]


@dataclass(frozen=True)
class DeviceSettings:
    """One device's settings once its [[device]] section and the defaults are merged.

    The one place a per-device key falls back to the global one, so the
    planner and the audit can never disagree on it.
    """
    rule: Any                    # the matching config_model.Device, or None (no import: no circle)
    policy: str
    rps: str
    xps: str
    numa: str
    cpus: CpuSet | None          # [[device]] cpus, parsed; None: no limit
    exclude_cpus: CpuSet | None


class ConfigRules:
    """The questions the planner asks a config, answered the same for the defaults and a file."""

    banned_cpus: str
    policy: str
    rps: str
    xps: str
    numa: str
    device: Any
    irq: Any

    def banned(self) -> frozenset[int]:
        return parse_list(self.banned_cpus)

    def device_rule(self, name: str, driver: str | None, pci: str | None) -> Any:
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

    def irq_rule(self, irq: int, name: str) -> Any:
        return next((r for r in self.irq if r.matches(irq, name)), None)

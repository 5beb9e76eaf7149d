"""Parser for ``/proc/cmdline``: the boot options that keep CPUs free of IRQs.

Sample: ``BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,2-31 nohz_full=2-31 irqaffinity=0-1``.
``isolcpus=managed_irq,...`` without ``domain`` leaves
``/sys/devices/system/cpu/isolated`` empty, so only the command line tells.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cpuset import CpuFormatError, CpuSet, parse_list

_ISOLCPUS_FLAGS = {"nohz", "domain", "managed_irq"}


@dataclass(frozen=True)
class BootCpus:
    isolcpus: CpuSet | None = None
    isolcpus_flags: tuple[str, ...] = ()
    nohz_full: CpuSet | None = None
    irqaffinity: CpuSet | None = None
    rcu_nocbs: CpuSet | None = None
    errors: tuple[str, ...] = ()


def parse_cmdline(text: str, nr_cpus: int | None = None) -> BootCpus:
    values: dict[str, str] = {}
    for word in text.split():
        if word == "--":
            break  # what follows goes to init, not the kernel
        key, eq, value = word.partition("=")
        if eq and key in ("isolcpus", "nohz_full", "irqaffinity", "rcu_nocbs"):
            values[key] = value  # the kernel takes the last one given
    errors: list[str] = []

    def cpus(key: str, value: str) -> CpuSet | None:
        try:
            return parse_list(value, nr_cpus)
        except CpuFormatError as e:
            errors.append(f"{key}=: {e}")
            return None

    isolcpus = None
    flags: list[str] = []
    if "isolcpus" in values:
        words = values["isolcpus"].split(",")
        while words and words[0] in _ISOLCPUS_FLAGS:
            flags.append(words.pop(0))
        if not flags:
            flags = ["domain"]  # the plain form isolates from the scheduler domains
        isolcpus = cpus("isolcpus", ",".join(words))
    return BootCpus(
        isolcpus=isolcpus,
        isolcpus_flags=tuple(flags),
        nohz_full=cpus("nohz_full", values["nohz_full"]) if "nohz_full" in values else None,
        irqaffinity=cpus("irqaffinity", values["irqaffinity"]) if "irqaffinity" in values else None,
        rcu_nocbs=cpus("rcu_nocbs", values["rcu_nocbs"]) if values.get("rcu_nocbs") else None,
        errors=tuple(errors),
    )

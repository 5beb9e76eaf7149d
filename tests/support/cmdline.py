"""The kernel command line's isolation words, as the generator honours them."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.kernelfmt import parse_list


@dataclass(frozen=True)
class Boot:
    isolcpus: frozenset[int]
    flags: tuple[str, ...]
    nohz_full: frozenset[int] | None
    irqaffinity: frozenset[int] | None


def boot_params(cmdline: str) -> Boot:
    values: dict[str, str] = {}
    for word in cmdline.split():
        if word == "--":
            break
        key, eq, value = word.partition("=")
        if eq and key in ("isolcpus", "nohz_full", "irqaffinity"):
            values[key] = value
    iso: frozenset[int] = frozenset()
    flags: tuple[str, ...] = ()
    if "isolcpus" in values:
        words = values["isolcpus"].split(",")
        fl = []
        while words and words[0] in ("nohz", "domain", "managed_irq"):
            fl.append(words.pop(0))
        iso, flags = parse_list(",".join(words)), tuple(fl) or ("domain",)
    return Boot(iso, flags,
                 parse_list(values["nohz_full"]) if "nohz_full" in values else None,
                 parse_list(values["irqaffinity"]) if "irqaffinity" in values else None)

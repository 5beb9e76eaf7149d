"""CPU masks and CPU lists, in the two text forms the kernel prints.

Mask: comma-separated groups of 32 bits, most significant first, as printed
by the kernel's ``%*pb`` (``/proc/irq/N/smp_affinity``, ``rps_cpus``):
``ffffffff,00000001``. The width follows nr_cpu_ids, so the first group is
only as wide as the remaining bits need (80 CPUs: ``ffff,ffffffff,ffffffff``).

List: ``%*pbl`` form (``smp_affinity_list``, ``/sys/devices/system/cpu/online``):
``0-3,8,10-11``; empty is an empty line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import compress

CpuSet = frozenset[int]

# Linux allows at most 8192 CPUs (CONFIG_NR_CPUS); anything far above is a
# damaged file, and believing it would make masks of billions of bits
MAX_CPUS = 1 << 15


class CpuFormatError(ValueError):
    """Text that is not a CPU mask or list; the message says what was wrong."""


_HEX_GROUP = re.compile(r"^[0-9a-fA-F]{1,8}$")


@lru_cache(maxsize=4096)
def parse_mask(text: str) -> CpuSet:
    """``"ffffffff,00000001"`` -> {0, 32..63}.

    Cached: a machine repeats a few masks thousands of times (all CPUs, a
    node), and the result is immutable.
    """
    text = text.strip()
    if not text:
        return frozenset()
    groups = text.split(",")
    if len(groups) * 32 > MAX_CPUS:
        raise CpuFormatError(f"a mask of {len(groups) * 32} bits is beyond any Linux machine")
    value = 0
    for group in groups:
        if not _HEX_GROUP.match(group):
            raise CpuFormatError(f"not a CPU mask: {text!r}")
        value = (value << 32) | int(group, 16)
    return _bits(value)


@lru_cache(maxsize=4096)
def mask_digits(text: str) -> int:
    """Hex digits a mask was printed with, so a writer can keep the kernel's width (cached as parse_mask)."""
    text = text.strip()
    if not text:
        return 0
    groups = text.split(",")
    return len(groups[0]) + 8 * (len(groups) - 1)


def format_mask(cpus: Iterable[int], digits: int | None = None) -> str:
    """Print a mask as the kernel does, ``digits`` hex digits wide.

    Without ``digits`` the mask is as short as the highest CPU allows.
    A CPU that does not fit the width is an error, never silently dropped.
    """
    value = 0
    for cpu in cpus:
        if cpu < 0:
            raise CpuFormatError(f"negative CPU number {cpu}")
        value |= 1 << cpu
    needed = max(1, (value.bit_length() + 3) // 4)
    if digits is None:
        digits = needed
    elif needed > digits and value:
        raise CpuFormatError(f"CPU {value.bit_length() - 1} does not fit a {digits * 4}-bit mask")
    hexstr = format(value, "x").rjust(digits, "0")
    head = len(hexstr) % 8 or 8
    parts = [hexstr[:head]] + [hexstr[i:i + 8] for i in range(head, len(hexstr), 8)]
    return ",".join(parts)


def digits_for(nr_cpus: int) -> int:
    """Hex digits the kernel prints for nr_cpu_ids CPUs."""
    return max(1, (nr_cpus + 3) // 4)


# [0-9], never \d: in a str pattern \d matches every Unicode digit ("٣", "１"), and int() reads them
_RANGE = re.compile(r"^([0-9]+|N)(?:-([0-9]+|N)(?::([0-9]+)/([0-9]+))?)?$")


def check_list(text: str, nr_cpus: int | None = None) -> None:
    """Raise CpuFormatError exactly when ``parse_list`` would, without building the set
    (a config of 2,000 x "0-32767" is checked in milliseconds, not seconds)."""
    _ranges(text, nr_cpus)


def _ranges(text: str, nr_cpus: int | None) -> list[tuple[int, int, int, int]]:
    """(lo, hi, used, group) per comma-separated part, each checked."""
    text = text.strip()
    if not text or text == "(null)":
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        m = _RANGE.match(part)
        if not m:
            raise CpuFormatError(f"not a CPU list: {text!r} (at {part!r})")
        lo = _cpu_number(m.group(1), nr_cpus, text)
        hi = _cpu_number(m.group(2), nr_cpus, text) if m.group(2) else lo
        if hi < lo:
            raise CpuFormatError(f"CPU range runs backwards: {part!r} in {text!r}")
        if hi >= MAX_CPUS:
            raise CpuFormatError(f"CPU {hi} is beyond any Linux machine ({MAX_CPUS} CPUs) in {text!r}")
        used, group = (int(m.group(3)), int(m.group(4))) if m.group(3) else (1, 1)
        if group == 0 or used > group:
            raise CpuFormatError(f"bad CPU group {part!r} in {text!r}")
        out.append((lo, hi, used, group))
    return out


@lru_cache(maxsize=1024)
def parse_list(text: str, nr_cpus: int | None = None) -> CpuSet:
    """``"0-3,8,10-11"`` -> {0,1,2,3,8,10,11}.

    Also takes what ``cpulist_parse()`` takes on the kernel command line:
    ``N`` for the last CPU and ``100-2000:2/25`` groups. ``(null)`` is what
    some kernels print for an unset nohz_full, so it is empty. Cached: a
    config's lists are asked for again and again, and the result is immutable.
    """
    out: set[int] = set()
    for lo, hi, used, group in _ranges(text, nr_cpus):
        if group == 1:
            out.update(range(lo, hi + 1))
        else:
            out.update(c for c in range(lo, hi + 1) if (c - lo) % group < used)
    return frozenset(out)


def _cpu_number(token: str, nr_cpus: int | None, text: str) -> int:
    if token == "N":
        if nr_cpus is None:
            raise CpuFormatError(f"'N' in {text!r} needs the number of CPUs")
        return nr_cpus - 1
    return int(token)


def format_list(cpus: Iterable[int]) -> str:
    """{0,1,2,3,8} -> ``"0-3,8"``."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


def _bits(value: int) -> CpuSet:
    digits = bin(value)[:1:-1]  # least significant bit first
    # bytes of 0/1 select the positions in C: a 1,024-CPU mask is one call, not 1,024 steps
    return frozenset(compress(range(len(digits)), digits.encode().translate(_BIT_BYTES)))

"""Parser for ``/proc/interrupts``.

Sample (kernel 6.x, x86 with interrupt remapping)::

               CPU0       CPU1
     24:          1          0  IO-APIC   5-edge      ACPI:Ged
     38:          0        214  IR-PCI-MSIX-0000:4b:00.0   1-edge      i40e-eth0-TxRx-0
    NMI:          0          0   Non-maskable interrupts

The header names only online CPUs, so column i is CPU ``cpus[i]``, not CPU i.
Rows whose label is not a number (NMI, LOC, IPI0, ERR, MIS) are not IRQs and
are kept apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import compress

from ..snapshot import CpuCounts

# Flow handler names the kernel prints after the hwirq ("5-edge") or, on old
# kernels that print no hwirq, fused onto the chip ("IR-PCI-MSI-edge").
_HANDLERS = ("edge", "fasteoi", "level", "simple", "percpu", "percpu_devid",
             "untracked", "bad", "nested", "fasteoi_ack", "edge_eoi")
_FUSED = re.compile(r"^(?P<chip>.+?)-(?P<trigger>" + "|".join(sorted(_HANDLERS, key=len, reverse=True)) + r")$")
# hwirq then "-handler"; hwirq then Level/Edge (GENERIC_IRQ_SHOW_LEVEL, arm);
# or a hwirq alone.
_HWIRQ_TRIGGER = re.compile(r"^\s+(?P<hwirq>[0-9]+)-(?P<trigger>\w+)(?=\s|$)")
_HWIRQ_LEVEL = re.compile(r"^\s+(?P<hwirq>[0-9]+)\s+(?P<trigger>Level|Edge)(?:-(?P<handler>\w+))?(?=\s|$)")
_HWIRQ_ONLY = re.compile(r"^\s+(?P<hwirq>[0-9]+)(?=\s|$)")
_LEVEL_ONLY = re.compile(r"^\s+(?P<trigger>Level|Edge)(?:-(?P<handler>\w+))?(?=\s|$)")
_NONZERO = re.compile(r"[1-9][0-9]*")
_PCI_CHIP = re.compile(r"PCI-MSI(?:X|-X)?-(?P<bdf>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])")


class InterruptsFormatError(ValueError):
    """A line of /proc/interrupts that cannot be read; carries the line number."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class IrqRow:
    irq: int
    counts: CpuCounts  # (cpu, count), online CPUs only
    chip: str
    hwirq: int | None
    trigger: str | None
    actions: tuple[str, ...]
    total: int = 0

    @property
    def chip_device(self) -> str | None:
        """The PCI function named by the chip (``IR-PCI-MSIX-0000:4b:00.0``) or encoded in an x86 PCI-MSI hwirq."""
        m = _PCI_CHIP.search(self.chip)
        if m:
            return m.group("bdf").lower()
        if self.hwirq is not None and self.chip in ("PCI-MSI", "IR-PCI-MSI", "PCI-MSIX", "IR-PCI-MSIX"):
            return msi_hwirq_bdf(self.hwirq)
        return None


@dataclass(frozen=True)
class OtherRow:
    """NMI, LOC, IPI0 ... : per-CPU counters that are not IRQs."""

    label: str
    counts: CpuCounts
    description: str


@dataclass(frozen=True)
class Interrupts:
    cpus: tuple[int, ...]
    irqs: tuple[IrqRow, ...]
    other: tuple[OtherRow, ...]


def msi_hwirq_bdf(hwirq: int) -> str:
    """Decode x86's PCI-MSI hwirq: domain << 27 | bus << 19 | devfn << 11 | vector.

    pci_msi_domain_calc_hwirq(); "IR-PCI-MSI 13107201-edge" is 0000:19:00.0.
    """
    devid = (hwirq >> 11) & 0xFFFF
    domain = hwirq >> 27
    bus, devfn = devid >> 8, devid & 0xFF
    return f"{domain:04x}:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


def parse_interrupts(text: str) -> Interrupts:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InterruptsFormatError(1, "empty file or no CPU header")
    header = lines[0].split()
    cpus: list[int] = []
    for word in header:
        if not word.startswith("CPU") or not (word[3:].isascii() and word[3:].isdigit()):
            raise InterruptsFormatError(1, f"header has {word!r} where a CPU name belongs")
        cpus.append(int(word[3:]))
    ncol = len(cpus)
    columns = tuple(cpus)
    columns_of: dict[int, tuple[int, ...]] = {ncol: columns}
    irqs: list[IrqRow] = []
    other: list[OtherRow] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        label, sep, rest = line.partition(":")
        label = label.strip()
        if not sep or not label:
            raise InterruptsFormatError(lineno, f"no 'N:' label in {line[:60]!r}")
        n, nonzero, total, rest = _take_counts(rest, columns)
        if label.isascii() and label.isdigit():
            if n != ncol:
                raise InterruptsFormatError(lineno, f"IRQ {label} has {n} counts for {ncol} CPUs (truncated?)")
            irqs.append(_irq_row(int(label), CpuCounts(columns, nonzero), rest, total))
        else:
            if n not in columns_of:
                columns_of[n] = columns[:n]
            other.append(OtherRow(label, CpuCounts(columns_of[n], nonzero), rest.strip()))
    return Interrupts(columns, tuple(irqs), tuple(other))


def _take_counts(rest: str, columns: tuple[int, ...]) -> tuple[int, tuple[tuple[int, int], ...], int, str]:
    """The per-CPU counts at the start of ``rest``: (how many, the non-zero ones as (cpu, count), their sum,
    what follows them).

    The hot loop of discovery on big machines (one count per CPU per IRQ,
    4 M at 1,024 CPUs, nearly all "0"), so it splits once, checks the words
    are digits in one call, and converts only the words that are not "0".
    """
    ncol = len(columns)
    parts = rest.split(None, ncol)
    words = parts[:ncol]
    tail = parts[ncol] if len(parts) > ncol else ""
    joined = "".join(words)
    if len(words) == ncol and joined.isascii() and joined.isdigit():
        busy = ncol - words.count("0")
        if not busy:
            return ncol, (), 0, (" " + tail if tail else "")
        at = _sparse_columns(words, busy) if busy <= ncol // 4 else None
        if at is None:
            at = list(compress(range(ncol), map("0".__ne__, words)))
        nonzero = tuple((columns[i], int(words[i])) for i in at)
        return ncol, nonzero, sum(n for _, n in nonzero), (" " + tail if tail else "")
    # fewer counts than CPUs (ERR:, MIS:), a truncated row, or a word that is not a count
    counts: list[int] = []
    for i, word in enumerate(words):
        if not (word.isascii() and word.isdigit()):
            rest = rest[_offset_of(rest, i):]
            break
        counts.append(int(word))
    else:
        rest = " " + tail if tail else ""
    nonzero = tuple((c, n) for c, n in zip(columns, counts) if n)
    return len(counts), nonzero, sum(counts), rest


def _sparse_columns(words: list[str], busy: int) -> list[int] | None:
    """The columns of the ``busy`` words that are not "0", found without a Python step per word.

    The regex finds the non-zero numbers in order (in the words joined by one
    space: the file's padding would triple what it scans) and list.index
    finds each one's column, scanning in C past the "0"s between. A number with leading
    zeros ("007") would be found as "7" elsewhere or not at all: then the
    columns found are not ``busy`` distinct ones and the caller checks word
    by word instead (None).
    """
    at: list[int] = []
    i = -1
    try:
        for number in _NONZERO.findall(" ".join(words)):
            i = words.index(number, i + 1)
            at.append(i)
    except ValueError:
        return None
    return at if len(at) == busy else None


def _offset_of(rest: str, index: int) -> int:
    """Character offset of the index-th whitespace-separated word."""
    pos = 0
    for _ in range(index):
        pos = len(rest) - len(rest[pos:].lstrip())
        while pos < len(rest) and not rest[pos].isspace():
            pos += 1
    return pos


def _irq_row(irq: int, counts: CpuCounts, rest: str, total: int) -> IrqRow:
    m = re.match(r"\s*(\S+)", rest)
    if not m:
        return IrqRow(irq, counts, "", None, None, (), total)
    chip = m.group(1)
    tail = rest[m.end():]
    hwirq: int | None = None
    trigger: str | None = None
    for pattern in (_HWIRQ_TRIGGER, _HWIRQ_LEVEL, _LEVEL_ONLY, _HWIRQ_ONLY):
        hm = pattern.match(tail)
        if hm:
            groups = hm.groupdict()
            if groups.get("hwirq"):
                hwirq = int(groups["hwirq"])
            if groups.get("trigger"):
                trigger = groups["trigger"].lower()
            tail = tail[hm.end():]
            break
    if trigger is None and hwirq is None:
        fm = _FUSED.match(chip)
        if fm:
            chip, trigger = fm.group("chip"), fm.group("trigger")
    names = tail.strip()
    actions = tuple(a.strip() for a in names.split(", ")) if names else ()
    return IrqRow(irq, counts, chip, hwirq, trigger, actions, total)

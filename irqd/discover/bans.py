"""CPUs that someone else has banned from interrupts, and who banned them.

Three kinds of source, unioned:

* ``/proc/irq/default_smp_affinity``: a CPU that is online but outside this
  mask is banned. At boot the mask is ``irqaffinity=``; on a Kubernetes node
  cri-o clears a latency-sensitive pod's CPUs from it at PreStart and sets
  them again at PostStop (cri-o ``internal/runtimehandlerhooks``:
  ``updateNewIRQSMPAffinityMask``). Sample line: ``00000033``.
* ``/etc/sysconfig/irqbalance`` and ``/etc/default/irqbalance``: the
  irqbalance environment file, ``IRQBALANCE_BANNED_CPUS="0000ffff,ffffcffd"``
  (cri-o ``updateIrqBalanceConfigFile``) or ``IRQBALANCE_BANNED_CPULIST=2-5``
  (tuned ``plugin_irqbalance._write_banned_cpus``).
* ``/run/irqd/banned.d/OWNER.cpulist``: irqd's own drop-ins, one per owner,
  written by ``irqd ban --owner OWNER CPUS`` (see ``write_dropin``).

The readers here only read; the daemon decides what a ban does.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from ..cpuset import CpuFormatError, CpuSet, format_list, parse_list, parse_mask
from .root import Root
from .topology import read_list

DEFAULT_AFFINITY = "proc/irq/default_smp_affinity"
# cri-o's default is the first (pkg/config: DefaultIrqBalanceConfigFile);
# Debian and Ubuntu package irqbalance with the second
IRQBALANCE_ENV_FILES = ("etc/sysconfig/irqbalance", "etc/default/irqbalance")
DROPIN_DIR = "run/irqd/banned.d"
DROPIN_SUFFIX = ".cpulist"
# A drop-in holds one CPU list; 64 KiB is far above any real list (8192 CPUs
# written one by one take ~40 KiB) and keeps a stray file from being slurped
MAX_DROPIN_BYTES = 64 * 1024
# NAME_MAX is 255; leave room for the suffix and the writer's temp-name decoration
MAX_OWNER_LEN = 200

_OWNER = re.compile(r"[A-Za-z0-9_.-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

BANNED_CPUS = "IRQBALANCE_BANNED_CPUS"
BANNED_CPULIST = "IRQBALANCE_BANNED_CPULIST"


@dataclass(frozen=True)
class BanSource:
    """One source's banned CPUs.

    ``name`` is how show/plan/status/logs name it: ``proc:default_smp_affinity``,
    ``irqbalance:/etc/sysconfig/irqbalance``, ``banned.d:OWNER``. ``detail``
    says which variable or file line gave the set.
    """

    name: str
    cpus: CpuSet
    detail: str = ""


@dataclass(frozen=True)
class Bans:
    sources: tuple[BanSource, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def banned(self) -> CpuSet:
        out: set[int] = set()
        for s in self.sources:
            out |= s.cpus
        return frozenset(out)

    def why(self, cpu: int) -> tuple[str, ...]:
        """The names of every source that bans ``cpu``."""
        return tuple(s.name for s in self.sources if cpu in s.cpus)


# -- the irqbalance environment file ---------------------------------------

@dataclass(frozen=True)
class _Assignment:
    key: str
    value: str
    line: int


def _env_assignments(text: str) -> tuple[list[_Assignment], list[str]]:
    """KEY=VALUE assignments as systemd's ``EnvironmentFile=`` reads them.

    A port of systemd ``src/basic/env-file.c: parse_env_file_internal``:
    ``#`` or ``;`` at the start of a line (after blanks) is a comment; a line
    without ``=`` is ignored; blanks around the key and an unquoted value are
    dropped; ``'...'`` is verbatim, ``"..."`` knows ``\\"``, ``\\\\``, ``\\$``,
    ``\\``` and a backslash-newline; quotes and plain text may be glued
    (``A="x"y`` is ``xy``); a backslash-newline continues a line.
    """
    out: list[_Assignment] = []
    problems: list[str] = []
    state = "pre_key"
    key: list[str] = []
    value: list[str] = []
    trail = -1  # where trailing blanks of an unquoted value start
    line = 1
    start_line = 1

    def push() -> None:
        k = "".join(key).rstrip(" \t\r")
        v = "".join(value[:trail] if trail >= 0 else value)
        out.append(_Assignment(k, v, start_line))

    for c in text:
        if state == "pre_key":
            if c in "#;":
                state = "comment"
            elif c not in " \t\r\n":
                state, key, value, trail, start_line = "key", [c], [], -1, line
        elif state == "key":
            if c == "\n":
                state = "pre_key"
            elif c == "=":
                state = "pre_value"
            else:
                key.append(c)
        elif state == "pre_value":
            if c == "\n":
                push()
                state = "pre_key"
            elif c == "'":
                state = "single"
            elif c == '"':
                state = "double"
            elif c == "\\":
                state = "value_escape"
            elif c not in " \t\r":
                state, trail = "value", -1
                value.append(c)
        elif state == "value":
            if c == "\n":
                push()
                state = "pre_key"
            elif c == "\\":
                state, trail = "value_escape", -1
            else:
                if c not in " \t\r":
                    trail = -1
                elif trail < 0:
                    trail = len(value)
                value.append(c)
        elif state == "value_escape":
            state = "value"
            if c != "\n":
                value.append(c)
        elif state == "single":
            if c == "'":
                state = "pre_value"
            else:
                value.append(c)
        elif state == "double":
            if c == '"':
                state = "pre_value"
            elif c == "\\":
                state = "double_escape"
            else:
                value.append(c)
        elif state == "double_escape":
            state = "double"
            if c in '"\\`$':
                value.append(c)
            elif c != "\n":
                value += ["\\", c]
        elif state == "comment":
            if c == "\\":
                state = "comment_escape"
            elif c == "\n":
                state = "pre_key"
        elif state == "comment_escape":
            state = "pre_key" if c == "\n" else "comment"
        if c == "\n":
            line += 1
    if state in ("single", "double", "double_escape"):
        problems.append(f"line {start_line}: quote opened here is never closed")
    if state in ("pre_value", "value", "value_escape", "single", "double", "double_escape"):
        push()
    return out, problems


def parse_irqbalance_env(text: str, possible_cpus: CpuSet | None) -> tuple[CpuSet | None, str, list[str]]:
    """The CPUs an irqbalance environment file bans, as irqbalance would see them.

    Parses ``/etc/sysconfig/irqbalance`` (or ``/etc/default/irqbalance``), e.g.
    ``IRQBALANCE_BANNED_CPUS="0000ffff,ffffcffd"``. Returns ``(banned, source,
    problems)``: ``banned`` is None when the file sets neither variable;
    ``source`` names the variable and line that decided; each problem names
    its line.

    irqbalance (``cputree.c: setup_banned_cpus``) takes
    ``IRQBALANCE_BANNED_CPUS`` when it is set and non-empty, as a hex mask in
    comma-separated 32-bit groups (``bitmap.c: __bitmap_parse``), and then
    ignores the list; otherwise ``IRQBALANCE_BANNED_CPULIST`` when it is set,
    even empty: an empty list bans nothing. With neither set, irqbalance bans
    ``isolated`` and ``nohz_full`` CPUs, which irqd's own isolation rules
    already cover, so that case is None here.

    systemd's ``EnvironmentFile=`` gives irqbalance the variables; a later
    assignment wins over an earlier one. systemd ignores ``export KEY=...``
    lines (an invalid variable name, ``src/core/execute.c: invalid_env``)
    while a sysvinit script that sources the file with ``sh`` honours them;
    irqd honours them too, since an unseen ban is the worse mistake, and says
    so as a problem.

    Bits beyond the possible CPUs are dropped without a word: cri-o sets them
    on purpose (its mask is the inverse of ``default_smp_affinity``, byte by
    byte, ``calcIRQSMPAffinityMask``). A list naming CPUs the machine cannot
    have is reported.
    """
    assignments, problems = _env_assignments(text)
    found: dict[str, _Assignment] = {}
    for a in assignments:
        key = a.key
        if key.startswith("export") and key[6:7] in (" ", "\t"):
            key = key[6:].strip()
            if key in (BANNED_CPUS, BANNED_CPULIST):
                problems.append(f"line {a.line}: systemd ignores 'export {key}=...' lines, so irqbalance "
                                f"started by systemd does not see this ban; irqd honours it")
        if not _ENV_NAME.fullmatch(key):
            continue
        if key in (BANNED_CPUS, BANNED_CPULIST):
            found[key] = _Assignment(key, a.value, a.line)

    mask = found.get(BANNED_CPUS)
    cpulist = found.get(BANNED_CPULIST)
    if mask is not None and mask.value:
        source = f"{BANNED_CPUS} (line {mask.line})"
        if cpulist is not None:
            problems.append(f"line {cpulist.line}: {BANNED_CPULIST} is ignored: irqbalance takes the "
                            f"non-empty {BANNED_CPUS} of line {mask.line} first")
        try:
            cpus = parse_mask(mask.value)
        except CpuFormatError as e:
            # irqbalance would not fall back to the list either
            problems.append(f"line {mask.line}: {BANNED_CPUS}: {e}; nothing banned from this file")
            return frozenset(), source, problems
        if possible_cpus is not None:
            cpus = cpus & possible_cpus
        return cpus, source, problems
    if cpulist is not None:
        source = f"{BANNED_CPULIST} (line {cpulist.line})"
        try:
            cpus = parse_list(cpulist.value)
        except CpuFormatError as e:
            problems.append(f"line {cpulist.line}: {BANNED_CPULIST}: {e}; nothing banned from this file")
            return frozenset(), source, problems
        if possible_cpus is not None and not cpus <= possible_cpus:
            problems.append(f"line {cpulist.line}: {BANNED_CPULIST} names CPU(s) "
                            f"{format_list(cpus - possible_cpus)} this machine cannot have; ignored")
            cpus = cpus & possible_cpus
        return cpus, source, problems
    return None, "", problems


# -- drop-ins ---------------------------------------------------------------

def parse_dropin(text: str) -> CpuSet:
    """The CPUs one ``/run/irqd/banned.d/OWNER.cpulist`` file bans.

    The format: one CPU list in the kernel's list form, e.g. ``2-5,34-37``,
    on one line. Blank lines and lines starting with ``#`` are ignored, so a
    file may say who wrote it and why. An empty file bans nothing. A second
    list line is an error rather than a silent union, since it most likely
    means two writers raced without the atomic rename.
    Raises CpuFormatError naming the line.
    """
    cpus: CpuSet | None = None
    first = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if cpus is not None:
            raise CpuFormatError(f"line {n}: a second CPU list (the first is on line {first}); "
                                 f"a drop-in holds one")
        try:
            cpus = parse_list(line)
        except CpuFormatError as e:
            raise CpuFormatError(f"line {n}: {e}") from None
        first = n
    return cpus if cpus is not None else frozenset()


def valid_owner(owner: str) -> bool:
    """A drop-in owner: ``[A-Za-z0-9_.-]``, no leading dot (dotfiles are temp files), no slash."""
    return bool(_OWNER.fullmatch(owner)) and not owner.startswith(".") and len(owner) <= MAX_OWNER_LEN


def outside_default_affinity(default_affinity: CpuSet, online: CpuSet) -> CpuSet:
    """Online CPUs that ``/proc/irq/default_smp_affinity`` leaves out.

    A bit set for an offline or absent CPU bans nothing and lifts nothing.
    """
    return frozenset(online - default_affinity)


# -- the reader -------------------------------------------------------------

def _cpu_file(root: Root, rel: str, problems: list[str]) -> CpuSet | None:
    before = len(root.problems)
    cpus = read_list(root, rel)
    problems.extend(str(p) for p in root.problems[before:])   # what read_list noted on the root
    return cpus


def _problem(root: Root, rel: str, message: str, problems: list[str]) -> None:
    root.note(rel, message)
    problems.append(f"{root.show(rel)}: {message}")


def read_bans(root: Root) -> Bans:
    """Every ban source under ``root``; a missing source bans nothing and is not a problem."""
    problems: list[str] = []
    possible = _cpu_file(root, "sys/devices/system/cpu/possible", problems)
    online = _cpu_file(root, "sys/devices/system/cpu/online", problems)
    sources = (read_default_affinity_ban(root, online, problems)
               + read_irqbalance_bans(root, possible, problems)
               + read_dropin_bans(root, possible, problems))
    return Bans(tuple(sources), tuple(problems))


def read_default_affinity_ban(root: Root, online: CpuSet | None, problems: list[str]) -> list[BanSource]:
    """The ``proc:default_smp_affinity`` source alone: the one the daemon polls every second."""
    text = root.read(DEFAULT_AFFINITY)
    if text is None:
        return []
    try:
        default = parse_mask(text)
    except CpuFormatError as e:
        _problem(root, DEFAULT_AFFINITY, str(e), problems)
        return []
    if online is None:
        _problem(root, DEFAULT_AFFINITY, "no sys/devices/system/cpu/online to compare with; "
                 "CPUs outside this mask are not treated as banned", problems)
        return []
    return [BanSource("proc:default_smp_affinity", outside_default_affinity(default, online), text.strip())]


def read_irqbalance_bans(root: Root, possible: CpuSet | None, problems: list[str]) -> list[BanSource]:
    """One source per irqbalance env file that sets a ban variable."""
    out = []
    for rel in IRQBALANCE_ENV_FILES:
        text = root.read(rel)
        if text is None:
            continue
        banned, detail, env_problems = parse_irqbalance_env(text, possible)
        for p in env_problems:
            _problem(root, rel, p, problems)
        if banned is not None:
            out.append(BanSource(f"irqbalance:/{rel}", banned, detail))
    return out


def read_dropin_bans(root: Root, possible: CpuSet | None, problems: list[str]) -> list[BanSource]:
    """One source per ``run/irqd/banned.d/OWNER.cpulist``, sorted by file name."""
    out = []
    for name in root.listdir(DROPIN_DIR):
        if name.startswith(".") or not name.endswith(DROPIN_SUFFIX):
            continue  # temp files of an atomic write, editor backups, notes
        owner = name[:-len(DROPIN_SUFFIX)]
        rel = f"{DROPIN_DIR}/{name}"
        if not valid_owner(owner):
            _problem(root, rel, "not a valid owner name ([A-Za-z0-9_.-], no leading dot); ignored", problems)
            continue
        try:
            st = os.lstat(root.host(rel))
        except OSError:
            continue  # removed between listdir and here: that ban lifted
        if not stat.S_ISREG(st.st_mode):
            _problem(root, rel, "not a regular file (a symlink or a directory?); ignored", problems)
            continue
        if st.st_size > MAX_DROPIN_BYTES:
            _problem(root, rel, f"{st.st_size} bytes, more than a CPU list needs; ignored", problems)
            continue
        text = root.read(rel)
        if text is None:
            continue
        try:
            cpus = parse_dropin(text)
        except CpuFormatError as e:
            _problem(root, rel, f"{e}; ignored", problems)
            continue
        if possible is not None and not cpus <= possible:
            _problem(root, rel, f"CPU(s) {format_list(cpus - possible)} this machine cannot have; ignored",
                     problems)
            cpus = cpus & possible
        out.append(BanSource(f"banned.d:{owner}", cpus, f"/{rel}"))
    return out

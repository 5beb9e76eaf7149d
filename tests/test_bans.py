"""Ban sources: cri-o's writes replayed byte for byte, the irqbalance env file, irqd's drop-ins.

The cri-o functions below are line-by-line ports of
``internal/runtimehandlerhooks/utils_linux.go`` (``calcIRQSMPAffinityMask``,
``mapHexCharToByte``, ``mapByteToHexChar``, ``updateIrqBalanceConfigFile``)
and ``high_performance_hooks_linux.go`` (``updateNewIRQSMPAffinityMask``,
``getHousekeepingCPUs``, ``excludeHousekeepingCPUs``); the port is checked
against cri-o's own table in ``utils_test.go`` first.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from irqd.apply.bans import BanError, remove_dropin, write_dropin
from irqd.cpuset import CpuFormatError, parse_list
from irqd.discover.bans import (
    outside_default_affinity,
    parse_dropin,
    parse_irqbalance_env,
    read_bans,
    valid_owner,
)
from irqd.discover.root import Root

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sysfs"


# -- cri-o, ported ------------------------------------------------------------

def crio_calc_mask(cpus: set[int], current: str, enable: bool) -> tuple[str, str]:
    """calcIRQSMPAffinityMask: (new default_smp_affinity, IRQBALANCE_BANNED_CPUS)."""
    s = current.replace(",", "")
    if len(s) % 2:
        s = "0" + s  # mapHexCharToByte: "expect even number of chars"
    mask = bytearray(bytes.fromhex(s)[::-1])  # index 0 holds CPUs 0-7
    inverted = bytearray(0xFF - b for b in mask)  # invertByteArray
    for cpu in sorted(cpus):
        bit = 1 << (cpu % 8)
        if enable:
            mask[cpu // 8] |= bit
            inverted[cpu // 8] &= ~bit & 0xFF
        else:
            mask[cpu // 8] &= ~bit & 0xFF
            inverted[cpu // 8] |= bit

    def to_hex(b: bytearray) -> str:  # mapByteToHexChar: pad to 4 bytes with zeros, then reverse
        b = bytearray(b)
        if len(b) % 4:
            b += bytes(4 - len(b) % 4)
        text = bytes(b[::-1]).hex()
        return ",".join(text[i:i + 8] for i in range(0, len(text), 8))

    return to_hex(mask), to_hex(inverted)


def crio_update_env_file(text: str, setting: str) -> str:
    """updateIrqBalanceConfigFile."""
    lines = text.split("\n")
    found = False
    for i, line in enumerate(lines):
        if line.startswith("IRQBALANCE_BANNED_CPUS="):
            lines[i] = 'IRQBALANCE_BANNED_CPUS="' + setting + '"'
            found = True
    out = "\n".join(lines)
    if not found:
        out = out + "\n" + 'IRQBALANCE_BANNED_CPUS="' + setting + '"' + "\n"
    return out


def crio_housekeeping(root: Path, cpus: set[int]) -> set[int]:
    """getHousekeepingCPUs: the first container CPU's thread siblings inside the container."""
    first = min(cpus)
    f = root / f"sys/devices/system/cpu/cpu{first}/topology/thread_siblings_list"
    siblings = set(parse_list(f.read_text())) if f.exists() else {first}
    return cpus & (siblings or {first})


def crio_set_irq_load_balancing(root: Path, cpus: set[int], enable: bool, housekeeping: bool = False,
                                env_file: str = "etc/sysconfig/irqbalance") -> str:
    """setIRQLoadBalancing -> updateNewIRQSMPAffinityMask; returns the banned mask cri-o wrote."""
    if housekeeping and not enable:  # PostStop passes an empty housekeeping set
        cpus = cpus - crio_housekeeping(root, cpus)
    proc = root / "proc/irq/default_smp_affinity"
    original = proc.read_text().strip()
    new, banned = crio_calc_mask(cpus, original, enable)
    proc.write_bytes(new.encode())  # os.WriteFile, no newline
    env = root / env_file
    if env.is_file():  # fileExists: cri-o never creates it
        env.write_bytes(crio_update_env_file(env.read_text(), banned).encode())
    return banned


# cri-o utils_test.go "testing cpu mask" entries: (cpus, mask, set, expected mask, expected inverted)
CRIO_TABLE = [
    ({0}, "0000,00003003", False, "00000000,00003002", "0000ffff,ffffcffd"),
    ({4}, "0000,00003003", True, "00000000,00003013", "0000ffff,ffffcfec"),
    (set(range(4, 14)), "ffff,ffffffff", False, "0000ffff,ffffc00f", "00000000,00003ff0"),
    (set(range(4, 14)), "ffff,ffffc00f", True, "0000ffff,ffffffff", "00000000,00000000"),
    ({9}, "fff", False, "00000dff", "0000f200"),
    ({2, 3}, "ffffff", False, "00fffff3", "0000000c"),
]


@pytest.mark.parametrize("cpus,mask,enable,want_mask,want_inv", CRIO_TABLE)
def test_port_matches_crio_own_table(cpus, mask, enable, want_mask, want_inv):
    assert crio_calc_mask(cpus, mask, enable) == (want_mask, want_inv)


def make_root(tmp_path: Path, fixture: str, env_text: str | None = "# irqbalance\nIRQBALANCE_ARGS=\"\"\n") -> Path:
    """A writable copy of the files bans and cri-o read; copying the whole fixture is slow."""
    root = tmp_path / "root"
    src = FIXTURES / fixture
    wanted = ["proc/irq/default_smp_affinity", "sys/devices/system/cpu/possible", "sys/devices/system/cpu/online"]
    wanted += [str(p.relative_to(src)) for p in src.glob("sys/devices/system/cpu/cpu*/topology/thread_siblings_list")]
    for rel in wanted:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, root / rel)
    if env_text is not None:
        (root / "etc/sysconfig").mkdir(parents=True, exist_ok=True)
        (root / "etc/sysconfig/irqbalance").write_text(env_text)
    return root


def by_name(bans) -> dict[str, frozenset[int]]:
    return {s.name: s.cpus for s in bans.sources}


# -- cri-o's sequence on a tree -------------------------------------------------

def test_crio_prestart_poststop_12_cpus_bits_beyond_last_cpu(tmp_path):
    # desktop-r8169: 12 CPUs, the kernel prints default_smp_affinity as "fff"
    root = make_root(tmp_path, "desktop-r8169")
    banned = crio_set_irq_load_balancing(root, {3, 9}, enable=False)
    assert (root / "proc/irq/default_smp_affinity").read_bytes() == b"00000df7"
    assert banned == "0000f208"  # bits 12-15 are set although the machine has 12 CPUs
    text = (root / "etc/sysconfig/irqbalance").read_text()
    assert text == '# irqbalance\nIRQBALANCE_ARGS=""\n\nIRQBALANCE_BANNED_CPUS="0000f208"\n'

    bans = read_bans(Root(str(root)))
    assert by_name(bans) == {
        "proc:default_smp_affinity": frozenset({3, 9}),
        "irqbalance:/etc/sysconfig/irqbalance": frozenset({3, 9}),
    }
    assert bans.banned == {3, 9}
    assert bans.problems == ()
    assert bans.why(9) == ("proc:default_smp_affinity", "irqbalance:/etc/sysconfig/irqbalance")

    # PostStop: both sources lift
    crio_set_irq_load_balancing(root, {3, 9}, enable=True)
    assert (root / "proc/irq/default_smp_affinity").read_bytes() == b"00000fff"
    bans = read_bans(Root(str(root)))
    assert bans.banned == frozenset()
    # the line is rewritten in place, not appended again (cri-o "Should not let the file grow unbounded")
    assert (root / "etc/sysconfig/irqbalance").read_text().count("IRQBALANCE_BANNED_CPUS=") == 1


def test_crio_housekeeping_keeps_first_cpu_and_its_smt_sibling(tmp_path):
    # intel-2s-i40e-ice: 80 CPUs, thread siblings n and n+40; pod on 4-7,44-47
    root = make_root(tmp_path, "intel-2s-i40e-ice")
    pod = set(range(4, 8)) | set(range(44, 48))
    assert crio_housekeeping(root, pod) == {4, 44}
    crio_set_irq_load_balancing(root, pod, enable=False, housekeeping=True)
    bans = read_bans(Root(str(root)))
    want = frozenset(pod - {4, 44})
    assert by_name(bans) == {"proc:default_smp_affinity": want, "irqbalance:/etc/sysconfig/irqbalance": want}
    env = (root / "etc/sysconfig/irqbalance").read_text()
    # 80 CPUs = 10 bytes, padded to 12: three groups of 8 hex digits
    assert 'IRQBALANCE_BANNED_CPUS="00000000,0000e000,000000e0"' in env


def test_two_pods_then_one_stops(tmp_path):
    root = make_root(tmp_path, "intel-2s-mlx5")  # 48 CPUs: "ffff,ffffffff"
    crio_set_irq_load_balancing(root, set(range(4, 14)), enable=False)
    assert (root / "proc/irq/default_smp_affinity").read_text() == "0000ffff,ffffc00f"
    crio_set_irq_load_balancing(root, {20, 21}, enable=False)
    assert read_bans(Root(str(root))).banned == frozenset(range(4, 14)) | {20, 21}
    crio_set_irq_load_balancing(root, set(range(4, 14)), enable=True)
    bans = read_bans(Root(str(root)))
    assert by_name(bans)["proc:default_smp_affinity"] == {20, 21}
    assert by_name(bans)["irqbalance:/etc/sysconfig/irqbalance"] == {20, 21}


def test_crio_does_not_create_the_env_file(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    crio_set_irq_load_balancing(root, {2, 6}, enable=False)
    bans = read_bans(Root(str(root)))
    assert by_name(bans) == {"proc:default_smp_affinity": frozenset({2, 6})}


def test_debian_path_is_read(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    (root / "etc/default").mkdir(parents=True, exist_ok=True)
    (root / "etc/default/irqbalance").write_text("#IRQBALANCE_BANNED_CPULIST=\nIRQBALANCE_BANNED_CPULIST=5-6\n")
    assert by_name(read_bans(Root(str(root)))) == {
        "proc:default_smp_affinity": frozenset(),
        "irqbalance:/etc/default/irqbalance": frozenset({5, 6}),
    }


# -- the env file as irqbalance reads it ------------------------------------------

P12 = frozenset(range(12))


@pytest.mark.parametrize("text,want,source", [
    ('IRQBALANCE_BANNED_CPUS="0000f208"\n', {3, 9}, "IRQBALANCE_BANNED_CPUS (line 1)"),
    ("IRQBALANCE_BANNED_CPUS=0000f208\n", {3, 9}, "IRQBALANCE_BANNED_CPUS (line 1)"),
    ("IRQBALANCE_BANNED_CPUS='00000208'", {3, 9}, "IRQBALANCE_BANNED_CPUS (line 1)"),
    ("IRQBALANCE_BANNED_CPULIST=3,9\n", {3, 9}, "IRQBALANCE_BANNED_CPULIST (line 1)"),  # tuned's form
    ('IRQBALANCE_BANNED_CPULIST="2-4"\n', {2, 3, 4}, "IRQBALANCE_BANNED_CPULIST (line 1)"),
    ("  IRQBALANCE_BANNED_CPULIST = 2-4   \n", {2, 3, 4}, "IRQBALANCE_BANNED_CPULIST (line 1)"),
    # an empty list is set, and bans nothing
    ("IRQBALANCE_BANNED_CPULIST=\n", set(), "IRQBALANCE_BANNED_CPULIST (line 1)"),
    ('IRQBALANCE_BANNED_CPULIST=""\n', set(), "IRQBALANCE_BANNED_CPULIST (line 1)"),
    # a non-empty mask wins over the list, an empty mask does not
    ('IRQBALANCE_BANNED_CPUS=""\nIRQBALANCE_BANNED_CPULIST=1\n', {1}, "IRQBALANCE_BANNED_CPULIST (line 2)"),
    # the later assignment wins, as in systemd's strv_env_replace
    ("IRQBALANCE_BANNED_CPULIST=1\nIRQBALANCE_BANNED_CPULIST=2\n", {2}, "IRQBALANCE_BANNED_CPULIST (line 2)"),
    # comments, continuation, text glued to quotes
    ("# IRQBALANCE_BANNED_CPULIST=7\n; IRQBALANCE_BANNED_CPULIST=8\nIRQBALANCE_BANNED_CPULIST=1,\\\n2\n",
     {1, 2}, "IRQBALANCE_BANNED_CPULIST (line 3)"),
    ('IRQBALANCE_BANNED_CPULIST="1"",2"\n', {1, 2}, "IRQBALANCE_BANNED_CPULIST (line 1)"),
    ("IRQBALANCE_ARGS=\"--policyscript=/x\"\n", None, ""),
    ("", None, ""),
])
def test_env_forms(text, want, source):
    banned, got_source, problems = parse_irqbalance_env(text, P12)
    assert banned == (None if want is None else frozenset(want))
    assert got_source == source
    assert problems == []


def test_env_hex_wins_and_says_the_list_is_ignored():
    banned, _, problems = parse_irqbalance_env("IRQBALANCE_BANNED_CPUS=c\nIRQBALANCE_BANNED_CPULIST=0-1\n", P12)
    assert banned == {2, 3}
    assert problems == [("line 2: IRQBALANCE_BANNED_CPULIST is ignored: irqbalance takes the non-empty "
                         "IRQBALANCE_BANNED_CPUS of line 1 first")]


def test_env_bits_beyond_possible_are_masked_off_silently():
    banned, _, problems = parse_irqbalance_env('IRQBALANCE_BANNED_CPUS="ffffffff,ffffffff"\n', P12)
    assert banned == P12 and problems == []


def test_env_list_beyond_possible_is_reported():
    banned, _, problems = parse_irqbalance_env("IRQBALANCE_BANNED_CPULIST=10-13\n", P12)
    assert banned == {10, 11}
    assert problems == ["line 1: IRQBALANCE_BANNED_CPULIST names CPU(s) 12-13 this machine cannot have; ignored"]


def test_env_export_is_honoured_with_a_warning():
    banned, _, problems = parse_irqbalance_env("export IRQBALANCE_BANNED_CPULIST=4\n", P12)
    assert banned == {4}
    assert len(problems) == 1 and "systemd ignores" in problems[0]


@pytest.mark.parametrize("text,where", [
    ("IRQBALANCE_BANNED_CPUS=0x3\n", "line 1"),
    ("\n\nIRQBALANCE_BANNED_CPULIST=1-x\n", "line 3"),
])
def test_env_bad_values_name_the_line(text, where):
    banned, _, problems = parse_irqbalance_env(text, P12)
    assert banned is not None and not banned
    assert problems and all(p.startswith(where) for p in problems)


def test_env_unclosed_quote_still_bans_what_systemd_would_pass():
    # systemd pushes the value at end of file, newline included; irqbalance's parser skips the blank
    banned, _, problems = parse_irqbalance_env('IRQBALANCE_BANNED_CPULIST="1-2\n', P12)
    assert banned == {1, 2}
    assert problems == ["line 1: quote opened here is never closed"]


def test_bad_env_file_reaches_root_problems(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text="IRQBALANCE_BANNED_CPUS=zz\n")
    r = Root(str(root))
    bans = read_bans(r)
    assert by_name(bans)["irqbalance:/etc/sysconfig/irqbalance"] == frozenset()
    assert any(p.path.endswith("etc/sysconfig/irqbalance") and "line 1" in p.message for p in r.problems)
    assert bans.problems and "etc/sysconfig/irqbalance: line 1" in bans.problems[0]


# -- default_smp_affinity alone ------------------------------------------------------

def test_outside_default_affinity_ignores_offline_bits():
    assert outside_default_affinity(frozenset({0, 1, 60}), frozenset(range(4))) == {2, 3}


def test_irqaffinity_boot_mask_is_a_ban(tmp_path):
    # rt-isolcpus boots with irqaffinity=0-1,32-33: "00000003,00000003"
    r = Root(str(FIXTURES / "rt-isolcpus"))
    assert by_name(read_bans(r))["proc:default_smp_affinity"] == frozenset(range(64)) - {0, 1, 32, 33}


# -- drop-ins ------------------------------------------------------------------------

def test_parse_dropin():
    assert parse_dropin("2-5,34\n") == {2, 3, 4, 5, 34}
    assert parse_dropin("# pod abc\n\n2\n") == {2}
    assert parse_dropin("") == frozenset()
    with pytest.raises(CpuFormatError, match="line 2: a second CPU list"):
        parse_dropin("1\n2\n")
    with pytest.raises(CpuFormatError, match="line 1"):
        parse_dropin("ff\n")


@pytest.mark.parametrize("owner,ok", [
    ("crio-pod_1.2", True), ("a", True), (".hidden", False), ("a/b", False), ("", False),
    ("..", False), ("a b", False), ("x" * 201, False), ("x" * 200, True),
])
def test_valid_owner(owner, ok):
    assert valid_owner(owner) is ok


def test_dropin_write_read_remove(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    path = write_dropin(str(root), "pod-a", frozenset({2, 3}))
    assert path == f"{root}/run/irqd/banned.d/pod-a.cpulist"
    assert Path(path).read_text() == "2-3\n"
    write_dropin(str(root), "pod-b", frozenset({6}))
    bans = read_bans(Root(str(root)))
    assert by_name(bans) == {"proc:default_smp_affinity": frozenset(),
                             "banned.d:pod-a": frozenset({2, 3}), "banned.d:pod-b": frozenset({6})}
    assert bans.banned == {2, 3, 6}
    assert remove_dropin(str(root), "pod-a") is True
    assert remove_dropin(str(root), "pod-a") is False
    assert read_bans(Root(str(root))).banned == {6}
    remove_dropin(str(root), "pod-b")
    assert read_bans(Root(str(root))).banned == frozenset()
    assert os.listdir(root / "run/irqd/banned.d") == []  # no temp file left behind


def test_dropin_rewrite_is_a_rename(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    path = write_dropin(str(root), "pod", frozenset({1}))
    before = os.stat(path).st_ino
    write_dropin(str(root), "pod", frozenset({2}))
    assert os.stat(path).st_ino != before  # a new inode renamed over the old: never truncated in place
    assert Path(path).read_text() == "2\n"


def test_dropin_reader_never_sees_half_a_file(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    a, b = frozenset(range(0, 8, 2)), frozenset(range(1, 8, 2))
    path = write_dropin(str(root), "pod", a)
    stop = threading.Event()
    seen: list[str] = []

    def reader():
        while not stop.is_set():
            with open(path) as f:
                seen.append(f.read())

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(300):
            write_dropin(str(root), "pod", b if i % 2 else a)
    finally:
        stop.set()
        t.join()
    assert seen and set(seen) <= {"0,2,4,6\n", "1,3,5,7\n"}


def test_dropin_ignores_dotfiles_other_names_links_and_junk(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    d = root / "run/irqd/banned.d"
    d.mkdir(parents=True)
    (d / ".pod.cpulist.123.abcd").write_text("1\n")  # a writer's temp file, mid-rename
    (d / "notes.txt").write_text("2\n")
    (d / "pod.cpulist~").write_text("3\n")
    (tmp_path / "outside").write_text("4\n")
    (d / "link.cpulist").symlink_to(tmp_path / "outside")
    (d / "bad.cpulist").write_text("ff\n")
    (d / "good.cpulist").write_text("5\n")
    (d / "dir.cpulist").mkdir()
    (d / "huge.cpulist").write_text("# " + "x" * 70000 + "\n6\n")
    r = Root(str(root))
    bans = read_bans(r)
    assert {k: v for k, v in by_name(bans).items() if k.startswith("banned.d:")} == {"banned.d:good": frozenset({5})}
    messages = "\n".join(str(p) for p in r.problems)
    assert "link.cpulist: not a regular file" in messages
    assert "bad.cpulist: line 1" in messages
    assert "dir.cpulist: not a regular file" in messages
    assert "huge.cpulist: 70005 bytes" in messages


def test_write_refuses_symlinked_directory(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "run").mkdir(exist_ok=True)
    (root / "run/irqd").symlink_to(elsewhere)
    with pytest.raises(BanError, match="symlink"):
        write_dropin(str(root), "pod", frozenset({1}))
    with pytest.raises(BanError, match="symlink"):
        remove_dropin(str(root), "pod")
    assert list(elsewhere.iterdir()) == []


def test_write_refuses_bad_owner(tmp_path):
    root = make_root(tmp_path, "gcp-gve", env_text=None)
    for owner in ("../x", ".x", "a/b"):
        with pytest.raises(BanError, match="owner"):
            write_dropin(str(root), owner, frozenset({1}))
    assert not (root / "run/irqd/banned.d").exists()

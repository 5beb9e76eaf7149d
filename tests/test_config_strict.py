"""Config strictness (issue 11, item 9): types are not coerced, digits are ASCII, every error has a line.

A config that says ``restore_on_exit = "no"`` means the admin typed a
string; irqd must not guess (pydantic's lax mode reads "no" as False and
"1"/1 as True). Every problem is ``file:line: field: message``, including
for quoted keys, dotted keys, ``[a.b]`` tables, ``[[daemon]]`` and TOML
syntax errors.
"""
import re

import pytest

from irqd.config import ConfigError, parse_config

LOCATED = re.compile(r"^t\.toml:(\d+): ")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "t.toml")
    return e.value.problems


@pytest.mark.parametrize("text, field", [
    ('[daemon]\nrestore_on_exit = "no"\n', "daemon.restore_on_exit"),
    ('[daemon]\nrestore_on_exit = 1\n', "daemon.restore_on_exit"),
    ('[daemon]\nrespect_manual_changes = "true"\n', "daemon.respect_manual_changes"),
    ('rps_virtual = 0\n', "rps_virtual"),
    ('[isolation]\nnohz_full = "yes"\n', "isolation.nohz_full"),
    ('[daemon]\ninterval = "10"\n', "daemon.interval"),
    ('rfs_entries = "4096"\n', "rfs_entries"),
    ('[daemon]\nsamples = "3"\n', "daemon.samples"),
    ('[[irq]]\nirq = "24"\npolicy = "manual"\n', "irq.0.irq"),
])
def test_no_type_coercion(text, field):
    found = problems(text)
    assert any(f": {field}:" in p for p in found), found
    assert all(LOCATED.match(p) for p in found), found


@pytest.mark.parametrize("cpus", ["٣", "1-٣", "٠-٣", "0,³", "１"])   # Arabic-Indic, superscript, fullwidth
def test_unicode_digits_in_cpu_lists_rejected(cpus):
    for text, field in ((f'banned_cpus = "{cpus}"\n', "banned_cpus"),
                        (f'[[device]]\nmatch = "eth0"\ncpus = "{cpus}"\n', "device.0.cpus"),
                        (f'[[irq]]\nirq = 24\ncpus = "{cpus}"\n', "irq.0.cpus")):
        found = problems(text)
        assert any(f": {field}:" in p for p in found), (text, found)


@pytest.mark.parametrize("text, line", [
    ('# quoted key\n"bogus" = 1\n', 2),
    ("\n\n[daemon]\n'interval' = 0\n", 4),
    ('\n[[daemon]]\ninterval = 5\n', 2),
    ('\nrps = "auto"\ndaemon.bogus = 1\n', 3),
    ('\ndaemon . bogus = 1\n', 2),
    ('\n"daemon".bogus = 1\n', 2),
    ("\ndaemon.'interval' = 0\n", 2),
    ('\n[daemon]\nx.y = 1\n', 3),         # not the table's line
    ('\n[daemon]\n"a.b" = 1\n', 3),
    ('\n[daemon]\ninterval = 5\n\n[a.b]\nc = 1\n', 5),
    ('\n[ "daemon" ]\nbogus = 2\n', 3),
    ('\n[[device]]\nmatch = "x"\n[[ "device" ]]\n"policy" = "fast"\n', 5),
])
def test_every_error_has_its_line(text, line):
    found = problems(text)
    assert found and all(LOCATED.match(p) for p in found), found
    first = LOCATED.match(found[0])
    assert first and int(first.group(1)) == line, found


@pytest.mark.parametrize("text, line", [
    ("\nx = = 1\n", 2),
    ('rps = "auto"\n\n[daemon\n', 3),
    ('a = 1\na = 2\n', 2),
    ('s = "unterminated\n', 1),
])
def test_toml_syntax_errors_are_file_line(text, line):
    (p,) = problems(text)
    m = LOCATED.match(p)
    assert m and int(m.group(1)) == line, p


def test_long_cpu_list_checks_right():
    # the speed of this (7.8 s before the fix) is measured in bench/bench_config.py
    text = 'banned_cpus = "' + ",".join(["0-32767"] * 2000) + '"\n'
    assert parse_config(text, "t.toml").banned() == frozenset(range(32768))
    (p,) = problems('banned_cpus = "' + ",".join(["0-32767"] * 199 + ["9-2"]) + '"\n')
    assert p.startswith("t.toml:1: banned_cpus:"), p

"""/proc/net/softnet_stat: every column layout the kernel has printed, and the errors."""

from pathlib import Path

import pytest

from irqd.discover.softnet import SoftnetFormatError, parse_softnet

# 6.x: 15 columns, the CPU id in column 13 (CPU 1 offline: its row is absent)
V6 = """\
0000a1c2 00000003 0000001f 00000000 00000000 00000000 00000000 00000000 00000000 00000010 00000000 00000000 00000000 00000000 00000000
00000019 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000
"""
# 4.x: 11 columns, no CPU id: rows are the online CPUs in order
V4 = """\
0000a1c2 00000003 0000001f 00000000 00000000 00000000 00000000 00000000 00000000 00000010 00000000
00000019 000000ff 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
"""


def test_cpu_id_column_maps_rows():
    out = parse_softnet(V6)
    assert sorted(out) == [0, 2]
    assert out[0].processed == 0xA1C2 and out[0].dropped == 3 and out[0].time_squeeze == 0x1F
    assert out[0].received_rps == 0x10
    assert out[2].processed == 0x19 and out[2].dropped == 0


def test_cpu_id_column_wins_over_online():
    assert sorted(parse_softnet(V6, online=[0, 1])) == [0, 2]


def test_old_layout_maps_rows_to_online_cpus():
    out = parse_softnet(V4, online={0, 5})
    assert out[5].dropped == 0xFF and out[0].dropped == 3


def test_old_layout_without_online_is_an_error():
    with pytest.raises(SoftnetFormatError, match="line 1: no CPU id column"):
        parse_softnet(V4)


def test_more_rows_than_online_cpus():
    with pytest.raises(SoftnetFormatError, match="line 2: more rows than the 1 online CPUs"):
        parse_softnet(V4, online=[0])


def test_bad_lines_name_the_line():
    with pytest.raises(SoftnetFormatError, match="line 2: not hex numbers"):
        parse_softnet(V6.splitlines()[0] + "\nzz 00 00\n")
    with pytest.raises(SoftnetFormatError, match="line 1: 2 columns"):
        parse_softnet("00000001 00000002\n", online=[0])
    with pytest.raises(SoftnetFormatError, match="line 2: CPU 0 appears twice"):
        parse_softnet(V6.splitlines()[0] + "\n" + V6.splitlines()[0] + "\n")


def test_live_file_parses():
    try:
        text = Path("/proc/net/softnet_stat").read_text()
        online = Path("/sys/devices/system/cpu/online").read_text()
    except OSError:
        pytest.skip("no /proc/net/softnet_stat here")
    from irqd.cpuset import parse_list
    cpus = parse_list(online)
    out = parse_softnet(text, cpus)
    assert set(out) == set(cpus)

import pytest

from irqd.cpuset import CpuFormatError, digits_for, format_list, format_mask, mask_digits, parse_list, parse_mask


@pytest.mark.parametrize("text,cpus", [
    ("3\n", {0, 1}),
    ("ffffffff,00000001\n", {0} | set(range(32, 64))),
    ("ffff,ffffffff,ffffffff\n", set(range(80))),
    ("00000000,00000000\n", set()),
    ("\n", set()),
    ("0", set()),
])
def test_parse_mask(text, cpus):
    assert parse_mask(text) == cpus


@pytest.mark.parametrize("bad", ["xyz", "ffffffff0,1", "1,,2", "-1"])
def test_parse_mask_rejects(bad):
    with pytest.raises(CpuFormatError):
        parse_mask(bad)


@pytest.mark.parametrize("cpus,digits,text", [
    ({0, 1}, 1, "3"),
    ({0}, 20, "0000,00000000,00000001"),   # 80 CPUs
    ({79}, 20, "8000,00000000,00000000"),
    (set(), 16, "00000000,00000000"),
    ({5}, 3, "020"),                        # 12 CPUs: "fff" wide
    ({0, 35}, None, "8,00000001"),
])
def test_format_mask_keeps_width(cpus, digits, text):
    assert format_mask(cpus, digits) == text
    assert parse_mask(text) == cpus


def test_format_mask_refuses_cpu_outside_width():
    with pytest.raises(CpuFormatError):
        format_mask({8}, 2)


def test_mask_digits_and_digits_for():
    assert mask_digits("ffff,ffffffff,ffffffff\n") == 20
    assert mask_digits("3\n") == 1
    assert digits_for(80) == 20
    assert digits_for(2) == 1
    assert digits_for(1024) == 256


@pytest.mark.parametrize("text,cpus", [
    ("0-3,8,10-11\n", {0, 1, 2, 3, 8, 10, 11}),
    ("\n", set()),
    ("(null)\n", set()),
    ("5", {5}),
    ("0-9:2/5", {0, 1, 5, 6}),
])
def test_parse_list(text, cpus):
    assert parse_list(text) == cpus


def test_parse_list_n_means_last_cpu():
    assert parse_list("2-N", nr_cpus=8) == {2, 3, 4, 5, 6, 7}


@pytest.mark.parametrize("bad", ["7-2", "a-b", "1-", "0-4:3/2", "N", "4294967296", "0-99999999"])
def test_parse_list_rejects(bad):
    with pytest.raises(CpuFormatError):
        parse_list(bad)


def test_format_list_round_trip():
    cpus = {0, 1, 2, 3, 8, 10, 11, 40}
    assert format_list(cpus) == "0-3,8,10-11,40"
    assert parse_list(format_list(cpus)) == cpus
    assert format_list([]) == ""

import pytest

from irqd.discover.procstat import StatFormatError, parse_softirqs, parse_stat, parse_uptime


def test_stat_per_cpu_irq_and_softirq():
    text = ("cpu  10 0 20 300 4 5 6 0 0 0\n"
            "cpu0 1 0 2 30 1 7 9 0 0 0\n"
            "cpu3 1 0 2 30 1 2 3 0 0 0\n"
            "intr 12345 0 1\nctxt 99\nsoftirq 5 0 1\n")
    stat = parse_stat(text)
    assert set(stat) == {0, 3}
    assert (stat[0].irq, stat[0].softirq) == (7, 9)


def test_stat_short_line():
    with pytest.raises(StatFormatError, match="line 1"):
        parse_stat("cpu0 1 2 3\n")


def test_softirqs_header_is_cpus():
    text = ("                    CPU0       CPU1\n"
            "          HI:          0          1\n"
            "      NET_TX:         10         20\n"
            "      NET_RX:        300        400\n")
    table = parse_softirqs(text)
    assert table["NET_RX"] == {0: 300, 1: 400}
    assert table["HI"][1] == 1


def test_uptime():
    assert parse_uptime("350735.47 234388.90\n") == pytest.approx(350735.47)
    with pytest.raises(StatFormatError):
        parse_uptime("\n")

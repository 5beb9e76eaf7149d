"""bench/compare_irqbalance.py: its parsing and table code on saved outputs (tests/data/compare/).

The bench itself runs irqbalance as root in a private mount namespace and is
run by hand; here only what it parses and prints is checked, plus that the
namespace script proves the bind mounts before it starts irqbalance.
"""
import json
from pathlib import Path

import pytest

from bench import compare_lib as C
from irqd.cli.audit import render_json
from irqd.config import default_config
from irqd.discover import discover
from irqd.planner import plan
from irqd.planner.audit import CATEGORIES, audit
from tests.support.paths import FIXTURES

DATA = Path(__file__).resolve().parent / "data" / "compare"


def test_parse_saved_audit_json():
    a = C.parse_audit((DATA / "audit-dev-virtio-2cpu.json").read_text())
    assert a.clean is False and a.findings == 1
    assert a.categories["rps"] == C.CategoryScore(findings=1, checked=1, score=0.0, unknown=0)
    assert a.categories["numa"].checked == 0 and a.categories["numa"].unknown == 1
    assert C.cell(a, "rps") == "1/1" and C.cell(a, "numa") == "-" and C.cell(a, "isolation") == "0/23"
    assert C.cell(None, "rps") == ""


def test_the_columns_are_irqd_audits_categories():
    assert tuple(CATEGORIES) == C.CATEGORIES


def test_parse_what_irqd_audit_prints_today():
    snap = discover(str(FIXTURES / "rt-isolcpus"))
    result = audit(snap, default_config(), plan(snap, default_config()))
    parsed = C.parse_audit(render_json(result))
    assert parsed.clean == result.clean
    for name in CATEGORIES:
        assert parsed.categories[name].findings == len(result.counted(name))
        assert parsed.categories[name].checked == result.scores[name].checked


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"findings": []}'])
def test_parse_audit_refuses_other_text(text):
    with pytest.raises(C.ParseError):
        C.parse_audit(text)


def test_irqbalance_version():
    assert C.parse_irqbalance_version((DATA / "irqbalance-version.txt").read_text()) == "1.9.2"
    assert C.parse_irqbalance_version("irqbalance: unrecognized option '--version'\n") is None


def test_irqbalance_complaints_skip_the_chatter():
    saved = (DATA / "irqbalance-debug.txt").read_text()
    assert "Invalid PCI class code" in saved and "file-based socket" in saved
    assert C.irqbalance_complaints(saved) == []
    text = saved + "Cannot change IRQ 45 affinity: Input/output error\n" * 2
    assert C.irqbalance_complaints(text) == ["Cannot change IRQ 45 affinity: Input/output error"]


def test_changed_affinities_compares_masks_not_text():
    before = {24: "3\n", 25: "00000003\n", 26: "ffffffff,ffffffff\n", 27: "1\n"}
    after = {24: "00000003", 25: "00000001", 26: "ffffffff,ffffffff\n", 27: "garbage"}
    assert C.changed_affinities(before, after) == [25, 27]


def test_table_from_saved_results():
    comp = C.comparison_from_json(json.loads((DATA / "comparison.json").read_text()))
    assert C.render_table(comp) == (DATA / "comparison.md").read_text()
    report = C.render_report(comp)
    assert report.startswith(f"Measured {comp.date} on ") and f"irqbalance {comp.irqbalance_version}" in report
    assert C.comparison_json(comp) == json.loads((DATA / "comparison.json").read_text())


def test_table_shows_a_tool_that_failed_or_is_missing():
    comp = C.Comparison("2026-11-26", None, "box", [
        C.Row("t", "as captured", C.parse_audit((DATA / "audit-dev-virtio-2cpu.json").read_text())),
        C.Row("t", "irqbalance", None, None, "irqbalance is not installed: apt-get install -y irqbalance"),
        C.Row("t", "irqd", None, 0.5, "audit failed (exit 2): x | y"),
    ])
    lines = C.render_table(comp).splitlines()
    assert lines[2].startswith("| t | as captured | - | 0/23 |")
    assert lines[3].startswith("|  | irqbalance |") and lines[3].endswith("apt-get install -y irqbalance |")
    assert "| 0.50 | audit failed (exit 2): x / y |" in lines[4]
    assert "irqbalance (not installed)" in C.render_report(comp)


def test_namespace_script_proves_the_bind_before_irqbalance_runs():
    from bench import compare_irqbalance as B
    script = B._NAMESPACE_SCRIPT
    binds = script.index('mount --bind "$root/proc" /proc')
    proof = script.index('[ ! -e "/proc/$marker" ]')
    run = script.index('exec irqbalance "$@"')
    assert binds < proof < run and "exit 97" in script[proof:run] and B.BIND_FAILED == 97
    assert "set -e" in script.split("mount")[0] and 'root="$1"; marker="$2"; shift 2' in script.split("mount")[0]
    cmd = B.namespace_command(Path("/copy"), ".m", ("--foreground", "--interval", "1"))
    assert cmd[:3] == ["unshare", "--mount", "--propagation"] and cmd[cmd.index(script) + 1:] == [
        "sh", "/copy", ".m", "--foreground", "--interval", "1"]
    assert B.namespace_command(Path("/copy"), ".m")[-2:] == ["--oneshot", "--foreground"]
    assert "apt-get install -y irqbalance" in B.INSTALL_HINT

"""Every fixture tree: well formed, and its discovered picture matches the golden file."""
import subprocess
import sys

import pytest

from irqd.cli.show import render_json
from irqd.discover import discover
from tests.support.checks import check_golden, check_links
from tests.support.paths import FIXTURES, GOLDEN, fixture_names

NAMES = fixture_names()


def test_there_are_fixtures():
    assert len(NAMES) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_show_golden(name):
    check_golden(GOLDEN / name / "show.json", render_json(discover(str(FIXTURES / name))))


@pytest.mark.parametrize("name", NAMES)
def test_tree_is_well_formed(name):
    root = FIXTURES / name
    check_links(root)
    snap = discover(str(root))
    for irq in snap.irqs:
        assert (root / "proc" / "irq" / str(irq)).is_dir(), f"{name}: IRQ {irq} has no proc/irq/{irq}"


@pytest.mark.parametrize("name", NAMES)
def test_capture_of_a_capture_reads_the_same(name, tmp_path):
    dest = tmp_path / "again"
    out = subprocess.run([sys.executable, "-m", "irqd", "capture", "--root", str(FIXTURES / name), str(dest)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert render_json(discover(str(dest))) == render_json(discover(str(FIXTURES / name)))

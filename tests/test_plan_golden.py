"""Golden plans: the default plan of every fixture, and special cases with their own config.

A special case is fixtures/golden/NAME/CASE.toml; its plan is CASE.plan.json beside it.
"""
import pytest

from irqd.cli.plantext import render_json
from irqd.config import default_config, load_config
from irqd.discover import discover
from irqd.planner import plan
from tests.support.checks import check_golden
from tests.support.paths import FIXTURES, GOLDEN, fixture_names

NAMES = fixture_names()
CASES = sorted((n, p.stem) for n in NAMES for p in (GOLDEN / n).glob("*.toml")) if GOLDEN.exists() else []


@pytest.mark.parametrize("name", NAMES)
def test_default_plan_golden(name):
    snap = discover(str(FIXTURES / name))
    result = plan(snap, default_config())
    check_golden(GOLDEN / name / "plan.json", render_json(result))
    assert plan(snap, default_config()) == result, "the plan must be deterministic"


@pytest.mark.parametrize("name,case", CASES)
def test_special_case_plan_golden(name, case):
    cfg = load_config(str(GOLDEN / name / f"{case}.toml"))
    result = plan(discover(str(FIXTURES / name)), cfg)
    check_golden(GOLDEN / name / f"{case}.plan.json", render_json(result))

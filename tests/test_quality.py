"""Planner quality on every captured fixture: nothing on excluded CPUs, queue IRQs on their NIC's node."""

import pytest

from irqd.config import default_config
from irqd.discover import discover
from irqd.planner import plan
from tests.support import quality as Q
from tests.support.paths import FIXTURES, GOLDEN, fixture_names


def _plan(name):
    if not (GOLDEN / name / "show.json").exists():
        pytest.skip(f"{name}: no golden show.json yet (fixture still being made)")
    snap = discover(str(FIXTURES / name))
    return snap, plan(snap, default_config())


@pytest.mark.parametrize("name", fixture_names())
def test_no_irq_rps_or_xps_on_an_ineligible_cpu(name):
    _, p = _plan(name)
    assert Q.off_eligible(p) == []


@pytest.mark.parametrize("name", fixture_names())
def test_queue_irqs_are_numa_local_where_possible(name):
    snap, p = _plan(name)
    share = Q.numa_local(snap, p)
    assert share.misses == []
    if share.total:
        assert share.share == 1.0


@pytest.mark.parametrize("name", fixture_names())
def test_xps_maps_of_a_nic_never_overlap(name):
    snap, p = _plan(name)
    for dev in Q.coverage(snap, p).xps:
        maps = [q.after for q in p.queues if q.dev == dev and q.attr == "xps_cpus" and isinstance(q.after, frozenset)]
        assert sum(len(m) for m in maps) == len(frozenset().union(*maps)), dev

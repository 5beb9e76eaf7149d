"""Properties every default plan must have, over generated machines (tests/support/).

Small machines (2-64 CPUs, 1-4 nodes, SMT on or off, offline CPUs, CPUs
isolated by isolcpus=/nohz_full=), 1-3 multiqueue NICs with 1..2x cores
queues, sometimes an NVMe drive with managed vectors. Each tree is written
once (to /dev/shm when there is one) and shared by every property.
"""
import os
import shutil
import tempfile
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings

from irqd.config import default_config
from irqd.discover import discover
from irqd.planner import plan
from tests.support import quality as Q
from tests.support.machine import write_machine
from tests.support.spec import MachineSpec
from tests.support.strategies import machines

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

_BASE: list[str] = []
_BUILT: dict[MachineSpec, tuple] = {}


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    while _BASE:
        shutil.rmtree(_BASE.pop(), ignore_errors=True)
    _BUILT.clear()


def build(spec: MachineSpec):
    """(snapshot, plan, root) for a spec, written and planned once."""
    if not _BASE:
        _BASE.append(tempfile.mkdtemp(prefix="irqd-prop-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    if spec not in _BUILT:
        root = os.path.join(_BASE[0], f"m{len(_BUILT)}")
        write_machine(root, spec)
        snap = discover(root)
        assert snap.problems == (), snap.problems
        _BUILT[spec] = (snap, plan(snap, default_config()), root)
    return _BUILT[spec]


def slot_cpus(snap, p, nic) -> dict[int, int]:
    """queue -> its one planned CPU."""
    out = {}
    for q, cpus in Q.queue_slots(snap, p, nic).items():
        assert len(cpus) == 1, f"{nic.name} queue {q} spread over {sorted(cpus)}, not pinned"
        out[q] = min(cpus)
    return out


# -- the properties ---------------------------------------------------------------

@SETTINGS
@given(machines())
def test_nothing_lands_on_an_ineligible_cpu(spec):
    snap, p, _ = build(spec)
    assert Q.off_eligible(p) == []
    assert p.eligible <= snap.housekeeping


@SETTINGS
@given(machines())
def test_queue_irqs_stay_on_their_node_when_it_has_an_eligible_cpu(spec):
    snap, p, _ = build(spec)
    share = Q.numa_local(snap, p)
    assert share.misses == []


@SETTINGS
@given(machines(unknown_node=False))
def test_queues_per_core_within_a_node_differ_by_at_most_one(spec):
    """Physical cores first; a thread beside an excluded (isolated) sibling only after every other thread."""
    snap, p, _ = build(spec)
    cands = Q.cands(snap)
    per_core: dict[tuple, int] = defaultdict(int)
    per_cpu: dict[int, int] = defaultdict(int)
    for nic in Q.physical_nics(snap):
        for cpu in slot_cpus(snap, p, nic).values():
            per_core[Q.core_of(snap, cpu)] += 1
            per_cpu[cpu] += 1
    for node in snap.nodes:
        mine = Q.node_cpus(snap, node) & p.eligible
        beside = {c for c in mine if cands.sibling_excluded(c)}
        cores = {Q.core_of(snap, c) for c in mine - beside}
        counts = [per_core.get(k, 0) for k in cores]
        if sum(counts):
            assert max(counts) - min(counts) <= 1, (node, sorted(counts))
        if beside and mine - beside:
            assert max(per_cpu[c] for c in beside) <= min(per_cpu[c] for c in mine - beside), (node, dict(per_cpu))


def _xps_maps(p, nic) -> dict[int, frozenset[int]]:
    return {int(q.queue.split("-")[1]): q.after for q in p.queues
            if q.dev == nic.name and q.attr == "xps_cpus" and isinstance(q.after, frozenset)}


@SETTINGS
@given(machines())
def test_xps_maps_of_a_nic_are_disjoint(spec):
    snap, p, _ = build(spec)
    for nic in Q.physical_nics(snap):
        seen: dict[int, int] = {}
        for q, cpus in sorted(_xps_maps(p, nic).items()):
            for c in cpus:
                assert c not in seen, f"{nic.name}: CPU {c} in the XPS maps of tx-{seen[c]} and tx-{q}"
                seen[c] = q


def _check_tx_queues_have_xps(snap, p):
    for nic in Q.physical_nics(snap):
        maps = _xps_maps(p, nic)
        if len(nic.tx) < 2 or not maps:
            continue
        cand = Q.candidates(snap, p, nic)
        if len(nic.tx) > len(cand):
            continue
        with_irq = {ref.queue for _, ref in nic.queue_irqs if ref.direction in ("tx", "rxtx")}
        for q in sorted(with_irq & set(maps)):
            assert maps[q], (f"{nic.name}: tx-{q} has an IRQ but an empty XPS map "
                             f"({len(nic.tx)} tx queues, {len(cand)} eligible CPUs near it)")


@SETTINGS
@given(machines(shared_nodes=False, unknown_node=False))
def test_every_tx_queue_with_an_irq_gets_an_xps_map(spec):
    """One NIC per node: each tx queue's IRQ has a CPU of its own to anchor its map."""
    snap, p, _ = build(spec)
    _check_tx_queues_have_xps(snap, p)


@SETTINGS
@given(machines(unknown_node=False))
def test_every_tx_queue_with_an_irq_gets_an_xps_map_when_nics_share_a_node(spec):
    snap, p, _ = build(spec)
    _check_tx_queues_have_xps(snap, p)


@SETTINGS
@given(machines())
def test_planning_is_deterministic(spec):
    snap, p, root = build(spec)
    assert plan(snap, default_config()) == p
    assert plan(discover(root), default_config()) == p


@SETTINGS
@given(machines())
def test_managed_irqs_are_left_alone(spec):
    snap, p, _ = build(spec)
    after = {i.irq: i for i in p.irqs}
    managed = [irq for irq, i in snap.irqs.items() if i.managed]
    for irq in managed:
        assert after[irq].after is None, f"managed IRQ {irq} ({snap.irqs[irq].name}) moved to {after[irq].after}"
    if spec.nvme and (spec.nvme[0].io_queues or 0) >= 2 and not spec.offline:
        assert managed, "NVMe vectors with spread masks were not recognised as managed"

"""Production nodes (issue 10): managed vectors, isolated siblings, XPS for every CPU, stable plans.

Each case runs on fixtures that model it from kernel and driver facts
(megaraid-sas-80cpu, kvm-virtio-blk, mlx5-80cpu-isolated, ice-112q-2node)
and, where a property holds in general, on generated machines.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import irqd.apply.writer as W
from irqd.cli import main
from irqd.config import default_config, parse_config
from irqd.discover import discover
from irqd.discover.interrupts import IrqRow
from irqd.discover.irqdebug import parse_dstate
from irqd.discover.managed import managed_hints
from irqd.discover.procirq import IrqAffinity
from irqd.planner import Candidates, plan
from irqd.planner.audit import audit
from irqd.snapshot import PciFunction
from tests.support.machine import write_machine
from tests.support.paths import FIXTURES, fixture_names
from tests.support.strategies import machines


def _copy(name: str, tmp: Path) -> Path:
    dest = tmp / name
    shutil.copytree(FIXTURES / name, dest, symlinks=True)
    return dest


def _irq_named(snap, pattern: str):
    return sorted((i for i in snap.irqs.values() if re.fullmatch(pattern, i.name)), key=lambda i: i.irq)


# -- 1. kernel-managed vectors before any write proves them ----------------------------

def test_megaraid_msix0_is_a_pre_vector_and_the_rest_are_managed():
    snap = discover(str(FIXTURES / "megaraid-sas-80cpu"))
    vectors = _irq_named(snap, r"megasas\d+-msix\d+")
    assert len(vectors) == 81
    by_index = {int(i.name.rsplit("msix", 1)[1]): i for i in vectors}
    assert by_index[0].managed is None            # pinned by hand or by irqbalance: movable
    assert all(by_index[k].managed == "likely" for k in range(1, 81))
    p = plan(snap, default_config())
    assert {q.irq for q in p.irqs if q.managed} >= {by_index[k].irq for k in range(1, 81)}
    assert not any(q.changes for q in p.irqs if q.irq in {by_index[k].irq for k in range(1, 81)})


def test_virtio_request_vectors_are_managed_and_config_control_event_are_not():
    snap = discover(str(FIXTURES / "kvm-virtio-blk"))
    assert [i.managed for i in _irq_named(snap, r"virtio\d+-req\.\d+")] == ["likely"]   # mask: every CPU
    assert len(_irq_named(snap, r"virtio\d+-request")) == 4
    assert all(i.managed == "likely" for i in _irq_named(snap, r"virtio\d+-request"))
    for pattern in (r"virtio\d+-config", r"virtio\d+-control", r"virtio\d+-event", r"virtio\d+-(in|out)put\.\d+"):
        assert _irq_named(snap, pattern) and all(i.managed is None for i in _irq_named(snap, pattern)), pattern


def test_nvme_admin_queue_is_not_managed():
    snap = discover(str(FIXTURES / "rt-isolcpus"))
    assert all(i.managed is None for i in _irq_named(snap, r"nvme\d+q0"))
    assert all(i.managed for i in _irq_named(snap, r"nvme\d+q[1-9]\d*"))


def _vectors(masks: list[frozenset[int]], bdf: str = "0000:5e:00.0"):
    rows = tuple(IrqRow(100 + k, (), "IR-PCI-MSIX", k, "edge", (f"mydrv-q{k}",)) for k in range(len(masks)))
    affinities = {100 + k: IrqAffinity(m, None, None, None, 2) for k, m in enumerate(masks)}
    fn = PciFunction(bdf, f"devices/pci0000:5d/{bdf}", 0x010700, 0x1000, 0x1, "mydrv", 0, None, None,
                     {100 + k: "msix" for k in range(len(masks))})
    return rows, {r.irq: bdf for r in rows}, {bdf: fn}, affinities


def test_partition_test_sets_aside_pre_and_post_vectors():
    """An unknown storage driver: one pre vector pinned onto a managed vector's CPU, one post vector on all."""
    online = frozenset(range(8))
    masks = [frozenset({3})] + [frozenset({c}) for c in range(8)] + [online]
    rows, devices, pci, aff = _vectors(masks)
    hints = managed_hints(rows, devices, pci, aff, online)
    assert sorted(hints) == list(range(101, 109))
    assert all(level == "likely" for level, _ in hints.values())


def test_partition_needs_the_whole_partition():
    online = frozenset(range(8))
    rows, devices, pci, aff = _vectors([frozenset({c, c + 1}) for c in range(0, 6, 2)])   # CPUs 6, 7 uncovered
    assert managed_hints(rows, devices, pci, aff, online) == {}


DSTATE = """handler:  handle_edge_irq
device:   0000:00:02.0
status:   0x00000000
istate:   0x00000000
ddepth:   0
wdepth:   0
dstate:   0x{hex}
{flags}node:     0
affinity: 0-3
effectiv: 1
pending:
"""


def _dstate(*flags: str) -> str:
    return DSTATE.format(hex="01600201", flags="".join(f"{' ' * 12}{f}\n" for f in flags))


def test_dstate_parser_reads_flag_names():
    assert parse_dstate(_dstate("IRQ_TYPE_EDGE_RISING", "IRQD_ACTIVATED", "IRQD_AFFINITY_MANAGED")) == \
        {"IRQ_TYPE_EDGE_RISING", "IRQD_ACTIVATED", "IRQD_AFFINITY_MANAGED"}
    assert parse_dstate("handler:  handle_edge_irq\n") == frozenset()


def test_debugfs_confirms_and_overrides_driver_knowledge(tmp_path, capsys):
    root = _copy("kvm-virtio-blk", tmp_path)
    snap = discover(str(root))
    req = _irq_named(snap, r"virtio\d+-req\.0")[0]
    scsi = _irq_named(snap, r"virtio\d+-request")[0]
    debug = root / "sys/kernel/debug/irq/irqs"
    debug.mkdir(parents=True)
    (debug / str(req.irq)).write_text(_dstate("IRQD_ACTIVATED", "IRQD_AFFINITY_MANAGED"))
    (debug / str(scsi.irq)).write_text(_dstate("IRQD_ACTIVATED"))   # the kernel says: not managed
    snap = discover(str(root))
    assert snap.irqs[req.irq].managed == "confirmed"
    assert snap.irqs[scsi.irq].managed is None
    # a capture keeps what the kernel proved
    assert main(["capture", "--root", str(root), str(tmp_path / "cap")]) == 0
    capsys.readouterr()
    again = discover(str(tmp_path / "cap"))
    assert again.irqs[req.irq].managed == "confirmed" and again.irqs[scsi.irq].managed is None


def test_capture_keeps_refused_writes(tmp_path, capsys):
    root = _copy("dev-virtio-2cpu", tmp_path)
    state = root / "var/lib/irqd/state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 1, "originals": {}, "written": {}, "identity": {}, "managed": [41]}')
    assert main(["capture", "--root", str(root), str(tmp_path / "cap")]) == 0
    capsys.readouterr()
    assert main(["plan", "--root", str(tmp_path / "cap"), "--format", "json"]) == 0
    assert '"irq": 41' in capsys.readouterr().out
    from irqd.cli.common import known_managed
    from irqd.discover import Root
    assert known_managed(Root(str(tmp_path / "cap"))) == {41}


# -- 2. queues beyond the core count, siblings of isolated CPUs -------------------------

def _queue_units_per_cpu(snap, p) -> tuple[dict[int, int], int]:
    after = {i.irq: i.after for i in p.irqs}
    per_cpu: dict[int, int] = defaultdict(int)
    units = 0
    for nic in snap.nics:
        for irqs in Candidates.queue_slots(nic).values():
            cpus = {c for i in irqs if after.get(i) for c in after[i]}
            if len(cpus) == 1:
                units += 1
                per_cpu[cpus.pop()] += 1
    return per_cpu, units


def test_isolated_siblings_take_no_more_than_their_share():
    snap = discover(str(FIXTURES / "mlx5-80cpu-isolated"))
    p = plan(snap, default_config())
    per_cpu, units = _queue_units_per_cpu(snap, p)
    eligible = len(p.eligible)
    assert units == 302 + 0 and eligible == 77
    assert max(per_cpu.values()) == math.ceil(units / eligible)      # 4, not the 15 of a per-core balance
    cands = Candidates(snap, default_config())
    beside = [c for c in p.eligible if cands.sibling_excluded(c)]
    assert sorted(beside) == [46, 48, 50]
    assert all(per_cpu[c] <= units // eligible for c in beside)     # used last: the lower share


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(spec=machines(shared_nodes=False))
def test_stacking_is_at_ceil_units_over_eligible_cpus(spec, tmp_path_factory):
    root = tmp_path_factory.mktemp("m")
    write_machine(str(root), spec)
    snap = discover(str(root))
    cands = Candidates(snap, default_config())
    p = plan(snap, default_config())
    after = {i.irq: i.after for i in p.irqs}
    for nic in snap.nics:
        where = cands.nic_where(nic)
        if nic.virtual or where is None:
            continue
        per_cpu: dict[int, int] = defaultdict(int)
        slots = [s for s in Candidates.queue_slots(nic).values() if all(after.get(i) for i in s)]
        for irqs in slots:
            (cpu,) = {c for i in irqs for c in after[i]}
            per_cpu[cpu] += 1
        if slots:
            assert max(per_cpu.values()) <= math.ceil(len(slots) / len(where.cpus)), nic.name


# -- 3. XPS for every CPU ---------------------------------------------------------------------

def _check_xps(snap, p) -> None:
    after = {i.irq: i.after for i in p.irqs}
    for nic in snap.nics:
        maps = {q.queue: q.after for q in p.queues if q.dev == nic.name and q.attr == "xps_cpus"}
        if nic.virtual or len(nic.tx) < 2 or not maps or any(not isinstance(m, frozenset) for m in maps.values()):
            continue
        seen: dict[int, int] = defaultdict(int)
        for m in maps.values():
            for c in m:
                seen[c] += 1
        assert set(seen) == set(p.eligible), f"{nic.name}: every eligible CPU of every node in a map"
        assert all(n == 1 for n in seen.values()), f"{nic.name}: each CPU in exactly one map"
        # a CPU that carries queue i's IRQ (the first such queue) sends through queue i
        owner: dict[int, int] = {}
        for irq, ref in sorted(nic.queue_irqs, key=lambda t: t[1].queue):
            cpus = after.get(irq)
            if cpus and len(cpus) == 1 and f"tx-{ref.queue}" in maps:
                owner.setdefault(next(iter(cpus)), ref.queue)
        for cpu, q in owner.items():
            if cpu in p.eligible:
                assert cpu in maps[f"tx-{q}"], f"{nic.name}: CPU {cpu} carries tx-{q}'s IRQ"


@pytest.mark.parametrize("name", fixture_names())
def test_xps_maps_every_eligible_cpu_once(name):
    snap = discover(str(FIXTURES / name))
    _check_xps(snap, plan(snap, default_config()))


def test_a_112_queue_nic_maps_the_remote_node_too():
    snap = discover(str(FIXTURES / "ice-112q-2node"))
    p = plan(snap, default_config())
    maps = [q.after for q in p.queues if q.attr == "xps_cpus" and q.after]
    assert len(maps) == 112 and frozenset().union(*maps) == p.eligible


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(spec=machines())
def test_xps_every_cpu_on_generated_machines(spec, tmp_path_factory):
    root = tmp_path_factory.mktemp("m")
    write_machine(str(root), spec)
    snap = discover(str(root))
    _check_xps(snap, plan(snap, default_config()))


# -- 4. stable plans ------------------------------------------------------------------------------

def age(root: Path, factor: float = 1.03, idle_bump: int = 2, seconds: float = 300.0) -> None:
    """Let interrupts accrue: busy counts grow by a few percent, idle ones by 0..idle_bump, time passes."""
    path = root / "proc/interrupts"
    lines = path.read_text().splitlines(keepends=True)
    ncol = len(lines[0].split())
    out = [lines[0]]
    for n, line in enumerate(lines[1:], start=1):
        label, sep, rest = line.partition(":")
        if not (sep and label.strip().isdigit()):
            out.append(line)
            continue
        counts = list(re.finditer(r"\d+", rest))[:ncol]
        pieces, at = [], 0
        for k, m in enumerate(counts):
            value = int(m.group(0))
            new = int(value * factor) if value > 1000 else value + (n + k) % (idle_bump + 1)
            pieces += [rest[at:m.start()], str(new).rjust(len(m.group(0)))]
            at = m.end()
        out.append(label + sep + "".join(pieces) + rest[at:])
    path.write_text("".join(out))
    up = root / "proc/uptime"
    if up.exists():
        a, b = up.read_text().split()
        up.write_text(f"{float(a) + seconds:.2f} {float(b) + seconds:.2f}\n")


@pytest.mark.parametrize("name", fixture_names())
def test_replanning_an_aged_tree_proposes_nothing(name, tmp_path, capsys):
    root = _copy(name, tmp_path)
    assert main(["apply", "--root", str(root), "--yes"]) in (0, 1)
    capsys.readouterr()
    age(root)
    snap = discover(str(root))
    p = plan(snap, default_config())
    moved = [f"irq {i.irq} {i.name}: {sorted(i.before or ())} -> {sorted(i.after or ())}" for i in p.irqs if i.changes]
    maps = [f"{q.dev} {q.queue} {q.attr}" for q in p.queues if q.changes]
    assert moved == [] and maps == []
    assert main(["apply", "--root", str(root), "--yes"]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_a_refused_write_replans_at_once_and_a_second_apply_writes_nothing(tmp_path, monkeypatch, capsys):
    """One managed IRQ refused on a 2-CPU VM must not leave the other device IRQs where the plan assumed."""
    root = _copy("dev-virtio-2cpu", tmp_path)
    snap = discover(str(root))
    victim = next(t for t in plan(snap, default_config()).irqs if t.changes and t.cls == "other-device")
    real = W.kernel_write

    def write(path: str, data: str) -> None:
        if path.endswith(f"/proc/irq/{victim.irq}/smp_affinity"):
            raise OSError(5, os.strerror(5))
        real(path, data)

    monkeypatch.setattr(W, "kernel_write", write)
    assert main(["apply", "--root", str(root), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "kernel-managed" in out
    after = discover(str(root), confirmed_managed={victim.irq})
    assert not [i for i in plan(after, default_config()).irqs if i.changes], "settled in the same run"
    assert main(["apply", "--root", str(root), "--yes"]) == 0
    assert "nothing to change" in capsys.readouterr().out


# -- 5. pending moves are not findings ----------------------------------------------------------

def test_an_idle_irq_whose_move_is_pending_is_not_a_finding(tmp_path):
    root = _copy("dev-virtio-2cpu", tmp_path)
    snap = discover(str(root))
    idle = next(i for i in snap.irqs.values() if i.movable and i.total == 0 and i.affinity == frozenset({0, 1}))
    busy = max((i for i in snap.irqs.values() if i.movable and not i.managed), key=lambda i: i.total)
    for irq in (idle, busy):
        base = root / f"proc/irq/{irq.irq}"
        (base / "smp_affinity").write_text("1\n")
        (base / "smp_affinity_list").write_text("0\n")
        (base / "effective_affinity").write_text("2\n")
        if (base / "effective_affinity_list").exists():
            (base / "effective_affinity_list").write_text("1\n")
    snap = discover(str(root))
    result = audit(snap, default_config(), plan(snap, default_config()), live=True)
    findings = {f.subject.split()[1]: f for f in result.findings if f.category == "effective"}
    assert not findings[str(idle.irq)].counted and findings[str(idle.irq)].problem.startswith("pending")
    assert findings[str(busy.irq)].counted


# -- 6. network namespaces ------------------------------------------------------------------------

def test_inside_another_network_namespace_irqs_are_left_alone(tmp_path):
    root = _copy("netns-veth", tmp_path)
    (root / "proc/self/ns").mkdir(parents=True)
    os.symlink("net:[4026532179]", root / "proc/self/ns/net")
    (root / "proc/2/ns").mkdir(parents=True)
    os.symlink("net:[4026531833]", root / "proc/2/ns/net")
    (root / "proc/2/comm").write_text("kthreadd\n")
    snap = discover(str(root))
    assert snap.foreign_netns
    p = plan(snap, default_config())
    assert all(i.after is None for i in p.irqs)
    assert any("network namespace" in n for n in p.notes)
    told = plan(snap, parse_config("irqs_in_netns = true"))
    assert any(i.changes for i in told.irqs)
    # the same tree in the host's namespace places IRQs as usual
    os.remove(root / "proc/self/ns/net")
    os.symlink("net:[4026531833]", root / "proc/self/ns/net")
    assert not discover(str(root)).foreign_netns


def test_watching_tells_a_pending_move_from_a_refused_one(tmp_path, monkeypatch):
    """On a live host the audit watches IRQs outside their mask: one that fires and stays out was refused."""
    from irqd.discover import Root
    from irqd.discover.pending import watch_pending

    root = _copy("dev-virtio-2cpu", tmp_path)
    monkeypatch.setattr(Root, "is_live", property(lambda self: True))
    for irq in (41, 43):   # written to CPU 1, still running on CPU 0
        (root / f"proc/irq/{irq}/smp_affinity").write_text("2\n")
        (root / f"proc/irq/{irq}/effective_affinity").write_text("1\n")
    stat = root / "proc/stat"
    text = stat.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("intr "))
    counts = line.split()
    ticks = iter(range(1000))

    def sleep(_: float) -> None:
        # IRQ 41 fires while watched; IRQ 43 does not
        n = next(ticks)
        new = counts.copy()
        new[2 + 41] = str(int(counts[2 + 41]) + 1 + n)
        stat.write_text(text.replace(line, " ".join(new)))

    clock = iter(x * 0.1 for x in range(1000))
    assert watch_pending(Root(str(root)), [41, 43], seconds=1.0, clock=lambda: next(clock), sleep=sleep) == {43}
    assert watch_pending(Root(str(root)), [], seconds=1.0) == frozenset()

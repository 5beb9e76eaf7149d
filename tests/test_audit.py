"""irqd audit: clean after apply on every fixture; one hand-made defect per category fires exactly that category.

Each defect test starts from a fixture copy that ``irqd apply`` has put
right (so the audit is clean), then edits a few files the way a kernel
would show the defect, and checks that exactly that category fires.
"""
import io
import json
import os
import tempfile
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings

from irqd.cli import main
from irqd.cli.audit import audit_json, render_table
from irqd.config import default_config
from irqd.cpuset import format_list, format_mask, mask_digits
from irqd.discover import Root, discover
from irqd.discover.procirq import stale_effective
from irqd.planner import plan
from irqd.planner.audit import CATEGORIES, audit
from tests.support.machine import write_machine
from tests.support.paths import FIXTURES, fixture_names
from tests.support.strategies import machines


def irqd(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def audit_of(root) -> dict:
    code, out, err = irqd("audit", "--root", root, "--format", "json")
    assert "Traceback" not in err, err
    data = json.loads(out)
    assert code == data["exit"] == (0 if data["clean"] else 1)
    return data


def fired(data) -> set[str]:
    return {f["category"] for f in data["findings"] if f["counted"]}


def findings(data, category) -> list[dict]:
    return [f for f in data["findings"] if f["category"] == category and f["counted"]]


@pytest.fixture
def applied(fixture_copy):
    """A fixture copy after `irqd apply`: the audit must be clean before a defect is added."""
    def make(name):
        root = fixture_copy(name)
        code, out, err = irqd("apply", "--root", root, "--yes")
        assert code == 0, err + out
        data = audit_of(root)
        assert fired(data) == set(), [f for f in data["findings"] if f["counted"]][:5]
        return root
    return make


# -- editing a tree as the kernel would show it ------------------------------------

def write_mask(root, rel, cpus):
    path = root / rel
    digits = mask_digits(path.read_text()) or None
    path.write_text(format_mask(cpus, digits) + "\n")


def set_irq(root, irq, affinity, effective=None):
    """smp_affinity, its list twin and the effective affinity, in step as a kernel keeps them."""
    base = f"proc/irq/{irq}"
    effective = frozenset({min(affinity)}) if effective is None else effective
    write_mask(root, f"{base}/smp_affinity", affinity)
    (root / base / "smp_affinity_list").write_text(format_list(affinity) + "\n")
    if (root / base / "effective_affinity").exists():
        write_mask(root, f"{base}/effective_affinity", effective)
    if (root / base / "effective_affinity_list").exists():
        (root / base / "effective_affinity_list").write_text(format_list(effective) + "\n")


def queue_cpu(snap, nic, q):
    irq = next(i for i, ref in snap.nic(nic).queue_irqs if ref.queue == q)
    (cpu,) = snap.irqs[irq].affinity
    return irq, cpu


# -- the property the issue asks for ---------------------------------------------------

@pytest.mark.parametrize("name", fixture_names())
def test_clean_after_apply(name, fixture_copy):
    root = fixture_copy(name)
    before = audit_of(root)
    code, out, err = irqd("apply", "--root", root, "--yes")
    assert code == 0, err + out
    after = audit_of(root)
    assert after["clean"], [f for f in after["findings"] if f["counted"]][:5]
    for cat, data in after["categories"].items():
        assert data["score"] in (None, 100.0), (cat, data)
    # apply never makes a category check fewer things than it could before
    for cat in ("isolation", "rps", "rfs"):
        assert after["categories"][cat]["checked"] >= before["categories"][cat]["checked"], cat


def test_captured_fixtures_have_the_defects_they_were_captured_with():
    ice = audit_of(FIXTURES / "intel-2s-i40e-ice")
    assert any(f["subject"].startswith("irq 384 ice-ens5f0-TxRx-0") and "node 0" in f["problem"]
               for f in findings(ice, "numa"))
    assert findings(ice, "xps")
    rt = audit_of(FIXTURES / "rt-isolcpus")
    xps_on_isolated = [f for f in findings(rt, "isolation") if "xps_cpus" in f["subject"]]
    assert len(xps_on_isolated) == 120          # tx-n -> CPU n for the 60 isolated n of each ice port
    desktop = audit_of(FIXTURES / "desktop-r8169")
    assert {f["subject"] for f in findings(desktop, "rps")} == {"eno1 rx-0", "enp3s0 rx-0"}


# -- one defect per category -------------------------------------------------------------

def test_numa_queue_irq_on_another_node(applied):
    root = applied("amd-epyc-nps4")
    snap = discover(str(root))
    irq, _ = queue_cpu(snap, "enp65s0f0np0", 0)           # the NIC sits on node 2
    far = min(snap.nodes[3].cpus)
    set_irq(root, irq, {far})
    data = audit_of(root)
    assert fired(data) == {"numa"}
    (f,) = findings(data, "numa")
    assert f["subject"].startswith(f"irq {irq} ") and "queue 0" in f["subject"]
    assert f"runs on CPU {far} (node 3)" in f["problem"]
    assert "spread over node 2" in f["plan"]


@pytest.mark.parametrize("what", ["irq", "rps", "xps"])
def test_isolation(what, applied):
    root = applied("rt-isolcpus")
    if what == "irq":
        set_irq(root, 16, {0, 5}, {0})                     # i801_smbus allowed on isolated CPU 5
        subject = "irq 16 i801_smbus"
    elif what == "rps":
        write_mask(root, "sys/class/net/ens1f0/queues/rx-0/rps_cpus", {0, 5})
        subject = "ens1f0 rx-0 rps_cpus"
    else:
        write_mask(root, "sys/class/net/ens1f1/queues/tx-7/xps_cpus", {40})
        subject = "ens1f1 tx-7 xps_cpus"
    data = audit_of(root)
    assert fired(data) == {"isolation"}
    (f,) = findings(data, "isolation")
    assert f["subject"] == subject
    assert "cmdline:isolcpus(managed_irq)" in f["problem"] and "nohz_full" in f["problem"]


def test_stacking_while_a_core_is_free(applied):
    root = applied("intel-2s-mlx5")                        # igb: 8 queues on node 1's 12 cores
    snap = discover(str(root))
    _, cpu0 = queue_cpu(snap, "enp175s0f0", 0)
    irq1, _ = queue_cpu(snap, "enp175s0f0", 1)
    set_irq(root, irq1, {cpu0})
    data = audit_of(root)
    assert fired(data) == {"stacking"}
    (f,) = findings(data, "stacking")
    assert "queue 0" in f["problem"] and "queue 1" in f["problem"] and "carry no queue" in f["problem"]


def test_smt_siblings_while_a_core_is_free(applied):
    root = applied("intel-2s-mlx5")
    snap = discover(str(root))
    _, cpu0 = queue_cpu(snap, "enp175s0f0", 0)
    irq1, _ = queue_cpu(snap, "enp175s0f0", 1)
    (sibling,) = snap.topology[cpu0].siblings - {cpu0}
    set_irq(root, irq1, {sibling})
    # keep XPS in step with the move (the sibling now sends through tx-1), so only the SMT placement is wrong
    for q in snap.nic("enp175s0f0").tx:
        rel = f"sys/class/net/enp175s0f0/queues/tx-{q.index}/xps_cpus"
        write_mask(root, rel, q.xps_cpus | {sibling} if q.index == 1 else q.xps_cpus - {sibling})
    data = audit_of(root)
    assert fired(data) == {"smt"}, data["findings"][:3]
    (f,) = findings(data, "smt")
    assert f["subject"].startswith("enp175s0f0 on ") and format_list({cpu0, sibling}) in f["problem"]


def test_single_queue_nic_without_rps(applied):
    root = applied("dev-virtio-2cpu")
    write_mask(root, "sys/class/net/eth0/queues/rx-0/rps_cpus", set())
    data = audit_of(root)
    assert fired(data) == {"rps"}
    (f,) = findings(data, "rps")
    assert f["subject"] == "eth0 rx-0" and "single-queue" in f["problem"]
    assert f["plan"].startswith("rx-0 rps_cpus -> 0-1")


def test_cpu_in_no_xps_map(applied):
    root = applied("intel-2s-mlx5")
    write_mask(root, "sys/class/net/enp175s0f0/queues/tx-0/xps_cpus", set())
    data = audit_of(root)
    assert fired(data) == {"xps"}
    assert any(f["subject"] == "enp175s0f0 tx-0" and "no XPS map" in f["problem"] for f in findings(data, "xps"))


def test_xps_disagrees_with_the_queue_irq(applied):
    root = applied("intel-2s-mlx5")
    snap = discover(str(root))
    tx = {q.index: q.xps_cpus for q in snap.nic("enp175s0f0").tx}
    write_mask(root, "sys/class/net/enp175s0f0/queues/tx-0/xps_cpus", tx[1])
    write_mask(root, "sys/class/net/enp175s0f0/queues/tx-1/xps_cpus", tx[0])
    data = audit_of(root)
    assert fired(data) == {"xps"}
    subjects = {f["subject"] for f in findings(data, "xps")}
    assert subjects == {"enp175s0f0 tx-0", "enp175s0f0 tx-1"}
    assert all("XPS sends" in f["problem"] for f in findings(data, "xps"))


@pytest.mark.parametrize("half", ["flows-without-table", "table-without-flows"])
def test_rfs_half_set_up(half, applied):
    root = applied("dev-virtio-2cpu")                      # RPS on eth0, RFS sized
    if half == "flows-without-table":
        (root / "proc/sys/net/core/rps_sock_flow_entries").write_text("0\n")
        subject = "eth0 rps_flow_cnt"
    else:
        (root / "sys/class/net/eth0/queues/rx-0/rps_flow_cnt").write_text("0\n")
        subject = "rps_sock_flow_entries"
    data = audit_of(root)
    assert fired(data) == {"rfs"}
    (f,) = findings(data, "rfs")
    assert f["subject"] == subject and "RFS is off" in f["problem"]


def test_effective_affinity_not_honoured(applied):
    root = applied("dev-virtio-2cpu")
    snap = discover(str(root))
    # the busiest IRQ apply pinned: it fires often, so the kernel has had every chance to move it
    busy = max((i for i in snap.irqs.values() if i.affinity and len(i.affinity) == 1 and not i.managed),
               key=lambda i: i.total)
    (cpu,) = busy.affinity
    other = ({0, 1} - {cpu}).pop()
    set_irq(root, busy.irq, {cpu}, {other})               # a live kernel would show exactly this
    data = audit_of(root)
    assert fired(data) == {"effective"}
    (f,) = findings(data, "effective")
    assert f["subject"].startswith(f"irq {busy.irq} {busy.name}") and f"runs it on CPU {other}" in f["problem"]


def test_stale_effective_affinity_is_not_judged(applied):
    """After apply on a captured tree the effective files predate the masks: said, not flagged."""
    root = applied("dev-virtio-2cpu")
    snap = discover(str(root))
    stale = stale_effective(Root(str(root)), snap.irqs)
    moved = [i for i in sorted(stale) if snap.irqs[i].effective - snap.irqs[i].affinity]
    assert moved and set(moved) <= {p.irq for p in plan(discover(str(FIXTURES / "dev-virtio-2cpu")),
                                                          default_config()).irqs if p.changes}
    data = audit_of(root)
    assert any("rewritten after this tree was captured" in u for u in data["categories"]["effective"]["unknown"])
    # the same snapshot, judged as if a kernel had shown it: a finding where the IRQ fires often, and
    # "pending: moves at its next interrupt" where it barely fires (it has not had the chance)
    live = audit(snap, default_config(), plan(snap, default_config()), live=True)
    up = snap.uptime or 1.0
    busy = {i for i in moved if snap.irqs[i].total / up >= 1.0}
    assert {int(f.subject.split()[1]) for f in live.counted() if f.category == "effective"} == busy
    pending = {int(f.subject.split()[1]) for f in live.findings
               if f.category == "effective" and not f.counted and f.problem.startswith("pending")}
    assert pending == set(moved) - busy


def test_stale_detection_without_list_files(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    base = root / "proc/irq/36"
    (base / "smp_affinity_list").unlink()
    eff = os.stat(base / "effective_affinity").st_mtime_ns
    # as captured: a fresh git checkout writes the files in any order, nanoseconds apart
    os.utime(base / "smp_affinity", ns=(eff, eff))
    assert stale_effective(Root(str(root)), [36]) == frozenset()
    (base / "smp_affinity").write_text("1\n")
    os.utime(base / "smp_affinity", ns=(eff + 10**9, eff + 10**9))
    assert stale_effective(Root(str(root)), [36]) == {36}
    assert stale_effective(Root("/"), [36]) == frozenset()


def test_managed_irq_on_an_isolated_cpu_with_housekeeping_in_its_mask(applied):
    root = applied("rt-isolcpus")
    set_irq(root, 165, {0, 1, 2, 3, 32, 33, 34, 35}, {2})  # nvme0q1: the kernel picked isolated CPU 2
    data = audit_of(root)
    assert fired(data) == {"managed"}
    (f,) = findings(data, "managed")
    assert f["subject"] == "irq 165 nvme0q1" and "housekeeping CPU 0-1,32-33" in f["problem"]
    assert f["plan"].startswith("left alone: kernel-managed")


def test_managed_irqs_whose_mask_is_all_isolated_are_reported_not_counted(applied):
    root = applied("rt-isolcpus")
    data = audit_of(root)
    assert data["clean"]
    info = [f for f in data["findings"] if f["category"] == "managed" and not f["counted"]]
    assert len(info) == 8 and data["categories"]["managed"]["info"] == 8
    q2 = next(f for f in info if f["subject"] == "irq 166 nvme0q2")
    assert "whole mask 4-7,36-39 is isolated" in q2["problem"] and "440 time(s)" in q2["problem"]


def test_managed_without_isolation_is_informational(applied):
    data = audit_of(applied("intel-2s-i40e-ice"))
    assert data["categories"]["managed"]["info"] == 32 and data["categories"]["managed"]["findings"] == 0


# -- what apply must not leave behind ------------------------------------------------------

def test_apply_does_not_leave_rfs_half_set_up(fixture_copy):
    """A working RFS setup with RPS off: apply zeroes the flow counts, so it must turn the table off too.

    Found by this audit; fixed in the planner (2162602) as proposed: with no RPS planned, a non-zero
    rps_sock_flow_entries and no rx queue keeping a flow count, the plan sets the table to 0.
    """
    root = fixture_copy("gcp-gve")
    (root / "proc/sys/net/core/rps_sock_flow_entries").write_text("32768\n")
    for q in range(4):
        (root / f"sys/class/net/ens4/queues/rx-{q}/rps_flow_cnt").write_text("8192\n")
    assert "rfs" not in fired(audit_of(root))              # RFS fully set up, RPS off: fine
    assert irqd("apply", "--root", root, "--yes")[0] == 0
    assert fired(audit_of(root)) == set()


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(machines())
def test_clean_after_apply_on_generated_machines(spec):
    """Whatever machines() draws (SMT, offline and isolated CPUs, shared and unknown nodes, managed NVMe),
    apply leaves nothing audit counts, except what only the kernel command line can change: a managed IRQ
    on an isolated CPU whose mask holds a housekeeping CPU when isolcpus= lacks managed_irq."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None) as tmp:
        root = os.path.join(tmp, "m")
        write_machine(root, spec)
        assert irqd("apply", "--root", root, "--yes")[0] == 0
        data = audit_of(root)
    left = [f for f in data["findings"] if f["counted"]]
    assert all(f["category"] == "managed" and "boot with isolcpus=managed_irq" in f["problem"] for f in left), left
    if left:
        assert "managed_irq" not in spec.cmdline


# -- the command -------------------------------------------------------------------------------

def test_table_output(applied, fixture_copy):
    code, out, _ = irqd("audit", "--root", applied("rt-isolcpus"))
    assert code == 0 and out.rstrip().splitlines()[-1].startswith("Result: clean (exit 0)")
    for name in CATEGORIES:
        assert f"\n  {name} " in out
    assert "What this audit cannot know" in out and "informational, not counted" in out
    code, out, _ = irqd("audit", "--root", fixture_copy("desktop-r8169"))
    assert code == 1 and "[rps]" in out and "plan: rx-0 rps_cpus ->" in out
    assert out.rstrip().endswith("(exit 1)")


def test_bad_input_exits_2_without_a_traceback(tmp_path):
    code, _, err = irqd("audit", "--root", tmp_path / "nowhere")
    assert code == 2 and "Traceback" not in err and err.startswith("irqd: ")
    code, _, err = irqd("audit", "--root", tmp_path)
    assert code == 2 and "proc/interrupts" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("policy = 'sideways'\n")
    code, _, err = irqd("audit", "--root", FIXTURES / "dev-virtio-2cpu", "--config", bad)
    assert code == 2 and "policy" in err and "Traceback" not in err


def test_audit_is_pure():
    snap = discover(str(FIXTURES / "intel-2s-mlx5"))
    cfg = default_config()
    p = plan(snap, cfg)
    first = audit_json(audit(snap, cfg, p))
    assert audit_json(audit(snap, cfg, p)) == first
    assert render_table(audit(snap, cfg, p)) == render_table(audit(snap, cfg, p))
    assert first["live"] is False


def test_banned_cpus_from_the_config_count(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    conf = tmp_path / "irqd.toml"
    conf.write_text('banned_cpus = "1"\n')
    code, out, _ = irqd("audit", "--root", root, "--config", conf, "--format", "json")
    data = json.loads(out)
    assert code == 1 and "config:banned_cpus" in data["excluded_cpus"]
    assert all("config:banned_cpus" in f["problem"] for f in findings(data, "isolation"))
    assert irqd("apply", "--root", root, "--config", conf, "--yes")[0] == 0
    code, out, _ = irqd("audit", "--root", root, "--config", conf, "--format", "json")
    assert code == 0, json.loads(out)["findings"]

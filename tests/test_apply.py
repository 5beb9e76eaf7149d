"""apply and restore on fixture copies, with faults injected at the single write choke point."""
import errno
import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

import irqd.apply.writer as A
from irqd.apply.targets import targets
from irqd.cli import main
from irqd.config import default_config
from irqd.cpuset import parse_mask
from irqd.discover import discover
from irqd.planner import plan
from irqd.planner.candidates import enospc_order
from tests.support.checks import same_tree
from tests.support.paths import FIXTURES, fixture_names


def irqd(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def file_value(root, rel, value):
    text = Path(root, rel).read_text()
    return int(text) if isinstance(value, int) else parse_mask(text)


@pytest.mark.parametrize("name", fixture_names())
def test_apply_twice_then_restore(name, fixture_copy):
    root = fixture_copy(name)
    snap = discover(str(root))
    expected = plan(snap, default_config())
    todo = targets(expected)
    code, out, err = irqd("apply", "--root", str(root), "--yes")
    assert code == 0, err + out
    for t in todo:
        if os.path.exists(root / t.rel):
            assert file_value(root, t.rel, t.value) == t.value, t.rel
    mtimes = {t.rel: os.stat(root / t.rel).st_mtime_ns for t in todo}
    code, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert code == 0
    assert "0 written" in out or "nothing to change" in out, out
    assert mtimes == {t.rel: os.stat(root / t.rel).st_mtime_ns for t in todo}
    code, out, err = irqd("restore", "--root", str(root))
    assert code == 0, err
    assert same_tree(FIXTURES / name, root) == []
    assert not (root / "var/lib/irqd/state.json").exists()
    print(f"{name}: {len(todo)} files written, second apply 0, restore: identical")


def test_dry_run_writes_nothing(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    code, out, _ = irqd("apply", "--root", str(root), "--dry-run")
    assert code == 0 and "would write" in out and "IRQs move" in out
    assert same_tree(FIXTURES / "dev-virtio-2cpu", root) == []
    assert not (root / "var").exists()


def test_only_limits_what_is_written(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    code, _, _ = irqd("apply", "--root", str(root), "--yes", "--only", "rps")
    assert code == 0
    changed = same_tree(FIXTURES / "dev-virtio-2cpu", root)
    assert changed and all("queues/rx-" in c for c in changed), changed
    code, _, err = irqd("apply", "--root", str(root), "--only", "rps,bogus")
    assert code == 2 and "bogus" in err


class Faults:
    """Replace kernel_write: raise ``code`` for paths matching ``match`` (optionally only for some values)."""

    def __init__(self, monkeypatch, match, code, when=None):
        self.calls = []
        real = A.kernel_write

        def write(path, data):
            self.calls.append((path, data))
            if match in path and (when is None or when(data)):
                raise OSError(code, os.strerror(code))
            real(path, data)
        monkeypatch.setattr(A, "kernel_write", write)


def first_irq_target(root, pred=lambda t: True):
    snap = discover(str(root))
    return next(t for t in targets(plan(snap, default_config())) if t.scope == "irq" and pred(t))


@pytest.mark.parametrize("code", [errno.EIO, errno.EPERM])
def test_managed_irq_is_marked_once(code, fixture_copy, monkeypatch):
    root = fixture_copy("intel-2s-i40e-ice")
    t = first_irq_target(root)
    faults = Faults(monkeypatch, f"/proc/irq/{t.irq}/", code)
    rc, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert rc == 0 and f"irq {t.irq}" in out and "kernel-managed" in out
    state = json.loads((root / "var/lib/irqd/state.json").read_text())
    assert t.irq in state["managed"]
    assert t.rel not in state["originals"]
    faults.calls.clear()
    rc, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert rc == 0 and f"irq {t.irq}" not in out          # said once, not on every run
    assert not any(f"/proc/irq/{t.irq}/" in p for p, _ in faults.calls)
    rc, _, _ = irqd("plan", "--root", str(root), "--format", "json")
    rc, out, _ = irqd("restore", "--root", str(root))
    assert rc == 0
    assert same_tree(FIXTURES / "intel-2s-i40e-ice", root) == []


def test_enospc_moves_to_next_best_cpu_on_the_node(fixture_copy, monkeypatch):
    root = fixture_copy("intel-2s-i40e-ice")
    snap = discover(str(FIXTURES / "intel-2s-i40e-ice"))
    t = first_irq_target(root, lambda t: len(t.value) == 1 and len(t.fallback_pool) > 1)
    (cpu,) = t.value
    fallback = enospc_order(snap, t.fallback_pool, cpu)
    Faults(monkeypatch, f"/proc/irq/{t.irq}/", errno.ENOSPC, when=lambda d: parse_mask(d) == {cpu})
    rc, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert rc == 0 and "fallback" in out
    got = parse_mask((root / t.rel).read_text())
    assert got == {fallback[0]} and snap.cpu_node[fallback[0]] == snap.cpu_node[cpu]
    assert irqd("restore", "--root", str(root))[0] == 0
    assert same_tree(FIXTURES / "intel-2s-i40e-ice", root) == []


def test_einval_is_reported_and_others_written(fixture_copy, monkeypatch):
    """A CPU that went offline between plan and write: the kernel answers EINVAL."""
    root = fixture_copy("intel-2s-mlx5")
    t = first_irq_target(root, lambda t: len(t.value) == 1)
    (cpu,) = t.value
    Faults(monkeypatch, "/proc/irq/", errno.EINVAL, when=lambda d: cpu in parse_mask(d))
    rc, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert rc == 1 and "EINVAL" in out and "offline CPU" in out
    assert "failed" in out.splitlines()[-1]
    monkeypatch.undo()
    assert irqd("restore", "--root", str(root))[0] == 0
    assert same_tree(FIXTURES / "intel-2s-mlx5", root) == []


def test_vanished_device_is_skipped(fixture_copy, monkeypatch):
    root = fixture_copy("intel-2s-mlx5")
    dev = os.path.realpath(root / "sys/class/net/enp175s0f0")
    real = A.kernel_write
    state = {"gone": False}

    def write(path, data):
        if not state["gone"]:
            os.system(f"rm -rf '{dev}'")  # the device goes away after the plan, before the writes
            state["gone"] = True
        real(path, data)
    monkeypatch.setattr(A, "kernel_write", write)
    rc, out, err = irqd("apply", "--root", str(root), "--yes")
    assert rc == 0, err
    assert "gone" in out and "enp175s0f0" in out
    rc, out, _ = irqd("restore", "--root", str(root))
    assert rc == 0


def test_eacces_rolls_back_everything(fixture_copy, monkeypatch):
    root = fixture_copy("dev-virtio-2cpu")
    Faults(monkeypatch, "rps_flow_cnt", errno.EACCES)   # late in the run: IRQs are already written
    rc, _, err = irqd("apply", "--root", str(root), "--yes")
    assert rc == 4 and "run irqd as root" in err and "CAP_NET_ADMIN" in err
    assert len(err.strip().splitlines()) == 1
    assert same_tree(FIXTURES / "dev-virtio-2cpu", root) == []
    state = json.loads((root / "var/lib/irqd/state.json").read_text())
    assert state["originals"] == {}


def test_enoent_at_write_is_gone(fixture_copy, monkeypatch):
    root = fixture_copy("dev-virtio-2cpu")
    Faults(monkeypatch, "/proc/irq/38/", errno.ENOENT)
    rc, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert rc == 0 and "gone" in out
    monkeypatch.undo()
    assert irqd("restore", "--root", str(root))[0] == 0
    assert same_tree(FIXTURES / "dev-virtio-2cpu", root) == []


def test_damaged_state_file(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    assert irqd("apply", "--root", str(root), "--yes")[0] == 0
    state = root / "var/lib/irqd/state.json"
    state.write_text(state.read_text()[:40])          # truncated from outside
    rc, _, err = irqd("restore", "--root", str(root))
    assert rc == 0 and "backup" in err               # the .bak still holds every original
    assert same_tree(FIXTURES / "dev-virtio-2cpu", root) == []
    assert irqd("apply", "--root", str(root), "--yes")[0] == 0
    state.write_text("{trunc")
    os.unlink(str(state) + ".bak")
    rc, _, err = irqd("apply", "--root", str(root), "--yes")
    assert rc == 2 and str(state) in err and "damaged" in err and "Traceback" not in err
    rc, _, err = irqd("restore", "--root", str(root))
    assert rc == 2 and str(state) in err


def test_interrupted_state_save_keeps_the_old_state(fixture_copy, monkeypatch):
    root = fixture_copy("dev-virtio-2cpu")
    assert irqd("apply", "--root", str(root), "--yes", "--only", "irq")[0] == 0
    before = (root / "var/lib/irqd/state.json").read_text()

    def crash(*a):
        raise OSError(errno.EIO, "disk gone")
    monkeypatch.setattr(os, "rename", crash)
    rc, _, err = irqd("apply", "--root", str(root), "--yes")
    assert rc == 2 and "cannot save state" in err
    monkeypatch.undo()
    assert (root / "var/lib/irqd/state.json").read_text() == before
    assert irqd("restore", "--root", str(root))[0] == 0
    # the rps files were never written: the original is saved before each first write
    assert same_tree(FIXTURES / "dev-virtio-2cpu", root) == []


def test_refuses_while_irqbalance_runs(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    # a zombie irqbalance (exited, not yet reaped) balances nothing and does not count
    (root / "proc/4241").mkdir()
    (root / "proc/4241/stat").write_text("4241 (irqbalance) Z 1 4241 4241 0 -1 4227332 0 0 0 0 0 0 0 0 20 0 1 0\n")
    (root / "proc/4242").mkdir()
    (root / "proc/4242/stat").write_text("4242 (irqbalance) S 1 4242 4242 0 -1 4194560 146 0 0 0 3 7 0 0 20 0 1 0\n")
    rc, _, err = irqd("apply", "--root", str(root), "--yes")
    assert rc == 3 and "irqbalance is running (pid 4242)" in err   # 4241, the zombie, is not named
    assert not (root / "var").exists()
    rc, _, _ = irqd("apply", "--root", str(root), "--yes", "--only", "rps,xps")
    assert rc == 0, "irqbalance rewrites IRQ affinities only; RPS/XPS writes do not conflict with it"
    rc, _, _ = irqd("apply", "--root", str(root), "--yes", "--force")
    assert rc == 0


def test_lock_stops_a_second_writer(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    with A.Lock(str(root / "var/lib/irqd/state.json")):
        rc, _, err = irqd("apply", "--root", str(root), "--yes")
    assert rc == 3 and "another irqd" in err


def test_paths_outside_the_allowed_trees_are_refused(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    for rel in ("etc/passwd", "proc/irq/38/../../../etc/x", "sys/class/net/eth0/mtu",
                "proc/irq/default_smp_affinity"):
        with pytest.raises(A.ApplyRefused):
            A.check_allowed(str(root), rel)
    q = root / "sys/class/net/eth0/queues/rx-0/rps_cpus"
    real = os.path.realpath(q)
    os.unlink(real)
    os.symlink("/etc/hostname", real)   # a link that leaves the root
    with pytest.raises(A.ApplyRefused):
        A.check_allowed(str(root), "sys/class/net/eth0/queues/rx-0/rps_cpus")
    host = Path("/etc/hostname").read_text()
    rc, out, _ = irqd("apply", "--root", str(root), "--yes")
    assert rc == 0 and "eth0 rx-0 rps_cpus" not in out   # discovery could not read it, so it is left alone
    assert Path("/etc/hostname").read_text() == host

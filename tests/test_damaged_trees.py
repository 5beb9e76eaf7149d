"""Captures from the field are partial and odd: discovery, planning and rendering never crash on them."""
import os
import random

import pytest

from irqd.cli import main
from irqd.cli.plantext import render_json as plan_json
from irqd.cli.plantext import render_table as plan_table
from irqd.cli.show import render_json, render_table
from irqd.config import default_config
from irqd.discover import DiscoveryError, discover
from irqd.planner import plan

GARBAGE = ["", "\n", "zz\n", "-1\n", "ffffffffffffffffffff,1\n", "0-\n", "\x00\x01", "4294967296\n", "7-2\n"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", ["intel-2s-mlx5", "aws-arm64-ena", "old-kernel-centos7", "desktop-r8169"])
def test_damaged_capture_never_crashes(name, seed, fixture_copy, capsys):
    root = fixture_copy(name)
    rng = random.Random(f"{name}-{seed}")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                   if not f.endswith(".toml") and not os.path.islink(os.path.join(d, f)))
    files = [f for f in files if not f.endswith("proc/interrupts")]
    for path in rng.sample(files, len(files) // 5):
        if rng.random() < 0.5:
            os.unlink(path)
        else:
            with open(path, "w") as f:
                f.write(rng.choice(GARBAGE))
    snap = discover(str(root))
    for render in (render_json, render_table):
        render(snap)
    p = plan(snap, default_config())
    plan_json(p)
    plan_table(p, snap)
    assert all(i.after is None or i.after <= p.eligible for i in p.irqs)
    for argv in (["show", "--root", str(root)], ["plan", "--root", str(root), "--format", "diff"],
                 ["apply", "--root", str(root), "--yes"], ["restore", "--root", str(root)]):
        assert main(argv) in (0, 1), argv
    capsys.readouterr()


def test_interrupts_garbage_is_one_clear_error(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    (root / "proc/interrupts").write_text("           CPU0       CPU1\n  24:   x   y  IO-APIC\n")
    with pytest.raises(DiscoveryError, match=r"proc/interrupts: line 2"):
        discover(str(root))

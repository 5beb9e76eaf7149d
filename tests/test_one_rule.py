"""Each rule lives once, in planner/candidates.py: change it there and the plan and the audit both follow.

Two ways to change a rule: through the config (a [[device]] exclude_cpus that
narrows where a NIC may go) and in the code itself (monkeypatching the one
function that says whether a NIC wants RPS). Either way the planner places
by it and the audit judges by it; a second copy in the audit would not move.
"""

from __future__ import annotations

import shutil

from irqd.cli import main
from irqd.config import default_config, parse_config
from irqd.discover import discover
from irqd.planner import plan
from irqd.planner.audit import audit
from irqd.planner.candidates import Candidates
from tests.support.paths import FIXTURES

TREE = "intel-2s-mlx5"
NIC = "enp175s0f0"          # igb on node 1 (CPUs 12-23,36-47)
NODE1 = frozenset(range(12, 24)) | frozenset(range(36, 48))
CONFIG = f'[[device]]\nmatch = "{NIC}"\nexclude_cpus = "12-23,36-47"\n'


def test_config_rule_moves_plan_and_audit_together(tmp_path, capsys):
    config = parse_config(CONFIG)
    snap = discover(str(FIXTURES / TREE))
    nic = snap.nic(NIC)
    assert nic is not None and nic.numa_node == 1
    p = plan(snap, config)
    placed = [i for i in p.irqs if i.nic == NIC and i.after is not None]
    assert placed and all(not (i.after & NODE1) for i in placed), "the plan honours exclude_cpus"

    root = tmp_path / TREE
    shutil.copytree(FIXTURES / TREE, root, symlinks=True)
    cfg = tmp_path / "irqd.toml"
    cfg.write_text(CONFIG)
    assert main(["apply", "--root", str(root), "--config", str(cfg), "--yes"]) == 0
    capsys.readouterr()
    # judged by the same rule, what the plan did is right ...
    assert main(["audit", "--root", str(root), "--config", str(cfg)]) == 0
    capsys.readouterr()
    # ... and judged by the default rule, the same placement is off the NIC's node
    applied = discover(str(root))
    findings = audit(applied, default_config(), plan(applied, default_config())).counted("numa")
    assert findings and all(NIC in f.subject for f in findings)


def test_code_rule_moves_plan_and_audit_together(monkeypatch):
    mlx5 = "enp59s0f0np0"   # 48 queues on node 0's 12 cores: RPS is redundant by default
    snap = discover(str(FIXTURES / TREE))
    config = default_config()

    def rps_planned(p):
        return [q for q in p.queues if q.dev == mlx5 and q.attr == "rps_cpus" and q.after]

    def rps_findings(p):
        return [f for f in audit(snap, config, p).counted("rps") if f.subject.startswith(f"{mlx5} rx-")]

    before = plan(snap, config)
    assert not rps_planned(before) and not rps_findings(before)

    real = Candidates.rps_wanted

    def always_for_mlx5(self, nic, where):
        if nic.name == mlx5:
            return True, "test: RPS wanted on every rx queue"
        return real(self, nic, where)

    monkeypatch.setattr(Candidates, "rps_wanted", always_for_mlx5)
    after = plan(snap, config)
    assert len(rps_planned(after)) == 48
    assert len(rps_findings(after)) == 48   # the captured maps are empty: the audit now wants them

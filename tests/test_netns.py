"""apply and restore against the real kernel, inside a private network namespace.

`unshare -n -m` with a fresh sysfs mount shows only the namespace's devices,
so the veth pair made there is all irqd can write. `--only rps,xps` keeps it
away from the host's IRQs; the global rps_sock_flow_entries does not exist in
a child namespace, and `--state` keeps the state file in the test's tmp dir.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from irqd.cpuset import parse_mask

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="needs root, unshare and ip (iproute2) to make a private network namespace")


def in_netns(script: str, tmp_path) -> subprocess.CompletedProcess:
    body = textwrap.dedent(f"""\
        set -e
        mount -t sysfs sysfs /sys
        ip link add veth0 numtxqueues 8 numrxqueues 8 type veth peer name veth1 numtxqueues 8 numrxqueues 8
        ip link set veth0 up && ip link set veth1 up
        irqd() {{ "{sys.executable}" -m irqd "$@"; }}
        """) + textwrap.dedent(script)
    return subprocess.run(["unshare", "-n", "-m", "bash", "-c", body], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)


def dump_queues(dev):
    return (f'for f in /sys/class/net/{dev}/queues/*/rps_cpus /sys/class/net/{dev}/queues/*/rps_flow_cnt '
            f'/sys/class/net/{dev}/queues/*/xps_cpus; do echo "$f=$(cat $f)"; done')


def parse_dump(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("/sys/class/net/") and "=" in line:
            path, value = line.split("=", 1)
            out[path] = value
    return out


@needs_netns
def test_apply_and_restore_on_real_veth_queues(tmp_path):
    cfg = tmp_path / "irqd.toml"
    cfg.write_text('rps_virtual = true\nxps = "on"\n')
    state = tmp_path / "state.json"
    marker = "=====AFTER-APPLY====="
    done = "=====AFTER-RESTORE====="
    script = f"""
        {dump_queues("veth0")}
        irqd plan --root / --config {cfg} --format json > {tmp_path}/plan.json
        irqd apply --root / --config {cfg} --only rps,xps --state {state} --yes > {tmp_path}/apply.out
        echo {marker}
        {dump_queues("veth0")}
        irqd apply --root / --config {cfg} --only rps,xps --state {state} --yes > {tmp_path}/apply2.out
        irqd restore --root / --state {state} > {tmp_path}/restore.out
        echo {done}
        {dump_queues("veth0")}
    """
    out = in_netns(script, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    before_text, rest = out.stdout.split(marker)
    after_text, restored_text = rest.split(done)
    before, after, restored = parse_dump(before_text), parse_dump(after_text), parse_dump(restored_text)
    plan = json.loads((tmp_path / "plan.json").read_text())
    planned = {f"/sys/class/net/{q['dev']}/queues/{q['queue']}/{q['attr']}": q["after"]
               for q in plan["queues"] if q["dev"] == "veth0" and q["after"] is not None}
    assert len(planned) == 8 + 8 + 8, planned    # rps_cpus, rps_flow_cnt for 8 rx, xps_cpus for 8 tx
    for path, want in planned.items():
        got = after[path]
        if path.endswith("rps_flow_cnt"):
            assert int(got) == want, path
        else:
            assert sorted(parse_mask(got)) == want, path
    assert any(parse_mask(v) for p, v in after.items() if p.endswith("rps_cpus")), "RPS was not turned on"
    second = (tmp_path / "apply2.out").read_text()
    assert "nothing to change" in second or "apply: 0 written" in second, second
    assert restored == before, "restore must bring back every original value"
    assert not state.exists()
    print(f"netns veth0: {len(planned)} queue files written and read back through the kernel; restore exact")


@needs_netns
def test_host_irqs_are_not_touched_by_the_netns_test(tmp_path):
    """The guard the test above relies on: --only rps,xps writes no /proc/irq file."""
    cfg = tmp_path / "irqd.toml"
    cfg.write_text('rps_virtual = true\nxps = "on"\n')
    out = in_netns(f"irqd apply --root / --config {cfg} --only rps,xps --state {tmp_path}/s.json --dry-run", tmp_path)
    assert out.returncode == 0, out.stderr
    out2 = in_netns(f"irqd apply --root / --config {cfg} --only rps,xps --state {tmp_path}/s.json --yes", tmp_path)
    assert out2.returncode == 0, out2.stderr
    assert "irq " not in out2.stdout and "/proc/irq" not in out2.stdout

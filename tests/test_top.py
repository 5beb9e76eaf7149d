"""irqd top: one frame on fixtures (--once), rates from two samples, and the curses view in tmux."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from irqd.cli.top import Sample, build_frame, main, render_lines
from irqd.discover import discover
from tests.support.paths import FIXTURES, REPO

# `irqd top` once the lead wires add_parser() into irqd.cli; the module runs alone until then
TOP = [sys.executable, "-m", "irqd", "top"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def top(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*TOP, *args], check=False, capture_output=True, text=True, env=ENV, timeout=60)


def irq_totals(root) -> dict[int, int]:
    """Per-CPU sums of the numbered rows of proc/interrupts, read here without irqd's parser."""
    lines = (root / "proc" / "interrupts").read_text().splitlines()
    cpus = [int(w[3:]) for w in lines[0].split()]
    out = dict.fromkeys(cpus, 0)
    for line in lines[1:]:
        label, _, rest = line.partition(":")
        if not label.strip().isdigit():
            continue
        for cpu, word in zip(cpus, rest.split()):
            if not word.isdigit():
                break
            out[cpu] += int(word)
    return out


def cpu_table(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["CPU", "node"]) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        words = line.split()
        # the isolated flag "I" is the one optional column: normalise it to "I" / "-"
        if words[2] != "I":
            words.insert(2, "-")
        rows.append(words)
    return rows


def test_once_on_a_fixture_lists_every_cpu_busiest_first():
    root = FIXTURES / "intel-2s-mlx5"
    r = top("--root", str(root), "--once")
    assert r.returncode == 0, r.stderr
    assert "totals since boot (one sample: no rates)" in r.stdout
    rows = cpu_table(r.stdout)
    snap = discover(str(root))
    assert sorted(int(row[0]) for row in rows) == sorted(snap.online)
    totals = irq_totals(root)
    shown = [int(row[0]) for row in rows]
    assert shown == sorted(totals, key=lambda c: (-totals[c], shown.index(c))), "busiest first"
    # exact where the number is small enough to print in full
    for row in rows:
        if row[2].isdigit():
            assert int(row[2]) == totals[int(row[0])]
    # every queue IRQ of every NIC in the queue table
    queue_lines = r.stdout.split("\nNIC ", 1)[1].splitlines()[1:]
    irqs = {int(line.split()[-3]) for line in queue_lines if line.strip() and not line.startswith("note:")}
    assert irqs == {irq for nic in snap.nics for irq, _ in nic.queue_irqs}
    assert "proc/net/softnet_stat: missing (no drops column)" in r.stdout


def test_isolated_cpus_are_flagged():
    r = top("--root", str(FIXTURES / "rt-isolcpus"), "--once")
    assert r.returncode == 0, r.stderr
    snap = discover(str(FIXTURES / "rt-isolcpus"))
    flagged = {int(row[0]) for row in cpu_table(r.stdout) if row[2] == "I"}
    assert flagged == set(snap.isolation.cpus & snap.online)
    assert flagged and flagged != set(snap.online)


def test_drops_come_from_softnet_stat(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    (root / "proc" / "net").mkdir(exist_ok=True)
    zeros = " ".join(["00000000"] * 9)
    (root / "proc" / "net" / "softnet_stat").write_text(
        f"00000100 0000002a 00000000 {zeros} 00000000 00000000 00000000\n"
        f"00000100 00000007 00000000 {zeros} 00000001 00000000 00000000\n")
    r = top("--root", str(root), "--once")
    assert r.returncode == 0, r.stderr
    drops = {int(row[0]): row[6] for row in cpu_table(r.stdout)}
    assert drops == {0: "42", 1: "7"}


def sample(snap, when, irqs, softirqs=None) -> Sample:
    cpus = tuple(sorted(snap.online))
    return Sample(when, cpus, {irq: tuple(counts.get(c, 0) for c in cpus) for irq, counts in irqs.items()},
                  softirqs, None, ())


def test_rates_from_two_samples():
    snap = discover(str(FIXTURES / "intel-2s-mlx5"))
    nic = next(n for n in snap.nics if n.queue_irqs)
    irq = nic.queue_irqs[0][0]
    base = {i.irq: dict(i.counts) for i in snap.irqs.values()}
    later = {k: dict(v) for k, v in base.items()}
    later[irq][5] = later[irq].get(5, 0) + 3000       # 1,500/s on CPU 5 over 2 s
    soft = {"NET_RX": dict.fromkeys(snap.online, 0), "NET_TX": dict.fromkeys(snap.online, 0)}
    soft2 = {"NET_RX": {**soft["NET_RX"], 7: 900}, "NET_TX": soft["NET_TX"]}
    frame = build_frame(snap, sample(snap, 12.0, later, soft2), sample(snap, 10.0, base, soft))
    assert frame.rates and frame.interval == 2.0
    assert frame.cpus[0].cpu == 5 and frame.cpus[0].irqs == 1500
    assert next(r for r in frame.cpus if r.cpu == 7).net_rx == 450
    assert all(r.irqs == 0 for r in frame.cpus[1:])
    q = frame.queues[0]
    assert (q.irq, q.irqs, q.cpus) == (irq, 1500, "5")
    assert frame.cpus[0].queues.startswith(f"{nic.name}:")
    text = "\n".join(render_lines(frame, "irqd top"))
    assert "rates over 2.0 s" in text and "irq/s" in text
    # a counter that went backwards (IRQ freed and requested again) is not a negative rate
    frame = build_frame(snap, sample(snap, 12.0, base), sample(snap, 10.0, later))
    assert min(r.irqs for r in frame.cpus) == 0
    # an IRQ requested between the samples counts all its interrupts as new
    extra = max(base) + 1
    frame = build_frame(snap, sample(snap, 11.0, {**base, extra: {3: 40}}), sample(snap, 10.0, base))
    assert next(r for r in frame.cpus if r.cpu == 3).irqs == 40


def test_render_fits_the_screen():
    snap = discover(str(FIXTURES / "intel-2s-mlx5"))
    frame = build_frame(snap, sample(snap, 1.0, {i.irq: dict(i.counts) for i in snap.irqs.values()}))
    lines = render_lines(frame, "irqd top", height=20, width=60)
    assert len(lines) <= 20 and max(map(len, lines)) <= 60
    assert any(line.lstrip().startswith("NIC") for line in lines), "both tables get room"


def test_live_once_prints_rates():
    if not os.path.exists("/proc/interrupts"):
        pytest.skip("no /proc here")
    r = top("--once", "--interval", "0.2")
    assert r.returncode == 0, r.stderr
    assert "rates over 0.2 s" in r.stdout and "irq/s" in r.stdout


def test_errors_are_messages(tmp_path, capsys):
    assert main(["--root", str(tmp_path / "nope"), "--once"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["--root", str(FIXTURES / "intel-2s-mlx5"), "--interval", "0"]) == 2
    r = top("--root", str(FIXTURES / "intel-2s-mlx5"))   # stdout is a pipe: curses cannot run
    assert r.returncode == 2 and "not a terminal; use --once" in r.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (Debian: apt-get install tmux)")
def test_curses_view_in_tmux_quits_on_q():
    session = f"irqd-top-{uuid.uuid4().hex[:8]}"
    root = FIXTURES / "rt-isolcpus"
    cmd = " ".join(shlex.quote(a) for a in [*TOP, "--root", str(root)])
    shell = f"env PYTHONPATH={shlex.quote(str(REPO))} {cmd}; echo EXITED $?; sleep 60"
    subprocess.run(["tmux", "-L", session, "new-session", "-d", "-s", session, "-x", "150", "-y", "40", shell],
                   check=True, env={**os.environ, "TERM": "xterm-256color"})

    def screen() -> str:
        return subprocess.run(["tmux", "-L", session, "capture-pane", "-p", "-t", session],
                              check=False, capture_output=True, text=True).stdout

    def wait_for(pattern: str) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; screen:\n{screen()}")

    try:
        text = wait_for(r"CPU\s+node")
        assert "irqd top --root" in text and "64 CPUs, 60 isolated (I)" in text
        rows = [line.split() for line in text.splitlines() if re.match(r"\s+\d+\s+\d+\s", line)]
        assert len(rows) >= 10, text
        assert {row[0] for row in rows} >= {"0", "1", "32", "33"}, "the four housekeeping CPUs carry the load"
        assert any(row[2] == "I" for row in rows)
        assert "EXITED" not in text
        subprocess.run(["tmux", "-L", session, "send-keys", "-t", session, "q"], check=True)
        text = wait_for(r"EXITED \d+")
        assert "EXITED 0" in text
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], check=False, capture_output=True)

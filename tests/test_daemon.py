"""The daemon loop on fixture copies: calm under steady load, fixes real imbalance, respects people."""
import os
import signal
import subprocess
import sys
import time

from irqd.config import parse_config
from tests.support.checks import same_tree
from tests.support.daemonkit import Clock, affinity_cpu, log_text, make_daemon, steady_step
from tests.support.paths import FIXTURES


def historical_rates(d):
    up = d.snap.uptime or 1.0
    return {i: irq.total / up for i, irq in d.snap.irqs.items() if irq.total}


def test_steady_load_moves_nothing_for_an_hour(fixture_copy):
    root = fixture_copy("intel-2s-mlx5")
    d = make_daemon(root, clock=Clock())
    d.replan("start", keep=False)
    d.sample()
    rates = {i: 5000.0 for i, irq in d.snap.irqs.items() if irq.nic and irq.queue is not None}
    before = {i: affinity_cpu(root, i) for i in rates}
    for _ in range(360):                       # an hour at the default 10 s interval
        steady_step(root, d, rates, 10)
    assert d.moves_total == 0
    assert {i: affinity_cpu(root, i) for i in rates} == before
    print(f"steady load: {len(rates)} busy IRQs, 360 samples, {d.moves_total} moves")


def test_persistent_imbalance_is_fixed_with_few_moves_then_calm(fixture_copy):
    root = fixture_copy("intel-2s-mlx5")
    cfg = parse_config("[daemon]\nsamples = 3\nmax_moves_per_cycle = 2\nmin_move_interval = 300\n")
    d = make_daemon(root, config=cfg, clock=Clock())
    d.replan("start", keep=False)
    d.sample()
    # two device IRQs irqd placed alone on CPUs get hot; one is piled onto the other's CPU by someone? No:
    # make the IRQs that share one CPU hot, so moving one of them fixes it
    placed = {}
    for p in d.plan.irqs:
        if p.after and len(p.after) == 1 and p.cls in ("net-queue",):
            placed.setdefault(next(iter(p.after)), []).append(p.irq)
    cpu, pair = next((c, irqs) for c, irqs in sorted(placed.items()) if len(irqs) >= 2)
    rates = {pair[0]: 40000.0, pair[1]: 40000.0}
    rates.update({i: 200.0 for irqs in placed.values() for i in irqs if i not in rates})
    for _ in range(2):
        steady_step(root, d, rates, 10)
    assert d.moves_total == 0, "one or two imbalanced samples must not move anything"
    steady_step(root, d, rates, 10)
    assert 1 <= d.moves_total <= 2
    moved = [m["irq"] for m in d.last_moves]
    assert set(moved) & set(pair)
    assert affinity_cpu(root, moved[0]) != cpu
    first = d.moves_total
    for _ in range(360):
        steady_step(root, d, rates, 10)
    assert d.moves_total == first, "once fixed, steady load moves nothing more"
    print(f"hot pair on CPU {cpu}: {first} move(s), then 0 in an hour")


def test_unfixable_imbalance_moves_nothing(fixture_copy):
    root = fixture_copy("intel-2s-mlx5")
    d = make_daemon(root, clock=Clock())
    d.replan("start", keep=False)
    d.sample()
    lone = next(p.irq for p in d.plan.irqs if p.after and len(p.after) == 1 and p.cls == "net-queue")
    rates = {lone: 100000.0}                 # one IRQ is the whole load: no move can help
    for _ in range(30):
        steady_step(root, d, rates, 10)
    assert d.moves_total == 0
    assert log_text(d).count("no single IRQ move helps") == 1   # said once, not every cycle


def test_someone_elses_change_is_left_alone(fixture_copy):
    root = fixture_copy("intel-2s-mlx5")
    d = make_daemon(root, clock=Clock())
    d.replan("start", keep=False)
    # a node-1 IRQ that someone moves to CPU 0 (node 0): not where irqd would keep it, so irqd
    # would move it back, and must not
    target = next(p for p in d.plan.irqs if p.changes and p.after and len(p.after) == 1 and p.node == 1)
    path = root / f"proc/irq/{target.irq}/smp_affinity"
    other = 0
    path.write_text(f"{1 << other:012x}"[-12:].lstrip("0").rjust(4, "0") + "\n")
    theirs = path.read_text()
    d.replan("event")
    assert path.read_text() == theirs
    assert f"proc/irq/{target.irq}/smp_affinity" in d.hands_off
    d.replan("event")
    assert log_text(d).count("changed by someone else") == 1


def test_a_new_irq_is_placed_at_the_next_sample(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    d = make_daemon(root, clock=Clock())
    d.replan("start", keep=False)
    d.sample()
    text = (root / "proc/interrupts").read_text().splitlines()
    text.insert(len([t for t in text if t.split(":")[0].strip().isdigit()]) + 1,
                " 50:         10          0  PCI-MSIX-0000:00:05.0   2-edge      virtio4-extra")
    (root / "proc/interrupts").write_text("\n".join(text) + "\n")
    os.makedirs(root / "proc/irq/50")
    for name, value in (("smp_affinity", "3\n"), ("smp_affinity_list", "0-1\n"), ("node", "0\n"),
                        ("affinity_hint", "0\n")):
        (root / f"proc/irq/50/{name}").write_text(value)
    d.clock.t += 10
    d.sample()
    assert d.last_event["kinds"] == ["irqs-or-cpus-changed"]
    assert (root / "proc/irq/50/smp_affinity").read_text() in ("1\n", "2\n")


def test_sighup_bad_config_keeps_running_and_sigterm_restores(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    cfg = tmp_path / "irqd.toml"
    cfg.write_text("[daemon]\nrestore_on_exit = true\n")
    sock = tmp_path / "irqd.sock"
    proc = subprocess.Popen([sys.executable, "-m", "irqd", "run", "--root", str(root), "--no-netlink",
                             "--config", str(cfg), "--socket", str(sock), "--interval", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        assert sock.exists(), proc.stderr.read() if proc.poll() is not None else "no status socket"
        assert (root / "proc/irq/38/smp_affinity").read_text() != "3\n"   # applied
        out = subprocess.run([sys.executable, "-m", "irqd", "status", "--socket", str(sock), "--format", "json"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and '"replans": 1' in out.stdout
        cfg.write_text('policy = "bogus"\n')
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None, "a bad config on SIGHUP must not stop the daemon"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "invalid configuration, keeping the old one" in err and "t.toml" not in err
    assert "restore_on_exit: put back" in err
    assert same_tree(FIXTURES / "dev-virtio-2cpu", root) == []


def test_metrics_textfile(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    prom = tmp_path / "textfile" / "irqd.prom"
    d = make_daemon(root, config=parse_config(f'[daemon]\nmetrics_path = "{prom}"\n'), clock=Clock())
    d.replan("start", keep=False)
    d.sample()
    steady_step(root, d, {38: 1000.0, 39: 500.0}, 10)
    d._write_metrics()
    text = prom.read_text()
    assert "# TYPE irqd_cpu_irq_rate gauge" in text
    rates = {t.split("}")[0]: float(t.split()[-1]) for t in text.splitlines() if t.startswith("irqd_cpu_irq_rate{")}
    assert sum(rates.values()) == 1500.0
    assert 'irqd_softirqs_total{cpu="0",type="NET_RX"}' in text
    assert "irqd_replans_total 1" in text
    assert not list(prom.parent.glob("*.tmp"))


def test_log_says_each_problem_once_then_counts():
    import io

    from irqd.daemon.log import Log
    clock = Clock(0.0)
    log = Log(stream=io.StringIO(), journald=True, repeat_after=600, clock=clock)
    for _ in range(50):
        log.err("eth0 rx-0 rps_cpus: EINVAL", key="x")
        clock.t += 1
    clock.t += 600
    log.err("eth0 rx-0 rps_cpus: EINVAL", key="x")
    lines = log.stream.getvalue().splitlines()
    assert lines[0] == "<3>eth0 rx-0 rps_cpus: EINVAL"
    assert len(lines) == 2 and "repeated 50 times" in lines[1]
    log.info("plain", key=None)
    assert log.stream.getvalue().splitlines()[-1] == "<6>plain"


def test_a_failing_write_does_not_stop_the_daemon(fixture_copy, monkeypatch):
    import errno

    import irqd.apply.writer as A
    root = fixture_copy("dev-virtio-2cpu")
    d = make_daemon(root, clock=Clock())

    def denied(path, data):
        raise OSError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(A, "kernel_write", denied)
    d.replan("start", keep=False)
    d.replan("event")
    assert d.errors_total == 2
    assert log_text(d).count("run irqd as root") == 1
    monkeypatch.undo()
    d.replan("event")
    assert d.plan is not None and d.replans == 1


def test_a_burst_of_events_is_one_replan(fixture_copy):
    import threading
    import time as _time

    from irqd.daemon.netlink import Event
    root = fixture_copy("dev-virtio-2cpu")
    d = make_daemon(root, clock=_time.monotonic)
    d.replan("start", keep=False)
    before = d.replans

    def burst():
        for n in range(9):
            d.events.put(Event("newlink", f"veth{n}", n, "", _time.monotonic()))
            _time.sleep(0.004)            # ten events within 50 ms
    first = Event("newlink", "veth", 99, "", _time.monotonic())
    t = threading.Thread(target=burst)
    t.start()
    d.handle_events(first)
    t.join()
    assert d.replans == before + 1
    assert d.last_event["count"] == 10 and d.events.empty()

"""The unit file and the sd_notify protocol, checked against a real datagram socket."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "irqd.service"


def directives(path):
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_has_what_the_daemon_needs_and_no_more():
    d = directives(UNIT)
    assert d["Type"] == ["notify"]
    assert "irqbalance.service" in d["Conflicts"][0]
    assert any("restore --if-configured" in v for v in d["ExecStopPost"])
    assert d["CapabilityBoundingSet"] == ["CAP_NET_ADMIN"]
    assert d["RestrictAddressFamilies"] == ["AF_UNIX AF_NETLINK"]
    assert d["ProtectSystem"] == ["strict"] and d["NoNewPrivileges"] == ["yes"]
    assert "WatchdogSec" in d


def exposure(unit):
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                         capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", out.stdout + out.stderr)
    return float(m.group(1)) if m else None


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_exposure_is_low():
    score = exposure(UNIT)
    assert score is not None and score < 3.0, f"exposure {score}"
    irqbalance = Path("/lib/systemd/system/irqbalance.service")
    if irqbalance.exists():
        theirs = exposure(irqbalance)
        assert score < theirs
        print(f"exposure: irqd {score}, irqbalance {theirs}")


def test_sd_notify_ready_status_watchdog(fixture_copy, tmp_path):
    root = fixture_copy("dev-virtio-2cpu")
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000", "JOURNAL_STREAM": "8:1234"}
    proc = subprocess.Popen([sys.executable, "-m", "irqd", "run", "--root", str(root), "--no-netlink",
                             "--interval", "1", "--socket", str(tmp_path / "s")], env=env,
                            stderr=subprocess.PIPE, text=True)
    got = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (any("READY=1" in g for g in got)
                                                   and sum("WATCHDOG=1" in g for g in got) >= 3):
            got.append(sock.recv(4096).decode())
        proc.terminate()
        proc.wait(timeout=10)
        sock.settimeout(0.5)
        try:
            while True:
                got.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    ready = next(g for g in got if "READY=1" in g)
    assert "STATUS=" in ready
    assert sum("WATCHDOG=1" in g for g in got) >= 3    # every 100 ms: half of WATCHDOG_USEC
    assert any("STOPPING=1" in g for g in got)
    err = proc.stderr.read()
    assert err.startswith("<6>"), "under journald every line carries a priority prefix"

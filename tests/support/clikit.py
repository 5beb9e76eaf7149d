"""Drive irqd as a user does: ``python -m irqd ...`` in a subprocess, with a time limit.

The hardening tests (issue 11) go through the command line so they keep
working whatever the modules behind it are called.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
ENV.pop("JOURNAL_STREAM", None)   # plain log lines, no <N> prefixes

# every exit status the README documents: 0 done, 1 failures/findings, 2 bad input,
# 3 refused, 4 permission denied
DOCUMENTED_EXITS = {0, 1, 2, 3, 4}


def irqd_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "irqd", *map(str, args)]


def irqd(*args, timeout: float = 20, stdin=subprocess.DEVNULL, prefix: tuple[str, ...] = (),
         **kw) -> subprocess.CompletedProcess:
    """Run one irqd command; a hang raises subprocess.TimeoutExpired (the child is killed)."""
    return subprocess.run([*prefix, *irqd_argv(*args)], check=False, capture_output=True, text=True, timeout=timeout,
                          stdin=stdin, env=ENV, cwd=REPO, **kw)


def assert_clean(out: subprocess.CompletedProcess, what: str = "") -> None:
    """No traceback, and an exit status the README documents."""
    assert "Traceback" not in out.stderr, f"{what}: traceback\n{out.stderr[-3000:]}"
    assert out.returncode in DOCUMENTED_EXITS, f"{what}: exit {out.returncode}\n{out.stderr[-2000:]}"


def snapshot_tree(root: Path, skip=("var", "run", "irqd-fixture.toml")) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target under ``root``, except irqd's own state dirs."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
            filenames = [f for f in filenames if f not in skip]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(path):
                out[rel] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    out[rel] = f.read()
    return out


def tree_diff(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


class Daemon:
    """``irqd run`` on a tree in the background: its socket, state and log in ``work``."""

    def __init__(self, root: Path, work: Path, *args: str, config: str | None = None, netlink: bool = False,
                 prefix: tuple[str, ...] = ()):
        self.work = Path(work)
        self.socket = self.work / "irqd.sock"
        self.state = self.work / "state.json"
        self.log = self.work / "daemon.err"
        argv = irqd_argv("run", "--root", str(root), "--state", str(self.state), "--socket", str(self.socket),
                         *args)
        if config is not None:
            cfg = self.work / "irqd.toml"
            cfg.write_text(config)
            argv += ["--config", str(cfg)]
        if not netlink:
            argv.append("--no-netlink")
        with open(self.log, "w") as log:   # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([*prefix, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=log, env=ENV, cwd=REPO)

    def wait_ready(self, timeout: float = 15) -> None:
        import time
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.socket.exists() and self._catches_sighup():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.stderr()}")
            time.sleep(0.02)
        raise AssertionError(f"no status socket after {timeout} s: {self.stderr()}")

    def _catches_sighup(self) -> bool:
        """Its signal handlers are in place (SigCgt in /proc/PID/status): a SIGHUP sent now is not fatal."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                caught = next(line for line in f if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            return False
        return bool(int(caught.split()[1], 16) & 1)   # bit 0: signal 1, SIGHUP

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5) -> int | None:
        """SIGTERM and the exit status, or None when it did not stop in time (then it is killed)."""
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

"""``irqd status``: ask the running daemon over its Unix socket.

The socket lives under /run/irqd/ with mode 0600, and the daemon answers
only peers whose SO_PEERCRED uid is 0: the picture includes every IRQ.
One connection, one JSON document, then close.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading

from .cpumask import format_list

_UCRED = struct.Struct("3i")  # pid, uid, gid


class StatusServer:
    def __init__(self, path: str, provider, allowed_uids: frozenset[int] = frozenset({0})):
        self.path = path
        self.provider = provider
        self.allowed = allowed_uids
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        try:
            os.unlink(self.path)  # a socket left by a daemon that died
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        self.sock = sock
        self.thread = threading.Thread(target=self._serve, name="irqd-status", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
                    _, uid, _ = _UCRED.unpack(creds)
                    if uid not in self.allowed:
                        conn.sendall(json.dumps({"error": "irqd status is for root only"}).encode() + b"\n")
                        continue
                    conn.sendall(json.dumps(self.provider()).encode() + b"\n")
                except OSError:
                    continue

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        try:
            os.unlink(self.path)
        except OSError:
            pass


def query(path: str, timeout: float = 5.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return json.loads(b"".join(chunks).decode())


def render_status(st: dict) -> str:
    out = [f"irqd pid {st['pid']} on {st['root']}: plan applied {st['plan_age']} s ago; "
           f"{st['replans']} plan(s), {st['moves_total']} load moves, {st['errors_total']} errors"]
    ev = st.get("last_event")
    out.append("last event: " + (f"{'/'.join(ev['kinds'])} {', '.join(ev['devices'])} ({ev['age']} s ago)"
                                 if ev else "none"))
    if st["last_moves"]:
        out.append("last moves: " + ", ".join(f"irq {m['irq']} -> CPU {m['to']} ({m['age']} s ago)"
                                              for m in st["last_moves"][-8:]))
    if st["cpu_load"]:
        out.append("interrupts/s per CPU: " + ", ".join(f"{c}:{v:g}" for c, v in st["cpu_load"].items()))
    if st["managed"]:
        out.append(f"kernel-managed IRQs left alone: {format_list(st['managed'])}")
    for rel, why in st["hands_off"].items():
        out.append(f"hands off {rel}: {why}")
    plan = st.get("plan")
    if plan:
        out.append("current placement:")
        for i in plan["irqs"]:
            if i["nic"] and i["after"] is not None:
                out.append(f"  irq {i['irq']:>5} {i['name']:<32} CPU {format_list(i['after'])}")
        s = plan["summary"]
        out.append(f"  ... {len(plan['irqs'])} IRQs planned; {s['managed_left_alone']} managed left alone")
    return "\n".join(out) + "\n"


def run_status(args) -> int:
    from .daemon import default_socket
    path = args.socket or default_socket(args.root)
    try:
        st = query(path)
    except FileNotFoundError:
        print(f"irqd status: no daemon socket at {path} (is 'irqd run' running?)", file=sys.stderr)
        return 3
    except ConnectionRefusedError:
        print(f"irqd status: {path}: nobody is listening (stale socket; is 'irqd run' running?)", file=sys.stderr)
        return 3
    except PermissionError:
        print(f"irqd status: {path}: permission denied; run as root", file=sys.stderr)
        return 4
    except (OSError, ValueError) as e:
        print(f"irqd status: {path}: {e}", file=sys.stderr)
        return 2
    if "error" in st:
        print(f"irqd status: {st['error']}", file=sys.stderr)
        return 4
    if args.format == "json":
        from .jsonfmt import dumps
        sys.stdout.write(dumps(st))
    else:
        sys.stdout.write(render_status(st))
    return 0

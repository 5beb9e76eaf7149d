"""The daemon's side of ``irqd status``: a Unix socket that answers with one JSON document.

The socket lives under /run/irqd/ with mode 0600, and the daemon answers
only peers whose SO_PEERCRED uid is 0: the picture includes every IRQ.
One connection, one JSON document, then close.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading

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
        sock = self.sock
        assert sock is not None  # started by start()
        while True:
            try:
                conn, _ = sock.accept()
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

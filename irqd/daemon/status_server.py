"""The daemon's side of ``irqd status``: a Unix socket that answers with one JSON document.

The socket lives under /run/irqd/ with mode 0600, and the daemon answers
only peers whose SO_PEERCRED uid is 0: the picture includes every IRQ.
One connection, one JSON document, then close. Each reply is sent from its
own thread with a deadline (SEND_TIMEOUT), so a client that never reads
cannot hold up the others, nor the daemon.

Only a socket nobody listens on is removed from the path (a daemon that
died); a live socket (another daemon) or any other file is left alone and
the server does not start.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import threading

SEND_TIMEOUT = 5.0   # seconds a client has to take its reply (340 KB on a 2-socket server)

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
        self._clear_stale()
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

    def _clear_stale(self) -> None:
        """Remove a socket left by a daemon that died; refuse anything else at the path."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise OSError(17, f"{self.path} exists and is not a socket; left alone", self.path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        probe.settimeout(1.0)
        try:
            probe.connect(self.path)
        except OSError:
            os.unlink(self.path)   # nobody listens: a daemon that died
            return
        finally:
            probe.close()
        raise OSError(98, f"another irqd answers on {self.path}; left alone", self.path)

    def _serve(self) -> None:
        sock = self.sock
        assert sock is not None  # started by start()
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), name="irqd-status-reply", daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(SEND_TIMEOUT)
            try:
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
                _, uid, _ = _UCRED.unpack(creds)
                if uid not in self.allowed:
                    conn.sendall(json.dumps({"error": "irqd status is for root only"}).encode() + b"\n")
                    return
                conn.sendall(json.dumps(self.provider()).encode() + b"\n")
            except OSError:   # the client went away or did not read in time
                return

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
            try:
                os.unlink(self.path)   # ours: only a started server removes its socket
            except OSError:
                pass

"""Netlink events for the daemon: the only module that imports pyroute2.

Two listeners, each on its own thread with pyroute2's synchronous sockets
(no asyncio loop is running in irqd, so the sync classes are never mixed
into one):

- rtnetlink RTMGRP_LINK: RTM_NEWLINK / RTM_DELLINK when a device appears,
  vanishes, is renamed or changes state;
- the ethtool generic-netlink "monitor" group: ETHTOOL_MSG_CHANNELS_NTF,
  sent when ``ethtool -L`` changes the queue count (no RTM_NEWLINK then).
  pyroute2 0.9 has no message class for channels, so it is defined here
  from ``include/uapi/linux/ethtool_netlink.h``.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink import NLM_F_REQUEST, genlmsg
from pyroute2.netlink.generic import GenericNetlinkSocket
from pyroute2.netlink.generic.ethtool import ethtoolheader
from pyroute2.netlink.rtnl import RTMGRP_LINK

# kernel -> user message types (enum after ETHTOOL_MSG_KERNEL_NONE)
ETHTOOL_MSG_CHANNELS_GET = 17        # user -> kernel
ETHTOOL_MSG_CHANNELS_GET_REPLY = 18
ETHTOOL_MSG_CHANNELS_NTF = 19


class ethtool_channels_msg(genlmsg):
    """ETHTOOL_MSG_CHANNELS_{GET,GET_REPLY,NTF}: queue counts and maxima."""

    nla_map = (
        ("ETHTOOL_A_CHANNELS_UNSPEC", "none"),
        ("ETHTOOL_A_CHANNELS_HEADER", "ethtoolheader"),
        ("ETHTOOL_A_CHANNELS_RX_MAX", "uint32"),
        ("ETHTOOL_A_CHANNELS_TX_MAX", "uint32"),
        ("ETHTOOL_A_CHANNELS_OTHER_MAX", "uint32"),
        ("ETHTOOL_A_CHANNELS_COMBINED_MAX", "uint32"),
        ("ETHTOOL_A_CHANNELS_RX_COUNT", "uint32"),
        ("ETHTOOL_A_CHANNELS_TX_COUNT", "uint32"),
        ("ETHTOOL_A_CHANNELS_OTHER_COUNT", "uint32"),
        ("ETHTOOL_A_CHANNELS_COMBINED_COUNT", "uint32"),
    )
    ethtoolheader = ethtoolheader


@dataclass(frozen=True)
class Event:
    kind: str            # "newlink" | "dellink" | "channels"
    ifname: str | None
    ifindex: int | None
    detail: str
    at: float            # time.monotonic() when received


def channels_event(msg) -> Event | None:
    """An Event from a channels message (notification or reply), else None."""
    if msg["cmd"] not in (ETHTOOL_MSG_CHANNELS_NTF, ETHTOOL_MSG_CHANNELS_GET_REPLY):
        return None
    header = msg.get_attr("ETHTOOL_A_CHANNELS_HEADER")
    name = header.get_attr("ETHTOOL_A_HEADER_DEV_NAME") if header else None
    index = header.get_attr("ETHTOOL_A_HEADER_DEV_INDEX") if header else None
    counts = {k: msg.get_attr(f"ETHTOOL_A_CHANNELS_{k.upper()}_COUNT") for k in ("rx", "tx", "other", "combined")}
    detail = " ".join(f"{k} {v}" for k, v in counts.items() if v is not None)
    return Event("channels", name, index, detail, time.monotonic())


class EthtoolChannels(GenericNetlinkSocket):
    def __init__(self) -> None:
        super().__init__()
        self.bind("ethtool", ethtool_channels_msg)

    def monitor(self) -> None:
        self.add_membership("monitor")

    def query(self, ifname: str) -> Event | None:
        """Ask the kernel for one device's channels (ETHTOOL_MSG_CHANNELS_GET)."""
        msg = ethtool_channels_msg()
        msg["cmd"] = ETHTOOL_MSG_CHANNELS_GET
        msg["version"] = 1
        msg["attrs"] = [("ETHTOOL_A_CHANNELS_HEADER", {"attrs": [("ETHTOOL_A_HEADER_DEV_NAME", ifname)]})]
        for reply in self.nlm_request(msg, msg_type=self.prid, msg_flags=NLM_F_REQUEST):
            event = channels_event(reply)
            if event is not None:
                return event
        return None


def link_event(msg) -> Event | None:
    kind = {"RTM_NEWLINK": "newlink", "RTM_DELLINK": "dellink"}.get(msg.get("event"))
    if kind is None:
        return None
    state = msg.get_attr("IFLA_OPERSTATE")
    return Event(kind, msg.get_attr("IFLA_IFNAME"), msg.get("index"), state or "", time.monotonic())


def _link_socket():
    ipr = IPRoute()
    ipr.bind(groups=RTMGRP_LINK)
    return ipr


def _ethtool_socket():
    eth = EthtoolChannels()
    eth.monitor()
    return eth


class Watcher:
    """Both listeners, feeding one queue. ``errors`` collects why a listener could not start."""

    def __init__(self, events: queue.Queue):
        self.events = events
        self.errors: list[str] = []
        self._sockets: list = []
        self._threads: list[threading.Thread] = []
        self._ready: list[threading.Event] = []

    def start(self, timeout: float = 2.0) -> None:
        """Start both listeners; return once each is subscribed (or has failed)."""
        self._spawn("rtnetlink", _link_socket, link_event)
        self._spawn("ethtool", _ethtool_socket, channels_event)
        for ready in self._ready:
            ready.wait(timeout)

    def _spawn(self, name: str, factory, parse) -> None:
        ready = threading.Event()
        self._ready.append(ready)

        def loop() -> None:
            # pyroute2's sync sockets belong to the thread that made them:
            # create, subscribe and read here
            try:
                sock = factory()
            except Exception as e:  # no rtnetlink in a sandbox, no ethtool netlink before 5.6
                self.errors.append(f"{name}: {e}")
                ready.set()
                return
            self._sockets.append(sock)
            ready.set()
            while True:
                try:
                    messages = sock.get()
                except Exception:
                    return  # closed at shutdown
                for msg in messages:
                    event = parse(msg)
                    if event is not None:
                        self.events.put(event)

        thread = threading.Thread(target=loop, name=f"irqd-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        for sock in self._sockets:
            try:
                sock.close()
            except Exception:
                pass

"""``irqd capture DEST``: copy exactly what irqd reads into a fixture tree.

The tree follows ``FIXTURES.md``: files lie where the kernel shows them,
symlinks stay relative symlinks, contents are byte-for-byte. Attributes the
kernel refuses to read (``xps_cpus`` of a single-queue device answers
ENOENT) are left out, which is how discovery sees them on the live host too.
MAC addresses are not copied.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import stat
import sys
import tarfile
import tomllib

from .. import __version__
from .irqdebug import DEBUG_IRQS
from .root import MAX_READ, MAX_READ_BIG, STATE_FILE, Root, RootError, _slurp

IRQ_FILES = ("smp_affinity", "smp_affinity_list", "effective_affinity", "effective_affinity_list",
             "affinity_hint", "node")
SYSIRQ_FILES = ("actions", "chip_name", "hwirq", "name", "type", "per_cpu_count", "wakeup")
CPU_FILES = ("online", "possible", "present", "offline", "isolated", "nohz_full", "kernel_max")
CACHE_FILES = ("level", "type", "shared_cpu_list", "shared_cpu_map", "size", "id")
PCI_FILES = ("class", "vendor", "device", "subsystem_vendor", "subsystem_device", "numa_node",
             "local_cpus", "local_cpulist", "irq", "uevent")
NET_FILES = ("operstate", "ifindex", "mtu", "type", "uevent", "tx_queue_len")
RX_FILES = ("rps_cpus", "rps_flow_cnt")
TX_FILES = ("xps_cpus", "xps_rxqs", "tx_maxrate")
# what the capture says about itself, at the top of the tree
MANIFEST = "irqd-fixture.toml"
_MANIFEST_MAX = 64 << 10

PROC_FILES = ("proc/interrupts", "proc/cmdline", "proc/stat", "proc/softirqs", "proc/uptime",
              "proc/sys/kernel/osrelease", "proc/sys/net/core/rps_sock_flow_entries",
              "proc/irq/default_smp_affinity")


class Capture:
    def __init__(self, root: Root, dest: str):
        self.root = root
        self.dest = dest
        self.files = 0
        self.links = 0
        self.unreadable: list[str] = []

    def _dest(self, rel: str) -> str:
        return os.path.join(self.dest, rel)

    def link(self, rel: str) -> str | None:
        """Copy every symlink along ``rel``; return the resolved path."""
        parts = rel.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            host = self.root.host(prefix)
            if os.path.islink(host) and not os.path.lexists(self._dest(prefix)):
                parent = self.root.resolve("/".join(parts[:i - 1])) if i > 1 else ""
                if parent is None:
                    return None
                target = os.readlink(host)
                at = f"{parent}/{parts[i - 1]}" if parent else parts[i - 1]
                if target.startswith("/"):
                    # an absolute link means a path on the captured machine: made relative, so the
                    # copy points inside itself and never at the host it is read on
                    target = os.path.relpath("/" + target.lstrip("/"), "/" + os.path.dirname(at))
                link_at = self._dest(at)
                os.makedirs(os.path.dirname(link_at), exist_ok=True)
                if not os.path.lexists(link_at):
                    os.symlink(target, link_at)
                    self.links += 1
                resolved = self.root.resolve(prefix)
                if resolved and self.root.isdir(resolved):
                    os.makedirs(self._dest(resolved), exist_ok=True)
        return self.root.resolve(rel)

    def file(self, rel: str) -> None:
        resolved = self.link(rel)
        if resolved is None or not self.root.exists(resolved) or self.root.isdir(resolved):
            return
        try:   # bounded, regular files only, never out of the tree (as every read of a Root)
            data = _slurp(self.root.host(resolved), MAX_READ_BIG.get(resolved, MAX_READ),
                          None if self.root.is_live else self.root._real_prefix)
        except OSError:
            self.unreadable.append(rel)
            return
        out = self._dest(resolved)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)
        self.files += 1

    def dir(self, rel: str) -> None:
        resolved = self.link(rel)
        if resolved is not None:
            os.makedirs(self._dest(resolved), exist_ok=True)

    def run(self) -> None:
        r = self.root
        for rel in PROC_FILES:
            self.file(rel)
        for entry in r.listdir("proc/irq"):
            if entry.isascii() and entry.isdigit():
                for name in IRQ_FILES:
                    self.file(f"proc/irq/{entry}/{name}")
                for sub in r.listdir(f"proc/irq/{entry}"):
                    if r.isdir(f"proc/irq/{entry}/{sub}"):
                        self.dir(f"proc/irq/{entry}/{sub}")  # one empty dir per action, as the kernel has
        for entry in r.listdir("sys/kernel/irq"):
            if entry.isascii() and entry.isdigit():
                for name in SYSIRQ_FILES:
                    self.file(f"sys/kernel/irq/{entry}/{name}")
        # the kernel's own word on which IRQs it manages (debugfs, root only):
        # kept, so discovery of the capture knows what it proved here
        for entry in r.listdir(DEBUG_IRQS):
            if entry.isascii() and entry.isdigit():
                self.file(f"{DEBUG_IRQS}/{entry}")
        self._cpus()
        self._nodes()
        for bdf in r.listdir("sys/bus/pci/devices"):
            self._pci(f"sys/bus/pci/devices/{bdf}")
        for dev in r.listdir("sys/class/net"):
            self._net(f"sys/class/net/{dev}")

    def _cpus(self) -> None:
        base = "sys/devices/system/cpu"
        for name in CPU_FILES:
            self.file(f"{base}/{name}")
        for entry in self.root.listdir(base):
            if not re.fullmatch(r"cpu[0-9]+", entry):
                continue
            self.file(f"{base}/{entry}/online")
            for name in self.root.listdir(f"{base}/{entry}/topology"):
                self.file(f"{base}/{entry}/topology/{name}")
            for index in self.root.listdir(f"{base}/{entry}/cache"):
                if index.startswith("index"):
                    for name in CACHE_FILES:
                        self.file(f"{base}/{entry}/cache/{index}/{name}")
            for name in self.root.listdir(f"{base}/{entry}"):
                if re.fullmatch(r"node[0-9]+", name):
                    self.link(f"{base}/{entry}/{name}")

    def _nodes(self) -> None:
        base = "sys/devices/system/node"
        for name in ("online", "possible", "has_cpu", "has_memory"):
            self.file(f"{base}/{name}")
        for entry in self.root.listdir(base):
            if re.fullmatch(r"node[0-9]+", entry):
                for name in ("cpulist", "cpumap", "distance"):
                    self.file(f"{base}/{entry}/{name}")

    def _pci(self, rel: str) -> None:
        for name in PCI_FILES:
            self.file(f"{rel}/{name}")
        self._driver(f"{rel}/driver")
        for entry in self.root.listdir(f"{rel}/msi_irqs"):
            if self.root.isdir(f"{rel}/msi_irqs/{entry}"):
                self.file(f"{rel}/msi_irqs/{entry}/mode")
            else:
                self.file(f"{rel}/msi_irqs/{entry}")

    def _driver(self, rel: str) -> None:
        if self.root.islink(rel):
            self.link(rel)

    def _net(self, rel: str) -> None:
        if not self.root.isdir(rel):
            return
        for name in NET_FILES:
            self.file(f"{rel}/{name}")
        if self.root.islink(f"{rel}/device"):
            self.link(f"{rel}/device")
            self._driver(f"{rel}/device/driver")
        for q in self.root.listdir(f"{rel}/queues"):
            names = RX_FILES if q.startswith("rx-") else TX_FILES if q.startswith("tx-") else ()
            for name in names:
                self.file(f"{rel}/queues/{q}/{name}")


def capture(root_path: str, dest: str, tar: bool = False, description: str | None = None) -> int:
    try:
        root = Root(root_path)
    except RootError as e:
        print(f"irqd capture: {e}", file=sys.stderr)
        return 2
    dest = os.path.abspath(dest)
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        print(f"irqd capture: {dest}: exists and is not an empty directory; choose a new one", file=sys.stderr)
        return 2
    if not root.exists("proc/interrupts"):
        print(f"irqd capture: {root.show('proc/interrupts')}: missing; is {root.path} a machine root?",
              file=sys.stderr)
        return 2
    os.makedirs(dest, exist_ok=True)
    cap = Capture(root, dest)
    cap.run()
    proved = _refused_writes(root)
    if proved:
        # a write the kernel refused (EIO) proves an IRQ managed: the capture
        # keeps it in irqd's own state format, so discovery of it knows too
        os.makedirs(os.path.dirname(os.path.join(dest, STATE_FILE)), exist_ok=True)
        with open(os.path.join(dest, STATE_FILE), "w") as f:
            json.dump({"version": 1, "originals": {}, "written": {}, "identity": {}, "managed": proved}, f)
    kernel = root.read_line("proc/sys/kernel/osrelease") or ""
    meta = {
        "description": description or f"captured from {'this host' if root.is_live else root.path}",
        "kernel": kernel,
        "captured": datetime.date.today().isoformat(),
        "source": f"irqd capture {__version__}" + (f" on {socket.gethostname()}" if root.is_live else ""),
    }
    with open(os.path.join(dest, MANIFEST), "w") as f:
        for key, value in meta.items():
            f.write(f"{key} = {_toml_str(value)}\n")
        if cap.unreadable:
            f.write("# attributes the kernel refused to read, left out as discovery would see them\n")
            f.write("unreadable = [\n" + "".join(f"  {_toml_str(u)},\n" for u in cap.unreadable) + "]\n")
    print(f"captured {cap.files} files and {cap.links} links into {dest}"
          + (f" ({len(cap.unreadable)} unreadable attributes left out)" if cap.unreadable else ""))
    if tar:
        archive = dest.rstrip("/") + ".tar.gz"
        with tarfile.open(archive, "w:gz") as t:
            t.add(dest, arcname=os.path.basename(dest.rstrip("/")))
        print(f"packed {archive}")
    return 0


def read_manifest(root: Root) -> dict[str, str]:
    """The text keys of ROOT/irqd-fixture.toml (description, kernel, captured, source); {} without one.

    A capture's own notes, not the machine: a missing, oversized or broken
    manifest only costs the notes. The read stays beneath the root, takes
    regular files only (a FIFO would block) and at most 64 KiB.
    """
    rel = root.resolve(MANIFEST)
    if rel is None:
        return {}
    try:
        fd = os.open(root.host(rel), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return {}
        data = os.read(fd, _MANIFEST_MAX + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    if len(data) > _MANIFEST_MAX:
        return {}
    try:
        meta = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {k: v for k, v in meta.items() if isinstance(v, str)}


def _refused_writes(root: Root) -> list[int]:
    """IRQs whose affinity write the kernel refused, from irqd's state file under the root."""
    text = root.read(STATE_FILE)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return []
    managed = data.get("managed") if isinstance(data, dict) else None
    return sorted(i for i in managed if isinstance(i, int)) if isinstance(managed, list) else []


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

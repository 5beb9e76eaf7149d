"""Synthetic machine root trees, laid out and formatted as the kernel would show them.

``write_machine(dest, spec)`` writes the files irqd reads (FIXTURES.md) for a
machine described by a ``MachineSpec``: sockets, NUMA nodes, cores, SMT
threads, L3 domains, offline and isolated CPUs, multiqueue NICs named the way
their drivers name their vectors, NVMe drives with kernel-managed spread
masks, and IO-APIC platform IRQs. It returns a ``MachineInfo`` saying what
was written (which IRQ serves which queue), so a test can compare discovery
against it. Per-IRQ counts come from ``random.Random(spec.seed)``.

Formats follow the kernel (v6.x unless noted); the text forms are in
``kernelfmt.py``, the drivers' vector names in ``drivers.py``, CPU numbering
and managed spread masks in ``topology.py``.
"""

from __future__ import annotations

import os
import random

from tests.support.cmdline import boot_params
from tests.support.drivers import DRIVERS, NVME_IDS, ROOT_PORT_IDS, nic_vectors
from tests.support.kernelfmt import (
    X86_ROWS,
    X86_TAIL,
    format_list,
    format_mask,
    interrupts_header,
    interrupts_row,
    irq_prec,
    other_row,
)
from tests.support.spec import MachineInfo, MachineSpec, NicInfo, NicSpec, NvmeInfo, NvmeSpec
from tests.support.topology import local_spread, node_distance, spread_masks, topology_of


class _Tree:
    """Files and relative symlinks under one root; directories made on demand."""

    def __init__(self, dest: str):
        self.dest = os.path.abspath(dest)
        self.dirs: set[str] = set()

    def _dir(self, rel: str) -> None:
        if rel and rel not in self.dirs:
            os.makedirs(os.path.join(self.dest, rel), exist_ok=True)
            self.dirs.add(rel)

    def mkdir(self, rel: str) -> None:
        self._dir(rel)

    def file(self, rel: str, text: str) -> None:
        self._dir(os.path.dirname(rel))
        with open(os.path.join(self.dest, rel), "w") as f:
            f.write(text)

    def link(self, rel: str, target_rel: str) -> None:
        """A symlink at ``rel`` pointing, relatively, at ``target_rel`` (both root-relative)."""
        self._dir(os.path.dirname(rel))
        os.symlink(os.path.relpath(target_rel, os.path.dirname(rel)), os.path.join(self.dest, rel))


def _bdf_parts(bdf: str) -> tuple[str, int, int, int]:
    dom, bus, devfn = bdf.split(":")
    dev, fn = devfn.split(".")
    return dom, int(bus, 16), int(dev, 16), int(fn)


def _pci_dir(bdf: str) -> tuple[str, str | None]:
    """sys/devices path of an endpoint, and its root port's BDF (None: integrated endpoint)."""
    dom, bus, _, _ = _bdf_parts(bdf)
    hb = bus & ~0x1F
    host = f"sys/devices/pci{dom}:{hb:02x}"
    if bus == hb:
        return f"{host}/{bdf}", None
    port = f"{dom}:{hb:02x}:{0x1c + (bus % 32) // 8:02x}.{(bus % 32) % 8}"
    return f"{host}/{port}/{bdf}", port


class _Writer:
    def __init__(self, dest: str, spec: MachineSpec):
        self.t = _Tree(dest)
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.topo = topology_of(spec)
        self.nbits = spec.cpus                       # nr_cpu_ids
        self.boot = boot_params(spec.cmdline)
        self.uptime = spec.uptime if spec.uptime is not None else round(self.rng.uniform(20_000, 90_000), 2)
        online = frozenset(self.topo.online)
        self.default_aff = (self.boot.irqaffinity & online) if self.boot.irqaffinity else online
        if not self.default_aff:
            self.default_aff = online
        managed_iso = self.boot.isolcpus if "managed_irq" in self.boot.flags else frozenset()
        self.managed_housekeeping = online - managed_iso
        self.vectors_on: dict[int, int] = {c: 0 for c in self.topo.online}   # x86 vector matrix
        self.irqs: dict[int, dict] = {}
        self.pci_written: set[str] = set()
        self.ifindex = 1                              # lo is 1

    # -- IRQs -----------------------------------------------------------

    def pick_effective(self, mask: frozenset[int], prefer: frozenset[int] | None = None) -> frozenset[int]:
        cands = [c for c in sorted(mask) if c in self.vectors_on]
        if prefer is not None:
            cands = [c for c in cands if c in prefer] or cands
        if not cands:
            return frozenset()
        cpu = min(cands, key=lambda c: (self.vectors_on[c], c))
        self.vectors_on[cpu] += 1
        return frozenset({cpu})

    def add_irq(self, irq: int, *, chip: str, hwirq: int | None, handler: str, actions: tuple[str, ...],
                affinity: frozenset[int], node: int, rate: float, hint: frozenset[int] | None = None,
                managed: bool = False) -> None:
        if irq in self.irqs:
            raise ValueError(f"IRQ {irq} allocated twice")
        prefer = self.managed_housekeeping if managed else None
        effective = self.pick_effective(affinity, prefer)
        self.irqs[irq] = dict(chip=chip, hwirq=hwirq, handler=handler, actions=actions, affinity=affinity,
                              effective=effective, node=node, rate=rate, hint=hint or frozenset())

    def counts(self, irq: int) -> dict[int, int]:
        """Per-CPU counts: most on the effective CPU, some left from earlier placements."""
        d = self.irqs[irq]
        total = int(d["rate"] * self.uptime)
        out: dict[int, int] = {}
        if total <= 0:
            return out
        where = sorted(d["effective"])
        if not where:
            return out  # a managed vector whose CPUs are all offline is shut down
        main = where[0]
        if self.rng.random() < 0.3 and len(self.topo.online) > 1:
            stale = self.rng.choice(self.topo.online)
            part = int(total * self.rng.uniform(0.01, 0.2))
            out[stale] = out.get(stale, 0) + part
            total -= part
        out[main] = out.get(main, 0) + total
        return {c: min(v, 0xFFFFFFFF) for c, v in out.items()}

    # -- everything -------------------------------------------------------

    def write(self) -> MachineInfo:
        spec, topo = self.spec, self.topo
        next_irq = 24
        platform_irqs = []
        for p in spec.platform:
            chip = ("IR-" + p.chip) if spec.remap and p.chip == "IO-APIC" else p.chip
            self.add_irq(p.irq, chip=chip, hwirq=p.hwirq, handler=p.handler, actions=(p.name,),
                         affinity=self.default_aff, node=0, rate=p.rate)
            platform_irqs.append(p.irq)
        if spec.dmar:
            for s in range(spec.sockets):
                self.add_irq(next_irq, chip="DMAR-MSI", hwirq=s, handler="edge", actions=(f"dmar{s}",),
                             affinity=self.default_aff, node=s * spec.nodes_per_socket, rate=0.0)
                platform_irqs.append(next_irq)
                next_irq += 1

        devices = self._assign_bdfs()
        nics: dict[str, NicInfo] = {}
        nvmes: dict[str, NvmeInfo] = {}
        virtio_index = 0
        for bdf, dev in sorted(devices.items()):
            if isinstance(dev, NicSpec):
                bus_device = None
                if dev.driver == "virtio_net":
                    bus_device = f"virtio{virtio_index}"
                    virtio_index += 1
                nics[dev.ifname], next_irq = self._nic(dev, bdf, bus_device, next_irq)
            else:
                nvmes[dev.name], next_irq = self._nvme(dev, bdf, next_irq)

        cores = spec.cpus
        nr_irqs = max(24 + 16 + 8 * cores + 24 * 16, next_irq)
        self._proc(nr_irqs)
        self._sys_irq()
        self._cpus()
        self._nodes()
        return MachineInfo(
            spec=spec, possible=frozenset(topo.possible), online=frozenset(topo.online),
            node_cpus=dict(topo.node_cpus), siblings=dict(topo.siblings), llc=dict(topo.llc),
            core_of={c: (topo.socket_of[c], topo.core_id[c]) for c in topo.possible},
            isolated=self._isolated(), nohz_full=self.boot.nohz_full or frozenset(),
            isolcpus=self.boot.isolcpus, irqaffinity=self.boot.irqaffinity,
            nics=nics, nvme=nvmes, platform_irqs=tuple(platform_irqs),
            rates={i: d["rate"] for i, d in self.irqs.items()}, nr_irqs=nr_irqs)

    def _assign_bdfs(self) -> dict[str, NicSpec | NvmeSpec]:
        out: dict[str, NicSpec | NvmeSpec] = {}
        bus = 0x21
        for dev in list(self.spec.nics) + list(self.spec.nvme):
            bdf = dev.bdf
            if bdf is None:
                while f"0000:{bus:02x}:00.0" in out:
                    bus += 1
                bdf = f"0000:{bus:02x}:00.0"
                bus += 1
            bdf = bdf.lower()
            if bdf in out:
                raise ValueError(f"PCI address {bdf} used twice")
            out[bdf] = dev
        ports = {port for b in out if (port := _pci_dir(b)[1]) is not None}
        if ports & set(out):
            raise ValueError(f"PCI addresses {sorted(ports & set(out))} collide with generated root ports")
        names = [d.ifname for d in self.spec.nics] + [d.name for d in self.spec.nvme]
        if len(set(names)) != len(names):
            raise ValueError("device names must be unique")
        return out

    def _node_ok(self, node: int, what: str) -> None:
        if node != -1 and node not in self.topo.node_cpus:
            raise ValueError(f"{what}: node {node} does not exist")

    def _local(self, node: int) -> frozenset[int]:
        online = frozenset(self.topo.online)
        if node < 0:
            return online
        return self.topo.node_cpus[node] & online

    def _pci_function(self, bdf: str, *, cls: int, ids: tuple[int, int], driver: str, node: int,
                      msi: list[int]) -> str:
        path, port = _pci_dir(bdf)
        if port and port not in self.pci_written:
            self._pci_files(f"{os.path.dirname(path)}", port, cls=0x060400, ids=ROOT_PORT_IDS, driver="pcieport",
                            node=node, msi=[], legacy=0)
        self._pci_files(path, bdf, cls=cls, ids=ids, driver=driver, node=node, msi=msi,
                        legacy=16 + _bdf_parts(bdf)[1] % 8)
        return path

    def _pci_files(self, path: str, bdf: str, *, cls: int, ids: tuple[int, int], driver: str, node: int,
                   msi: list[int], legacy: int) -> None:
        t = self.t
        self.pci_written.add(bdf)
        local = self._local(node)
        t.file(f"{path}/class", f"0x{cls:06x}\n")
        t.file(f"{path}/vendor", f"0x{ids[0]:04x}\n")
        t.file(f"{path}/device", f"0x{ids[1]:04x}\n")
        t.file(f"{path}/subsystem_vendor", f"0x{ids[0]:04x}\n")
        t.file(f"{path}/subsystem_device", "0x0000\n")
        t.file(f"{path}/numa_node", f"{node}\n")
        t.file(f"{path}/local_cpus", format_mask(local, self.nbits) + "\n")
        t.file(f"{path}/local_cpulist", format_list(local) + "\n")
        t.file(f"{path}/irq", f"{legacy}\n")
        t.file(f"{path}/enable", "1\n")
        if msi:
            t.mkdir(f"{path}/msi_irqs")
            for irq in msi:
                t.file(f"{path}/msi_irqs/{irq}", "msix\n")
        drv_dir = f"sys/bus/pci/drivers/{driver}"
        t.mkdir(drv_dir)
        t.link(f"{path}/driver", drv_dir)
        t.link(f"{drv_dir}/{bdf}", path)
        t.link(f"sys/bus/pci/devices/{bdf}", path)

    def _msix_chip(self, bdf: str) -> str:
        return ("IR-" if self.spec.remap else "") + f"PCI-MSIX-{bdf}"

    def _queue_rates(self, n: int) -> list[float]:
        """Skewed: lognormal, and about one queue in eight runs hot."""
        base = self.rng.uniform(200, 3000)
        out = []
        for _ in range(n):
            r = base * self.rng.lognormvariate(0, 0.6)
            if self.rng.random() < 0.125:
                r *= self.rng.uniform(4, 12)
            out.append(round(r, 3))
        return out

    def _nic(self, nic: NicSpec, bdf: str, bus_device: str | None, next_irq: int) -> tuple[NicInfo, int]:
        self._node_ok(nic.node, nic.ifname)
        drv = DRIVERS.get(nic.driver)
        if drv is None:
            raise ValueError(f"{nic.ifname}: unknown driver {nic.driver!r}")
        if nic.queues < 1:
            raise ValueError(f"{nic.ifname}: needs at least one queue")
        vectors = nic_vectors(nic, bdf, bus_device)
        rates = self._queue_rates(nic.queues)
        queue_irqs: dict[int, tuple[int, str]] = {}
        others: list[int] = []
        irqs = []
        for index, (name, queue, direction) in enumerate(vectors):
            irq = next_irq
            next_irq += 1
            irqs.append(irq)
            hint = None
            if queue is not None:
                assert direction is not None  # nic_vectors gives every queue vector one
                queue_irqs[irq] = (queue, direction)
                rate = rates[queue] * (0.5 if direction in ("rx", "tx") else 1.0)
                if drv.hint:
                    hint = frozenset({local_spread(queue, nic.node, self.topo)})
            else:
                others.append(irq)
                rate = round(self.rng.uniform(0.001, 0.2), 4)
            affinity = hint if hint and drv.applies_hint else self.default_aff
            self.add_irq(irq, chip=self._msix_chip(bdf), hwirq=index, handler="edge", actions=(name,),
                         affinity=affinity, node=nic.node, rate=rate, hint=hint)
        pci_driver = "virtio-pci" if nic.driver == "virtio_net" else nic.driver
        path = self._pci_function(bdf, cls=0x020000, ids=(drv.vendor, drv.device), driver=pci_driver,
                                  node=nic.node, msi=irqs)
        parent = path
        if bus_device:
            parent = f"{path}/{bus_device}"
            self.t.mkdir(f"sys/bus/virtio/drivers/{nic.driver}")
            self.t.link(f"{parent}/driver", f"sys/bus/virtio/drivers/{nic.driver}")
            self.t.link(f"sys/bus/virtio/drivers/{nic.driver}/{bus_device}", parent)
        self._netdev(nic, parent, queue_irqs)
        return NicInfo(nic, bdf, queue_irqs, tuple(others), bus_device), next_irq

    def _netdev(self, nic: NicSpec, parent: str, queue_irqs: dict[int, tuple[int, str]]) -> None:
        t = self.t
        self.ifindex += 1
        ifindex = self.ifindex
        base = f"{parent}/net/{nic.ifname}"
        t.link(f"{base}/device", parent)
        t.link(f"sys/class/net/{nic.ifname}", base)
        t.file(f"{base}/ifindex", f"{ifindex}\n")
        t.file(f"{base}/operstate", "up\n")
        t.file(f"{base}/type", "1\n")
        t.file(f"{base}/mtu", "1500\n")
        t.file(f"{base}/tx_queue_len", "1000\n")
        t.file(f"{base}/uevent", f"INTERFACE={nic.ifname}\nIFINDEX={ifindex}\n")
        zero = format_mask((), self.nbits) + "\n"
        for q in range(nic.rx_queues):
            t.file(f"{base}/queues/rx-{q}/rps_cpus", zero)
            t.file(f"{base}/queues/rx-{q}/rps_flow_cnt", "0\n")
        tx_cpu = {}
        if DRIVERS[nic.driver].sets_xps:
            tx_cpu = {q: local_spread(q, nic.node, self.topo) for q in range(min(nic.queues, nic.tx_queues))}
        for q in range(nic.tx_queues):
            d = f"{base}/queues/tx-{q}"
            t.file(f"{d}/tx_maxrate", "0\n")
            t.file(f"{d}/xps_rxqs", format_mask((), nic.rx_queues) + "\n")
            if nic.tx_queues > 1:
                # a single-queue device answers ENOENT for xps_cpus
                t.file(f"{d}/xps_cpus", format_mask({tx_cpu[q]} if q in tx_cpu else (), self.nbits) + "\n")

    def _nvme(self, nv: NvmeSpec, bdf: str, next_irq: int) -> tuple[NvmeInfo, int]:
        self._node_ok(nv.node, nv.name)
        nio = nv.io_queues if nv.io_queues is not None else min(len(self.topo.possible), 128)
        nio = max(1, min(nio, len(self.topo.possible)))
        masks = spread_masks(nio, self.topo)
        chip = self._msix_chip(bdf)
        admin = next_irq
        # nvme_setup_irqs(): pre_vectors = 1, the admin queue is not managed
        self.add_irq(admin, chip=chip, hwirq=0, handler="edge", actions=(f"{nv.name}q0",),
                     affinity=self.default_aff, node=nv.node, rate=round(self.rng.uniform(0.001, 0.01), 4))
        io = []
        base = self.rng.uniform(50, 800)
        for k, mask in enumerate(masks, start=1):
            irq = admin + k
            rate = base * self.rng.lognormvariate(0, 0.8)
            self.add_irq(irq, chip=chip, hwirq=k, handler="edge", actions=(f"{nv.name}q{k}",),
                         affinity=mask, node=nv.node, rate=round(rate, 3), managed=True)
            io.append(irq)
        self._pci_function(bdf, cls=0x010802, ids=NVME_IDS, driver="nvme", node=nv.node, msi=[admin, *io])
        info = NvmeInfo(nv, bdf, admin, tuple(io), dict(zip(io, masks, strict=True)))
        return info, admin + len(masks) + 1

    # -- /proc --------------------------------------------------------------

    def _proc(self, nr_irqs: int) -> None:
        t, topo, spec = self.t, self.topo, self.spec
        prec = irq_prec(nr_irqs)
        online = topo.online
        col = {c: k for k, c in enumerate(online)}
        per_cpu_total = {c: 0 for c in topo.possible}
        lines = [interrupts_header(online, prec)]
        self.irq_counts: dict[int, dict[int, int]] = {}
        for irq in sorted(self.irqs):
            d = self.irqs[irq]
            counts = self.counts(irq)
            self.irq_counts[irq] = counts
            row = [0] * len(online)
            for c, v in counts.items():
                row[col[c]] = v
                per_cpu_total[c] += v
            lines.append(interrupts_row(irq, row, d["chip"], d["hwirq"], d["handler"], d["actions"], prec))
        n = len(online)
        loc = [int(self.uptime * 250 * self.rng.uniform(0.5, 1.0)) & 0xFFFFFFFF for _ in online]
        for label, text in X86_ROWS:
            vals = loc if label == "LOC" else [0] * n if label in ("SPU", "RTR", "TRM", "THR", "DFR", "MCE") else \
                [int(self.uptime * self.rng.uniform(0, 2)) for _ in online]
            lines.append(other_row(label, vals, text, prec))
        lines.append(f"{'ERR':>{prec}}: {0:10d}\n")
        lines.append(f"{'MIS':>{prec}}: {0:10d}\n")
        for label, text in X86_TAIL:
            lines.append(other_row(label, [0] * n, text, prec))
        t.file("proc/interrupts", "".join(lines))

        for irq, d in self.irqs.items():
            base = f"proc/irq/{irq}"
            t.file(f"{base}/smp_affinity", format_mask(d["affinity"], self.nbits) + "\n")
            t.file(f"{base}/smp_affinity_list", format_list(d["affinity"]) + "\n")
            t.file(f"{base}/effective_affinity", format_mask(d["effective"], self.nbits) + "\n")
            t.file(f"{base}/effective_affinity_list", format_list(d["effective"]) + "\n")
            t.file(f"{base}/affinity_hint", format_mask(d["hint"], self.nbits) + "\n")
            t.file(f"{base}/node", f"{d['node']}\n")
            for name in d["actions"]:
                t.mkdir(f"{base}/{name}")
        t.file("proc/irq/default_smp_affinity", format_mask(self.boot.irqaffinity or topo.possible, self.nbits) + "\n")

        # /proc/stat: USER_HZ ticks; hard-IRQ and softirq time follow the counts
        hz = 100
        stat_lines = []
        rows = []
        for c in online:
            total = int(self.uptime * hz)
            irq_t = per_cpu_total[c] * 2 // 1_000_000 * hz // 100
            soft_t = per_cpu_total[c] * 5 // 1_000_000 * hz // 100
            user = int(total * self.rng.uniform(0.02, 0.2))
            system = int(total * self.rng.uniform(0.01, 0.05))
            idle = max(0, total - user - system - irq_t - soft_t)
            rows.append((c, [user, 0, system, idle, 0, irq_t, soft_t, 0, 0, 0]))
        agg = [sum(r[1][k] for r in rows) for k in range(10)]
        stat_lines.append("cpu  " + " ".join(map(str, agg)) + "\n")
        for c, vals in rows:
            stat_lines.append(f"cpu{c} " + " ".join(map(str, vals)) + "\n")
        intr = [0] * nr_irqs
        for irq, counts in self.irq_counts.items():
            intr[irq] = sum(counts.values())
        stat_lines.append(f"intr {sum(intr)} " + " ".join(map(str, intr)) + "\n")
        boot_time = 1_700_000_000
        stat_lines.append(f"ctxt {int(self.uptime * 5000)}\nbtime {boot_time}\nprocesses {int(self.uptime)}\n"
                          "procs_running 1\nprocs_blocked 0\n")
        net_rx = {c: per_cpu_total[c] for c in topo.possible}
        soft_names = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU")
        soft = {name: {c: 0 for c in topo.possible} for name in soft_names}
        for c in online:
            soft["TIMER"][c] = int(self.uptime * 10)
            soft["NET_RX"][c] = net_rx[c]
            soft["NET_TX"][c] = net_rx[c] // 50
            soft["SCHED"][c] = int(self.uptime * 20)
            soft["RCU"][c] = int(self.uptime * 15)
        totals = [sum(soft[name].values()) for name in soft_names]
        stat_lines.append(f"softirq {sum(totals)} " + " ".join(map(str, totals)) + "\n")
        t.file("proc/stat", "".join(stat_lines))
        # kernel/softirq.c show_softirqs(): possible CPUs
        sl = [" " * 20 + "".join(f"CPU{c:<8d}" for c in topo.possible) + "\n"]
        for name in soft_names:
            sl.append(f"{name:>12}:" + "".join(f" {soft[name][c]:10d}" for c in topo.possible) + "\n")
        t.file("proc/softirqs", "".join(sl))
        idle_s = self.uptime * len(online) * 0.9
        t.file("proc/uptime", f"{self.uptime:.2f} {idle_s:.2f}\n")
        t.file("proc/cmdline", spec.cmdline + "\n")
        t.file("proc/sys/kernel/osrelease", spec.kernel + "\n")
        t.file("proc/sys/net/core/rps_sock_flow_entries", "0\n")

    def _sys_irq(self) -> None:
        t, topo = self.t, self.topo
        for irq, d in self.irqs.items():
            base = f"sys/kernel/irq/{irq}"
            counts = self.irq_counts[irq]
            t.file(f"{base}/actions", ",".join(d["actions"]) + "\n")
            t.file(f"{base}/chip_name", d["chip"] + "\n")
            t.file(f"{base}/hwirq", f"{d['hwirq']}\n" if d["hwirq"] is not None else "\n")
            t.file(f"{base}/name", d["handler"] + "\n")
            t.file(f"{base}/type", ("level" if d["handler"] == "fasteoi" else "edge") + "\n")
            t.file(f"{base}/wakeup", "disabled\n")
            t.file(f"{base}/per_cpu_count", ",".join(str(counts.get(c, 0)) for c in topo.possible) + "\n")

    # -- /sys/devices/system -------------------------------------------------

    def _isolated(self) -> frozenset[int]:
        # housekeeping_isolcpus_setup(): only the domain flag (or no flag) fills cpu_isolated_map
        return self.boot.isolcpus if "domain" in self.boot.flags else frozenset()

    def _cpus(self) -> None:
        t, topo, n = self.t, self.topo, self.nbits
        base = "sys/devices/system/cpu"
        possible, online = topo.possible, topo.online
        t.file(f"{base}/possible", format_list(possible) + "\n")
        t.file(f"{base}/present", format_list(possible) + "\n")
        t.file(f"{base}/online", format_list(online) + "\n")
        t.file(f"{base}/offline", format_list(set(possible) - set(online)) + "\n")
        t.file(f"{base}/kernel_max", "8191\n")
        t.file(f"{base}/isolated", format_list(self._isolated()) + "\n")
        t.file(f"{base}/nohz_full", (format_list(self.boot.nohz_full) if self.boot.nohz_full else "(null)") + "\n")
        online_set = set(online)
        for cpu in possible:
            d = f"{base}/cpu{cpu}"
            t.mkdir(d)
            if cpu:
                t.file(f"{d}/online", "1\n" if cpu in online_set else "0\n")
            if cpu not in online_set:
                continue  # topology/ and cache/ go away with the CPU
            node = topo.node_of[cpu]
            t.link(f"{d}/node{node}", f"sys/devices/system/node/node{node}")
            sib = topo.siblings[cpu]
            pkg = topo.package_cpus[topo.socket_of[cpu]]
            topo_files = {
                "physical_package_id": str(topo.socket_of[cpu]), "die_id": "0",
                "core_id": str(topo.core_id[cpu]), "cluster_id": str(topo.core_id[cpu]),
                "thread_siblings": format_mask(sib, n), "thread_siblings_list": format_list(sib),
                "core_cpus": format_mask(sib, n), "core_cpus_list": format_list(sib),
                "cluster_cpus": format_mask(sib, n), "cluster_cpus_list": format_list(sib),
                "core_siblings": format_mask(pkg, n), "core_siblings_list": format_list(pkg),
                "package_cpus": format_mask(pkg, n), "package_cpus_list": format_list(pkg),
                "die_cpus": format_mask(pkg, n), "die_cpus_list": format_list(pkg),
            }
            for name, text in topo_files.items():
                t.file(f"{d}/topology/{name}", text + "\n")
            llc = topo.llc[cpu]
            caches = (("0", "1", "Data", sib, "48K"), ("1", "1", "Instruction", sib, "32K"),
                      ("2", "2", "Unified", sib, "2048K"), ("3", "3", "Unified", llc, "32768K"))
            for index, level, kind, shared, size in caches:
                c = f"{d}/cache/index{index}"
                t.file(f"{c}/level", level + "\n")
                t.file(f"{c}/type", kind + "\n")
                t.file(f"{c}/size", size + "\n")
                t.file(f"{c}/id", str(min(shared) if index == "3" else topo.core_id[cpu]) + "\n")
                t.file(f"{c}/shared_cpu_map", format_mask(shared, n) + "\n")
                t.file(f"{c}/shared_cpu_list", format_list(shared) + "\n")

    def _nodes(self) -> None:
        t, topo, spec = self.t, self.topo, self.spec
        base = "sys/devices/system/node"
        ids = sorted(topo.node_cpus)
        online = set(topo.online)
        for name in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
            t.file(f"{base}/{name}", format_list(ids) + "\n")
        for node in ids:
            # x86 drops a CPU from node_to_cpumask_map when it goes offline
            cpus = topo.node_cpus[node] & online
            d = f"{base}/node{node}"
            t.file(f"{d}/cpulist", format_list(cpus) + "\n")
            t.file(f"{d}/cpumap", format_mask(cpus, self.nbits) + "\n")
            t.file(f"{d}/distance", " ".join(str(node_distance(spec, node, o)) for o in ids) + "\n")
            for cpu in sorted(cpus):
                t.link(f"{d}/cpu{cpu}", f"sys/devices/system/cpu/cpu{cpu}")


def write_machine(dest: str, spec: MachineSpec) -> MachineInfo:
    """Write ``spec`` as a machine root tree at ``dest`` (created; must be absent or empty)."""
    if os.path.exists(dest) and os.listdir(dest):
        raise FileExistsError(f"{dest}: not empty")
    os.makedirs(dest, exist_ok=True)
    info = _Writer(dest, spec).write()
    with open(os.path.join(dest, "irqd-fixture.toml"), "w") as f:
        f.write(f'description = "machinegen: {spec.cpus} CPUs, {spec.nodes} nodes, '
                f'{len(spec.nics)} NICs, {len(spec.nvme)} NVMe, {len(info.rates)} IRQs, seed {spec.seed}"\n'
                f'kernel = "{spec.kernel}"\nsource = "tests/support/machine.py"\n')
    return info

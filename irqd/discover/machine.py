"""``discover(root) -> Snapshot``: read a whole machine through one root directory.

Only this module and the readers it calls touch the machine. Anything that
cannot be read degrades what irqd knows and is listed in ``problems``; only
an unreadable ``/proc/interrupts`` stops discovery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .. import snapshot as S
from ..cpuset import CpuSet, digits_for
from .bans import read_bans
from .cmdline import parse_cmdline
from .interrupts import InterruptsFormatError, IrqRow, parse_interrupts
from .irqdebug import read_debug_flags
from .managed import managed_hints
from .netdev import RPS_SOCK_FLOW, NetDevice, read_net_devices
from .pci import read_pci_functions
from .procirq import read_default_affinity, read_irq_affinity
from .procstat import StatFormatError, parse_softirqs, parse_stat, parse_uptime
from .queuemap import map_queues
from .root import Root, RootError
from .sysirq import SysIrq, read_sys_irqs
from .topology import read_cpu_sets, read_cpu_topology, read_nodes


class DiscoveryError(Exception):
    """Discovery cannot go on; the message names the file (and line)."""


def discover(path: str = "/", confirmed_managed: Iterable[int] = ()) -> S.Snapshot:
    try:
        root = Root(path)
    except RootError as e:
        raise DiscoveryError(str(e)) from None
    text = root.read("proc/interrupts")
    if text is None:
        raise DiscoveryError(f"{root.show('proc/interrupts')}: cannot read it; is {root.path} a machine root?")
    try:
        interrupts = parse_interrupts(text)
    except InterruptsFormatError as e:
        raise DiscoveryError(f"{root.show('proc/interrupts')}: {e}") from None

    sets = read_cpu_sets(root, frozenset(interrupts.cpus))
    possible = sets.possible | sets.online
    cpu_digits = digits_for(max(possible) + 1) if possible else 1
    topology: dict[int, S.CpuTopo] = {}
    for cpu in sorted(sets.present | sets.online):
        if root.isdir(f"sys/devices/system/cpu/cpu{cpu}"):
            topology[cpu] = read_cpu_topology(root, cpu, topology)
    nodes = read_nodes(root)
    cpu_node = {cpu: node.node for node in nodes.values() for cpu in node.cpus}

    isolation = _isolation(root, sets, possible)
    housekeeping = sets.online - isolation.cpus
    if not housekeeping:
        root.note("proc/cmdline", "every online CPU is isolated; no housekeeping CPU is left for IRQs")

    # only rows whose names /proc/interrupts may have split wrongly (", " inside a name)
    sys_irqs = read_sys_irqs(root, [row.irq for row in interrupts.irqs if len(row.actions) > 1])
    if sys_irqs is None:
        root.note("sys/kernel/irq", "missing (kernel before 4.9?); IRQ names come from /proc/interrupts")
    pci = read_pci_functions(root)
    irq_device = _irq_devices(interrupts.irqs, pci)
    affinities = {row.irq: read_irq_affinity(root, row.irq) for row in interrupts.irqs}
    missing_affinity = [row.irq for row in interrupts.irqs if affinities[row.irq].affinity is None]
    if missing_affinity:
        root.note("proc/irq", f"no smp_affinity for {len(missing_affinity)} IRQ(s): {_short(missing_affinity)}")

    actions = {row.irq: _actions(row, sys_irqs) for row in interrupts.irqs}
    netdevs = read_net_devices(root)
    nics, irq_nic = _nics(netdevs, pci, irq_device, actions)

    confirmed = set(confirmed_managed)
    debug = read_debug_flags(root, [row.irq for row in interrupts.irqs])
    hints = managed_hints(interrupts.irqs, irq_device, pci, affinities, sets.online, debug)
    irqs: dict[int, S.Irq] = {}
    for row in interrupts.irqs:
        aff = affinities[row.irq]
        device = irq_device.get(row.irq)
        nic_name, queue = irq_nic.get(row.irq, (None, None))
        managed = reason = None
        if row.irq in confirmed:
            managed, reason = "confirmed", "the kernel refused an affinity write (EIO/EPERM)"
        elif row.irq in hints:
            managed, reason = hints[row.irq]
        chip = row.chip
        irqs[row.irq] = S.Irq(
            irq=row.irq,
            actions=actions[row.irq],
            chip=chip,
            hwirq=row.hwirq,
            trigger=row.trigger,
            counts=row.counts,
            affinity=aff.affinity,
            effective=aff.effective,
            hint=aff.hint,
            node=aff.node,
            mask_digits=aff.mask_digits,
            device=device,
            cls=_irq_class(row.irq, device, pci, irq_nic),
            movable=_movable(row, chip, actions[row.irq]),
            managed=managed,
            managed_reason=reason,
            nic=nic_name,
            queue=queue,
            total=row.total,
        )

    return S.Snapshot(
        root=root.path,
        kernel=root.read_line("proc/sys/kernel/osrelease"),
        online=sets.online,
        possible=possible,
        present=sets.present,
        cpu_digits=cpu_digits,
        topology=topology,
        cpu_node=cpu_node,
        nodes=nodes,
        isolation=isolation,
        housekeeping=housekeeping,
        default_affinity=read_default_affinity(root),
        irqs=irqs,
        other_rows={r.label: r.counts for r in interrupts.other},
        pci=pci,
        nics=tuple(nics),
        rps_sock_flow_entries=root.read_int(RPS_SOCK_FLOW),
        cpu_time=_parsed(root, "proc/stat", parse_stat),
        net_softirqs=_net_softirqs(root),
        uptime=_parsed(root, "proc/uptime", parse_uptime),
        problems=tuple(root.problems),
        live=root.is_live,
        foreign_netns=_foreign_netns(root),
        bans={s.name: s.cpus for s in read_bans(root).sources if s.cpus},
    )


def _foreign_netns(root: Root) -> bool:
    """Is the reader in another network namespace than the host's?

    ``/sys/class/net`` shows the reader's namespace while ``/proc/irq`` is
    always the host's. The host's is kthreadd's (PID 2: kernel threads live
    in the initial namespace), else PID 1's when PID 2 is not kthreadd (a
    PID namespace) or cannot be read. ``/proc/self/ns/net`` is the reader's.
    A captured tree has none of these links: taken as the host's.
    """
    mine = root.link_target("proc/self/ns/net")
    if mine is None:
        return False
    init = None
    if (root.read_line("proc/2/comm") or "") == "kthreadd":
        init = root.link_target("proc/2/ns/net")
    if init is None:
        init = root.link_target("proc/1/ns/net")
    return init is not None and mine != init


def _short(items: list[int]) -> str:
    return ", ".join(map(str, items[:10])) + (" ..." if len(items) > 10 else "")


def _parsed(root: Root, rel: str, parse):
    text = root.read(rel)
    if text is None:
        return None
    try:
        return parse(text)
    except StatFormatError as e:
        root.note(rel, str(e))
        return None


def _net_softirqs(root: Root) -> dict[str, dict[int, int]] | None:
    table = _parsed(root, "proc/softirqs", parse_softirqs)
    if table is None:
        return None
    return {k: v for k, v in table.items() if k in ("NET_RX", "NET_TX")}


def _isolation(root: Root, sets, possible: CpuSet) -> S.Isolation:
    sources: dict[str, CpuSet] = {}
    if sets.isolated:
        sources["sysfs:isolated"] = sets.isolated
    if sets.nohz_full:
        sources["sysfs:nohz_full"] = sets.nohz_full
    flags: tuple[str, ...] = ()
    text = root.read("proc/cmdline")
    if text is not None:
        boot = parse_cmdline(text, max(possible) + 1 if possible else None)
        for error in boot.errors:
            root.note("proc/cmdline", error)
        if boot.isolcpus:
            flags = boot.isolcpus_flags
            sources[f"cmdline:isolcpus({','.join(flags)})"] = boot.isolcpus
        if boot.nohz_full:
            sources["cmdline:nohz_full"] = boot.nohz_full
        if boot.irqaffinity:
            # irqaffinity= names the CPUs IRQs may use; the rest are meant to stay free
            outside = sets.online - boot.irqaffinity
            if outside:
                sources["cmdline:irqaffinity"] = outside
    cpus = frozenset().union(*sources.values()) & possible if sources else frozenset()
    return S.Isolation(cpus=frozenset(cpus), sources=sources, isolcpus_flags=flags)


def _actions(row: IrqRow, sys_irqs: dict[int, SysIrq] | None) -> tuple[str, ...]:
    if sys_irqs and row.irq in sys_irqs:
        return sys_irqs[row.irq].actions
    return row.actions


def _irq_devices(rows: tuple[IrqRow, ...], pci: dict[str, S.PciFunction]) -> dict[int, str]:
    """IRQ -> PCI function: msi_irqs first, then the chip column, then INTx."""
    out: dict[int, str] = {}
    known = {row.irq for row in rows}
    for bdf, fn in pci.items():
        for irq in fn.msi_irqs:
            # vectors a driver allocated but never requested have no row
            if irq in known:
                out[irq] = bdf
    for row in rows:
        if row.irq not in out and row.chip_device and row.chip_device in pci:
            out[row.irq] = row.chip_device
    for bdf, fn in sorted(pci.items()):
        if fn.legacy_irq in known and fn.legacy_irq not in out and not fn.msi_irqs:
            out[fn.legacy_irq] = bdf
    return out


def _nics(netdevs: list[NetDevice], pci: dict[str, S.PciFunction], irq_device: dict[int, str],
          actions: dict[int, tuple[str, ...]]):
    by_function: dict[str, list[int]] = defaultdict(list)
    for irq, bdf in irq_device.items():
        by_function[bdf].append(irq)
    netdevs_per_fn: dict[str, int] = defaultdict(int)
    fn_of: dict[str, S.PciFunction | None] = {}
    for dev in netdevs:
        if dev.pci_path:
            fn = next((f for f in pci.values() if f.path == dev.pci_path), None)
        else:
            fn = pci.get(dev.pci_slot or "")
        fn_of[dev.name] = fn
        if fn:
            netdevs_per_fn[fn.bdf] += 1
    nics: list[S.Nic] = []
    irq_nic: dict[int, tuple[str, S.QueueRef | None]] = {}
    for dev in netdevs:
        fn = fn_of[dev.name]
        # a USB NIC sits below its host controller: those IRQs are not its own
        owns_irqs = fn is not None and (dev.bus_device is None or dev.bus_device.startswith("virtio"))
        own = {irq: actions.get(irq, ()) for irq in by_function.get(fn.bdf, [])} if owns_irqs and fn else {}
        if fn and netdevs_per_fn[fn.bdf] > 1:
            # several netdevs on one function: keep the IRQs named for this one
            own = {i: a for i, a in own.items() if any(dev.name in x for x in a) or _bdf_named(a, fn.bdf)}
        shared_with = sorted({irq_nic[i][0] for i in own if i in irq_nic})
        # one function, several netdevs (mlx4's two ports): a vector the first
        # netdev claimed is not also this one's queue
        own = {i: a for i, a in own.items() if i not in irq_nic}
        qmap = map_queues(dev.name, dev.driver, fn.bdf if fn else None, dev.bus_device, own,
                          single_netdev=not fn or netdevs_per_fn[fn.bdf] <= 1)
        for irq, ref in qmap.queues.items():
            irq_nic[irq] = (dev.name, ref)
        for irq in qmap.other:
            irq_nic.setdefault(irq, (dev.name, None))
        rx_served = {ref.queue for ref in qmap.queues.values() if ref.direction in ("rx", "rxtx")}
        if dev.virtual:
            kind = S.VIRTUAL
        elif qmap.note or not qmap.queues:
            kind = S.UNMAPPED
        elif len(rx_served) >= 2:
            kind = S.MULTIQUEUE
        else:
            kind = S.SINGLE_QUEUE
        note = qmap.note
        if shared_with and not qmap.queues:
            note = f"shares its PCI function's vectors with {', '.join(shared_with)}; they are listed there"
        if not dev.virtual and not owns_irqs:
            note = "no PCI function of its own (USB or other bus); its IRQs cannot be told apart"
        nics.append(S.Nic(
            name=dev.name, driver=dev.driver, pci=fn.bdf if fn else None,
            numa_node=fn.numa_node if fn else None, local_cpus=fn.local_cpus if fn else None,
            kind=kind, virtual=dev.virtual, devtype=dev.devtype, operstate=dev.operstate,
            rx=dev.rx, tx=dev.tx,
            queue_irqs=tuple(sorted(qmap.queues.items())),
            other_irqs=tuple(sorted(qmap.other)),
            mapping_note=note,
        ))
    return nics, irq_nic


def _bdf_named(actions: tuple[str, ...], bdf: str) -> bool:
    return any(bdf in a for a in actions)


def _irq_class(irq: int, device: str | None, pci: dict[str, S.PciFunction], irq_nic) -> str:
    if irq in irq_nic:
        return S.NET_QUEUE if irq_nic[irq][1] is not None else S.NET_OTHER
    fn = pci.get(device) if device else None
    if fn is None:
        return S.PLATFORM
    if fn.base_class == S.CLASS_NETWORK:
        return S.NET_OTHER
    if fn.base_class == S.CLASS_STORAGE:
        return S.STORAGE
    return S.OTHER_DEVICE


def _movable(row: IrqRow, chip: str, actions: tuple[str, ...]) -> bool:
    if row.trigger in ("percpu", "percpu_devid"):
        return False
    # x86 marks the legacy timer IRQD_NO_BALANCING: affinity writes fail with EIO
    if row.irq == 0 and actions == ("timer",) and "IO-APIC" in chip:
        return False
    # GIC SGIs and PPIs (hwirq < 32) are per-CPU: arch_timer, PMU, vgic
    if chip.startswith("GIC") and row.hwirq is not None and row.hwirq < 32:
        return False
    return bool(actions)

"""The machine generator writes what the kernel would, and discovery reads back exactly the spec."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from irqd import snapshot as S
from irqd.cli.show import render_json
from irqd.discover import discover
from tests.support.checks import check_links
from tests.support.kernelfmt import format_mask, interrupts_header, interrupts_row, other_row
from tests.support.machine import write_machine
from tests.support.paths import FIXTURES
from tests.support.spec import MachineSpec, NicSpec, NvmeSpec
from tests.support.topology import spread_masks, topology_of
from tests.support.trees import large_specs, spec_irq_count

ALL_DRIVERS = ("i40e", "ice", "ixgbe", "mlx5_core", "bnxt_en", "ena", "gve", "virtio_net", "igb")

SPECS = {
    "1node-nosmt": MachineSpec(cores_per_node=4, nics=(NicSpec("eth0", "ixgbe", queues=4),), seed=1),
    "2socket-smt-every-driver": MachineSpec(
        sockets=2, cores_per_node=4, threads_per_core=2, l3_per_node=2, seed=2,
        nics=(*(NicSpec(f"eth{k}", d, node=k % 2, queues=2 + k % 3) for k, d in enumerate(ALL_DRIVERS)),
              NicSpec("enp3s0", "r8169", node=0, queues=1)),
        nvme=(NvmeSpec("nvme0", node=1), NvmeSpec("nvme1", node=0, io_queues=4))),
    "4node-offline-isolated": MachineSpec(
        sockets=2, nodes_per_socket=2, cores_per_node=3, threads_per_core=2, offline=(5, 20),
        cmdline="BOOT_IMAGE=/vmlinuz ro isolcpus=managed_irq,domain,2,14 nohz_full=2,14,15 irqaffinity=0-1,3-13",
        nics=(NicSpec("ens1f0", "mlx5_core", node=3, queues=8), NicSpec("ens1f1", "ice", node=-1, queues=3, extra=2),
              NicSpec("ens2", "virtio_net", node=1, queues=1), NicSpec("ens3", "i40e", node=2, queues=1),
              NicSpec("ens4", "bnxt_en", node=0, queues=4, rx=8, tx=6)),
        nvme=(NvmeSpec("nvme0", node=2, io_queues=3),), seed=3),
    "managed-irq-only": MachineSpec(
        cores_per_node=8, cmdline="isolcpus=managed_irq,nohz,4-7", remap=False, dmar=False,
        nics=(NicSpec("eth0", "gve", queues=4),), nvme=(NvmeSpec("nvme0"),), seed=4),
}


@pytest.fixture(scope="module")
def machines(tmp_path_factory):
    out = {}
    for name, spec in SPECS.items():
        root = tmp_path_factory.mktemp(name)
        out[name] = (str(root), write_machine(str(root), spec))
    return out


# -- the kernel's text forms ---------------------------------------------------

def test_interrupts_lines_match_a_captured_kernel():
    captured = (FIXTURES / "dev-virtio-2cpu" / "proc" / "interrupts").read_text().splitlines(keepends=True)
    assert interrupts_header([0, 1], 3) == captured[0]
    assert interrupts_row(24, [1, 0], "IO-APIC", 5, "edge", ("ACPI:Ged",), 3) == captured[1]
    assert interrupts_row(38, [0, 293], "PCI-MSIX-0000:00:03.0", 1, "edge", ("virtio2-input.0",), 3) in captured
    assert other_row("NMI", [0, 0], "Non-maskable interrupts", 3) in captured


@pytest.mark.parametrize("nbits,cpus,text", [
    (2, {0, 1}, "3"), (8, set(), "00"), (64, {0, 63}, "80000000,00000001"),
    (80, set(range(80)), "ffff,ffffffff,ffffffff"), (36, {35}, "8,00000000"),
    (1024, {1023}, "80000000" + ",00000000" * 31),
])
def test_mask_width_follows_nr_cpu_ids(nbits, cpus, text):
    assert format_mask(cpus, nbits) == text


def test_spread_masks_partition_and_keep_siblings():
    spec = MachineSpec(sockets=2, nodes_per_socket=2, cores_per_node=4, threads_per_core=2)
    topo = topology_of(spec)
    for nvec in (1, 3, 4, 5, 8, 16, 32):
        masks = spread_masks(nvec, topo)
        assert len(masks) == nvec
        assert sum(len(m) for m in masks) == spec.cpus and frozenset().union(*masks) == set(range(spec.cpus))
    for mask in spread_masks(16, topo):  # two CPUs per vector: one core's two threads
        assert len(mask) == 2 and all(topo.siblings[c] == mask for c in mask)
    for mask in spread_masks(8, topo):   # never across nodes when there are enough vectors
        assert len({topo.node_of[c] for c in mask}) == 1


def test_large_specs_have_the_promised_size():
    small, big = large_specs()
    assert (small.cpus, small.nodes) == (256, 8) and 900 <= spec_irq_count(small) <= 1100
    assert (big.cpus, big.nodes) == (1024, 16) and 3800 <= spec_irq_count(big) <= 4200
    for spec in (small, big):
        assert len({n.bdf for n in spec.nics} | {n.bdf for n in spec.nvme}) == len(spec.nics) + len(spec.nvme)


# -- the tree -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_tree_links_are_relative_and_resolve_inside(machines, name):
    root, info = machines[name]
    check_links(root)
    assert spec_irq_count(info.spec) == len(info.rates)


def test_same_seed_same_bytes(tmp_path):
    spec = SPECS["2socket-smt-every-driver"]
    write_machine(str(tmp_path / "a"), spec)
    write_machine(str(tmp_path / "b"), spec)
    for rel in ("proc/interrupts", "proc/stat", "proc/softirqs", "sys/kernel/irq/40/per_cpu_count"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    other = MachineSpec(**{**spec.__dict__, "seed": 99})
    write_machine(str(tmp_path / "c"), other)
    assert (tmp_path / "a/proc/interrupts").read_bytes() != (tmp_path / "c/proc/interrupts").read_bytes()


def test_counts_are_skewed_so_some_queues_are_hot(machines):
    _, info = machines["2socket-smt-every-driver"]
    rates = sorted(info.rates[i] for n in info.nics.values() for i in n.queue_irqs)
    assert rates[-1] > 4 * rates[len(rates) // 2]


# -- discovery reads back the spec ------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_discover_recovers_the_spec(machines, name):
    root, info = machines[name]
    spec = info.spec
    snap = discover(root)
    assert snap.problems == ()

    assert snap.possible == set(range(spec.cpus))
    assert snap.online == info.online and len(snap.online) == spec.cpus - len(spec.offline)
    assert set(snap.nodes) == set(range(spec.nodes))
    for node, cpus in info.node_cpus.items():
        assert snap.nodes[node].cpus == cpus & info.online
    for cpu in info.online:
        topo = snap.topology[cpu]
        assert topo.siblings == info.siblings[cpu]
        assert topo.llc == info.llc[cpu] and topo.llc_level == 3
        assert (topo.package, topo.core) == info.core_of[cpu]
        assert snap.cpu_node[cpu] == next(n for n, c in info.node_cpus.items() if cpu in c)
    cores = {(snap.topology[c].package, snap.topology[c].core) for c in snap.online}
    assert len(cores) == len({c % spec.cores for c in info.online})

    expect_iso = info.isolcpus | info.nohz_full
    if info.irqaffinity is not None:
        expect_iso |= info.online - info.irqaffinity
    assert snap.isolation.cpus == expect_iso & snap.possible

    assert set(snap.irqs) == set(info.rates)
    for irq, rate in info.rates.items():
        assert snap.irqs[irq].total == pytest.approx(rate * snap.uptime, abs=1.0)

    assert {n.name for n in snap.nics if not n.virtual} == set(info.nics)
    for ifname, want in info.nics.items():
        nic = snap.nic(ifname)
        assert nic.driver == want.spec.driver
        assert nic.pci == want.bdf
        assert nic.numa_node == want.spec.node
        if want.spec.node >= 0:
            assert nic.local_cpus == info.node_cpus[want.spec.node] & info.online
        else:
            assert nic.local_cpus == info.online
        assert (len(nic.rx), len(nic.tx)) == (want.spec.rx_queues, want.spec.tx_queues)
        rx_served = {q for q, d in want.queue_irqs.values() if d in ("rx", "rxtx")}
        assert nic.kind == (S.MULTIQUEUE if len(rx_served) >= 2 else S.SINGLE_QUEUE)
        assert nic.mapping_note is None
        assert {irq: (ref.queue, ref.direction) for irq, ref in nic.queue_irqs} == want.queue_irqs
        assert set(nic.other_irqs) == set(want.other_irqs)
        for irq in want.queue_irqs:
            assert snap.irqs[irq].cls == S.NET_QUEUE and snap.irqs[irq].nic == ifname
        for irq in want.other_irqs:
            assert snap.irqs[irq].cls == S.NET_OTHER

    for nv in info.nvme.values():
        assert snap.irqs[nv.admin_irq].cls == S.STORAGE and snap.irqs[nv.admin_irq].managed is None
        for irq in nv.io_irqs:
            i = snap.irqs[irq]
            assert i.cls == S.STORAGE and i.device == nv.bdf
            assert i.affinity == nv.masks[irq]
            assert i.managed == ("likely" if len(nv.io_irqs) >= 2 else None), (irq, i.affinity)
    for irq in info.platform_irqs:
        assert snap.irqs[irq].cls == S.PLATFORM


@pytest.mark.parametrize("name", sorted(SPECS))
def test_capture_of_a_generated_tree_reads_the_same(machines, name, tmp_path):
    root, _ = machines[name]
    dest = tmp_path / "cap"
    out = subprocess.run([sys.executable, "-m", "irqd", "capture", "--root", root, str(dest)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert render_json(discover(str(dest))) == render_json(discover(root))


def test_the_256_cpu_benchmark_machine_reads_back():
    spec = large_specs()[0]
    base = tempfile.mkdtemp(prefix="irqd-gen-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    try:
        info = write_machine(os.path.join(base, "m"), spec)
        snap = discover(os.path.join(base, "m"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert snap.problems == ()
    assert len(snap.online) == 256 and len(snap.nodes) == 8 and len(snap.irqs) == len(info.rates)
    for ifname, want in info.nics.items():
        nic = snap.nic(ifname)
        assert nic.kind == S.MULTIQUEUE and nic.numa_node == want.spec.node
        assert {irq: (ref.queue, ref.direction) for irq, ref in nic.queue_irqs} == want.queue_irqs
    for nv in info.nvme.values():
        assert all(snap.irqs[i].managed == "likely" for i in nv.io_irqs)

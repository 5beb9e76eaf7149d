"""Hypothesis strategies for generated machines, shared by the planner property tests and the audit tests.

``machines()`` draws small machines (2-64 CPUs, 1-4 nodes, SMT on or off,
offline CPUs, CPUs isolated by isolcpus=/nohz_full=), 1-3 multiqueue NICs
with 1..2x cores queues, and sometimes an NVMe drive with managed vectors.
"""

from hypothesis import assume
from hypothesis import strategies as st

from tests.support.kernelfmt import format_list
from tests.support.spec import MachineSpec, NicSpec, NvmeSpec

MULTIQUEUE = ("i40e", "ice", "ixgbe", "mlx5_core", "bnxt_en", "ena", "gve", "virtio_net", "igb")


@st.composite
def machines(draw, shared_nodes: bool = True, unknown_node: bool = True):
    sockets = draw(st.integers(1, 2))
    nps = draw(st.integers(1, 2))
    threads = draw(st.sampled_from((1, 2)))
    per_node = draw(st.integers(1, max(1, 64 // (sockets * nps * threads))))
    ncpu = sockets * nps * per_node * threads
    assume(ncpu >= 2)
    nodes = sockets * nps
    ncores = nodes * per_node
    offline = tuple(sorted(draw(st.sets(st.integers(1, ncpu - 1), max_size=min(2, ncpu - 1)))))
    iso = sorted(draw(st.sets(st.integers(1, ncpu - 1), max_size=ncpu // 2)))
    form = draw(st.sampled_from(("none", "isolcpus", "managed_domain_nohz", "managed_only", "nohz_full")))
    cpus = format_list(iso)
    cmdline = "BOOT_IMAGE=/vmlinuz ro quiet"
    if iso and form == "isolcpus":
        cmdline += f" isolcpus={cpus}"
    elif iso and form == "managed_domain_nohz":
        cmdline += f" isolcpus=managed_irq,domain,{cpus} nohz_full={cpus}"
    elif iso and form == "managed_only":
        cmdline += f" isolcpus=managed_irq,{cpus}"
    elif iso and form == "nohz_full":
        cmdline += f" nohz_full={cpus}"
    nic_count = draw(st.integers(1, 3))
    node_choices = list(range(nodes)) + ([-1] if unknown_node else [])
    if shared_nodes:
        nic_nodes = [draw(st.sampled_from(node_choices)) for _ in range(nic_count)]
    else:
        nic_count = min(nic_count, nodes)
        nic_nodes = draw(st.permutations(list(range(nodes))))[:nic_count]
    nics = tuple(NicSpec(f"eth{k}", draw(st.sampled_from(MULTIQUEUE)), node=node,
                         queues=draw(st.integers(1, 2 * ncores)))
                 for k, node in enumerate(nic_nodes))
    nvme: tuple[NvmeSpec, ...] = ()
    if draw(st.booleans()):
        nvme = (NvmeSpec("nvme0", node=draw(st.integers(0, nodes - 1)),
                         io_queues=draw(st.integers(1, ncpu))),)
    return MachineSpec(sockets=sockets, nodes_per_socket=nps, cores_per_node=per_node, threads_per_core=threads,
                       l3_per_node=draw(st.integers(1, min(2, per_node))), offline=offline, cmdline=cmdline,
                       nics=nics, nvme=nvme, seed=draw(st.integers(0, 3)))

"""Which drivers ask the kernel to manage their MSI-X vectors, read from the driver source.

A driver that allocates its vectors with ``PCI_IRQ_AFFINITY``
(``pci_alloc_irq_vectors_affinity()``, or ``virtio_find_vqs()`` with a
``struct irq_affinity`` descriptor) gets kernel-managed vectors: the kernel
sets ``IRQD_AFFINITY_MANAGED``, picks each vector's CPUs itself, and refuses
writes to ``/proc/irq/N/smp_affinity`` with EIO. The descriptor's
``pre_vectors`` (the first N vectors) and ``post_vectors`` (the last N) are
left out of the spreading: they are ordinary IRQs with the default affinity
(or whatever the driver sets) and may be moved.

How the kernel spreads the managed ones (``kernel/irq/affinity.c``
irq_create_affinity_masks(), which calls ``lib/group_cpus.c``
group_cpus_evenly() since 6.3, before that irq_build_affinity_masks() in the
same file): pre/post vectors get ``irq_default_affinity``; the remaining
vectors are shared among the NUMA nodes in proportion to their CPU counts
(alloc_nodes_groups(), every node with CPUs gets at least one); inside a node
the CPUs are cut into runs of equal size, and a run takes a CPU's SMT
siblings before the next core (grp_spread_init_one()), so with as many
vectors as CPUs each vector gets one CPU and siblings get neighbouring
vectors. Present CPUs are spread first, then the possible-but-not-present
ones. A single managed vector gets every CPU (a mask of all CPUs), which is
why no "masks partition the CPUs" test can see it.

``/sys/kernel/debug/irq/irqs/N`` (CONFIG_GENERIC_IRQ_DEBUGFS, root only,
debugfs mounted) proves it. ``kernel/irq/debugfs.c`` irq_debug_show() prints
``handler:``, ``device:``, ``status:``, ``istate:``, ``ddepth:``, ``wdepth:``,
then ``dstate:   0x%08x`` followed by one line per set IRQD_* bit, each
indented by 12 spaces (irq_debug_show_bits(): ``"%*s%s\\n", ind + 12, ""``),
then ``node:``, ``affinity: %*pbl``, ``effectiv: %*pbl`` and the domain/chip
hierarchy. A managed vector's dstate lists ``IRQD_AFFINITY_MANAGED``
(``IRQD_MANAGED_SHUTDOWN`` too while all its CPUs are offline). The sample
below is NOT a capture: its layout follows debugfs.c, its flag lines are the
ones a started, managed, edge MSI-X vector on x86 has at least, printed in
the order of debugfs.c's irqdata_states table, and its dstate value is those
bits summed with the positions of ``include/linux/irq.h`` (IRQ_TYPE_EDGE_RISING
bit 0, IRQD_ACTIVATED 9, IRQD_AFFINITY_MANAGED 21, IRQD_IRQ_STARTED 22,
IRQD_SINGLE_TARGET 24). A real file may show more flags (e.g.
IRQD_DEFAULT_TRIGGER_SET, IRQD_CAN_RESERVE on unmanaged vectors) and the
domain/chip hierarchy after ``pending:`` (x86: CONFIG_GENERIC_PENDING_IRQ);
parse the flag names, not the hex. The read is root-only and debugfs may be
absent or restricted by kernel lockdown::

    handler:  handle_edge_irq
    device:   0000:18:00.0
    status:   0x00000000
    istate:   0x00000000
    ddepth:   0
    wdepth:   0
    dstate:   0x01600201
                IRQ_TYPE_EDGE_RISING
                IRQD_ACTIVATED
                IRQD_IRQ_STARTED
                IRQD_SINGLE_TARGET
                IRQD_AFFINITY_MANAGED
    node:     0
    affinity: 17
    effectiv: 17
    pending:
    domain:  ...

Recent series (Daniel Wagner / Aaron Tomlin, 2025) add ``.mask =
blk_mq_online_queue_affinity()`` to the descriptors of megaraid_sas, mpt3sas,
mpi3mr, hisi_sas v3 and pm8001 ("exclude CPUs ... e.g., isolated CPUs" from
the spread; the isolcpus flag that turns it on was not checked); the pre/post
split below is unchanged by it.

Only facts read in the driver source are recorded here; each rule names the
file and function. Drivers checked and left out: see ``NOT_RECORDED``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Role = Literal["managed", "pre", "post"]


@dataclass(frozen=True)
class VectorRule:
    """One IRQ action-name pattern of a driver and what the kernel makes of it.

    ``role`` is "managed", "pre" or "post". ``index_group`` names the regex
    group holding the MSI-X index when the role depends on it: then vectors
    below ``pre_vectors`` are "pre" and the rest "managed". ``pre_vectors``
    holds every count the source can choose (the smallest is assumed unless
    the caller knows better; see managed_vectors()).
    """

    pattern: re.Pattern[str]
    role: Role
    index_group: str | None = None
    pre_vectors: tuple[int, ...] = ()
    last_is_post: bool = False   # the device's last vector is a post vector
    source: str = ""


@dataclass(frozen=True)
class ManagedDriver:
    """A driver (the name its ``driver`` symlink shows) whose vectors may be managed."""

    driver: str
    rules: tuple[VectorRule, ...]
    since: str                   # kernel version where the rule starts to hold, "" when not verified
    condition: str               # when PCI_IRQ_AFFINITY is actually used
    source: str


def _re(text: str) -> re.Pattern[str]:
    return re.compile(text)


DRIVERS: tuple[ManagedDriver, ...] = (
    ManagedDriver(
        driver="nvme",
        rules=(
            # drivers/nvme/host/pci.c nvme_setup_irqs(): struct irq_affinity affd = { .pre_vectors = 1,
            # .calc_sets = nvme_calc_irq_sets }: vector 0 (admin queue, qid 0) is not managed.
            # queue_request_irq(): pci_request_irq(..., "nvme%dq%d", ctrl.instance, nvmeq->qid).
            # With a single vector the admin queue and I/O queue 1 share it (action list
            # "nvme0q0, nvme0q1"): that vector is the pre vector.
            VectorRule(_re(r"^nvme[0-9]+q0$"), "pre", source="nvme_setup_irqs pre_vectors = 1"),
            VectorRule(_re(r"^nvme[0-9]+q[1-9][0-9]*$"), "managed", source="nvme_setup_irqs PCI_IRQ_AFFINITY"),
        ),
        since="",  # the first kernel with PCI_IRQ_AFFINITY in nvme was not verified
        condition="always when MSI-X/MSI; poll queues (poll_queues=) get no vector at all",
        source="drivers/nvme/host/pci.c nvme_setup_irqs(), queue_request_irq()",
    ),
    ManagedDriver(
        driver="megaraid_sas",
        rules=(
            # drivers/scsi/megaraid/megaraid_sas_base.c megasas_setup_irqs_msix():
            # snprintf(name, MEGASAS_MSIX_NAME_LEN, "%s%u-msix%u", "megasas", host->host_no, i)
            # (host_no is the SCSI host number). __megasas_alloc_irq_vectors():
            # struct irq_affinity desc = { .pre_vectors = instance->low_latency_index_start },
            # PCI_IRQ_AFFINITY only when instance->smp_affinity_enable (module parameter, default 1).
            # megasas_init_fw(): low_latency_index_start = MR_HIGH_IOPS_QUEUE_COUNT (8) in
            # MR_BALANCED_PERF_MODE (interrupt coalescing supported, >= 8 online CPUs and 128
            # firmware vectors, Aero may override via perf_mode=), else 1; msix_vectors =
            # min(num_online_cpus() + low_latency_index_start, fw vectors).
            # megasas_set_high_iops_queue_affinity_and_hint(): in balanced mode the pre vectors get
            # affinity and hint = cpumask_of_node(device node); in latency mode msix0 keeps the default.
            VectorRule(_re(r"^megasas[0-9]+-msix(?P<index>[0-9]+)$"), "managed", index_group="index",
                       pre_vectors=(1, 8), source="__megasas_alloc_irq_vectors, megasas_init_fw"),
        ),
        since="pre_vectors = low_latency_index_start: commit 132147d7f620 (2019-06-25, about 5.3); "
              "names megasasN-msixM from a patch of Oct 2019 (about 5.5; before, every vector was "
              "named 'megasas'); release numbers inferred from dates, not verified",
        condition="smp_affinity_enable=1 (default) and MSI-X",
        source="drivers/scsi/megaraid/megaraid_sas_base.c megasas_setup_irqs_msix(), "
               "__megasas_alloc_irq_vectors(), megasas_init_fw(), megasas_set_high_iops_queue_affinity_and_hint()",
    ),
    ManagedDriver(
        driver="mpt3sas",
        rules=(
            # drivers/scsi/mpt3sas/mpt3sas_base.c _base_request_irq():
            # snprintf(reply_q->name, MPT_NAME_LENGTH, "%s%d-msix%d", ioc->driver_name, ioc->id, index);
            # driver_name is "mpt3sas" or "mpt2sas" (SAS2 controllers bound to mpt3sas).
            # _base_alloc_irq_vectors(): desc = { .pre_vectors = ioc->high_iops_queues },
            # PCI_IRQ_AFFINITY when ioc->smp_affinity_enable.
            # _base_check_and_enable_high_iops_queues(): high_iops_queues = MPT3SAS_HIGH_IOPS_REPLY_QUEUES (8)
            # only on Aero/Sea with 128 vectors, >= 8 online CPUs, default max_msix_vectors, not kdump,
            # PCIe >= 16 GT/s and perf_mode default; else 0 -- then msix0 IS managed.
            # _base_enable_msix(): smp_affinity_enable = 0 when msix_vector_count < cpu_count.
            VectorRule(_re(r"^mpt[23]sas[0-9]+-msix(?P<index>[0-9]+)$"), "managed", index_group="index",
                       pre_vectors=(0, 8), source="_base_alloc_irq_vectors, _base_check_and_enable_high_iops_queues"),
        ),
        since="",  # when high_iops_queues arrived was not verified
        condition="smp_affinity_enable (module default 1) and as many firmware vectors as CPUs",
        source="drivers/scsi/mpt3sas/mpt3sas_base.c _base_request_irq(), _base_alloc_irq_vectors(), "
               "_base_check_and_enable_high_iops_queues(), _base_enable_msix()",
    ),
    ManagedDriver(
        driver="mpi3mr",
        rules=(
            # drivers/scsi/mpi3mr/mpi3mr_fw.c mpi3mr_setup_isr(): desc = { .pre_vectors = 1,
            # .post_vectors = 1 }; mpi3mr_request_irq(): "%s%d-msix%d", driver_name, id, index.
            # The post vector's index depends on the count, so only msix0 is named here;
            # the last vector of the device is the post vector (see managed_vectors(last_index=)).
            VectorRule(_re(r"^mpi3mr[0-9]+-msix(?P<index>[0-9]+)$"), "managed", index_group="index",
                       pre_vectors=(1,), last_is_post=True, source="mpi3mr_setup_isr"),
        ),
        since="",
        condition="always with MSI-X",
        source="drivers/scsi/mpi3mr/mpi3mr_fw.c mpi3mr_setup_isr(), mpi3mr_request_irq()",
    ),
    ManagedDriver(
        driver="hisi_sas_v3_hw",
        rules=(
            # drivers/scsi/hisi_sas/hisi_sas_v3_hw.c interrupt_preinit_v3_hw(): desc = { .pre_vectors =
            # BASE_VECTORS_V3_HW (16) }, PCI_IRQ_MSI | PCI_IRQ_AFFINITY (MSI, not MSI-X).
            # interrupt_init_v3_hw(): vector 1 DRV_NAME " phy", 2 " channel", 11 " fatal" (pre vectors),
            # completion queues at 16 + i named DRV_NAME " cq" (managed). DRV_NAME "hisi_sas_v3_hw".
            VectorRule(_re(r"^hisi_sas_v3_hw (phy|channel|fatal)$"), "pre", source="interrupt_init_v3_hw"),
            VectorRule(_re(r"^hisi_sas_v3_hw cq$"), "managed", source="interrupt_preinit_v3_hw"),
        ),
        since="",
        condition="older kernels only with auto_affine_msi_experimental=1 (interrupt_preinit_v3_hw had "
                  "a plain pci_alloc_irq_vectors() branch); not with hisi_sas_intr_conv=1 (all cq share vector 16)",
        source="drivers/scsi/hisi_sas/hisi_sas_v3_hw.c interrupt_preinit_v3_hw(), interrupt_init_v3_hw()",
    ),
    ManagedDriver(
        driver="smartpqi",
        rules=(
            # drivers/scsi/smartpqi/smartpqi_init.c pqi_enable_msix_interrupts():
            # pci_alloc_irq_vectors(..., PCI_IRQ_MSIX | PCI_IRQ_AFFINITY) with no descriptor: no pre
            # vectors, every vector managed. pqi_request_irqs(): request_irq(..., DRIVER_NAME_SHORT
            # "smartpqi", ...) -- every vector has the same name.
            VectorRule(_re(r"^smartpqi$"), "managed", source="pqi_enable_msix_interrupts"),
        ),
        since="",
        condition="MSI-X, and not pqi_disable_managed_interrupts=1 (module parameter in newer kernels)",
        source="drivers/scsi/smartpqi/smartpqi_init.c pqi_enable_msix_interrupts(), pqi_request_irqs()",
    ),
    ManagedDriver(
        driver="qla2xxx",
        rules=(
            # drivers/scsi/qla2xxx/qla_isr.c qla24xx_enable_msix(): desc = { .pre_vectors =
            # QLA_BASE_VECTORS (2) }, +1 when target mode is on and ATIO has its own vector;
            # PCI_IRQ_MSIX | PCI_IRQ_AFFINITY unless USER_CTRL_IRQ(ha) or no multiqueue (mqiobase).
            # The base vectors are named from msix_entries[]: "qla2xxx (default)", "qla2xxx (rsp_q)",
            # "qla2xxx (atio_q)"; qla25xx_request_irq() names queue-pair vectors
            # "qla2xxx%lu_qpair%d" (host_no, qpair id). "qla2xxx (multiq)" is not classified.
            VectorRule(_re(r"^qla2xxx \((default|rsp_q|atio_q)\)$"), "pre", source="qla24xx_enable_msix"),
            VectorRule(_re(r"^qla2xxx[0-9]+_qpair[0-9]+$"), "managed",
                       source="qla24xx_enable_msix, qla25xx_request_irq"),
        ),
        since="",
        condition="multiqueue adapter (mqiobase) and not USER_CTRL_IRQ (ql2xuctrlirq in target mode)",
        source="drivers/scsi/qla2xxx/qla_isr.c qla24xx_enable_msix(), msix_entries[], qla25xx_request_irq()",
    ),
    ManagedDriver(
        driver="virtio_blk",
        rules=(
            # drivers/virtio/virtio_pci_common.c vp_request_msix_vectors(): with a descriptor,
            # flags |= PCI_IRQ_AFFINITY; desc->pre_vectors++ ("virtio config vector"), named
            # "%s-config" (dev_name of the virtio device, e.g. virtio1). vp_find_vqs_msix(): one vector
            # per virtqueue with a callback, named "%s-%s" dev_name, vq name; the descriptor is only
            # passed on the per-vq-vector attempt -- the shared fallback ("virtioN-virtqueues")
            # is not managed. drivers/block/virtio_blk.c init_vq(): struct irq_affinity desc = { 0, },
            # vq names "req.%u" (poll queues "req_poll.%u" have no callback, no vector).
            VectorRule(_re(r"^virtio[0-9]+-config$"), "pre", source="vp_request_msix_vectors"),
            VectorRule(_re(r"^virtio[0-9]+-req\.[0-9]+$"), "managed", source="virtio_blk init_vq"),
        ),
        since="",  # first kernel passing the descriptor not verified
        condition="MSI-X with one vector per virtqueue",
        source="drivers/block/virtio_blk.c init_vq(); drivers/virtio/virtio_pci_common.c "
               "vp_request_msix_vectors(), vp_find_vqs_msix()",
    ),
    ManagedDriver(
        driver="virtio_scsi",
        rules=(
            # drivers/scsi/virtio_scsi.c virtscsi_init(): desc = { .pre_vectors = 2 } (control, event;
            # VIRTIO_SCSI_VQ_BASE = 2), vq names "control", "event" and "request" for EVERY request
            # queue (no index: all request vectors share one name). Config vector as for virtio_blk,
            # pre_vectors becomes 3 in vp_request_msix_vectors().
            VectorRule(_re(r"^virtio[0-9]+-config$"), "pre", source="vp_request_msix_vectors"),
            VectorRule(_re(r"^virtio[0-9]+-(control|event)$"), "pre", source="virtscsi_init pre_vectors = 2"),
            VectorRule(_re(r"^virtio[0-9]+-request$"), "managed", source="virtscsi_init"),
        ),
        since="",  # first kernel passing the descriptor not verified
        condition="MSI-X with one vector per virtqueue",
        source="drivers/scsi/virtio_scsi.c virtscsi_init(); drivers/virtio/virtio_pci_common.c vp_find_vqs_msix()",
    ),
)

# Checked and not recorded, with the reason.
NOT_RECORDED = {
    "aacraid": "aac_define_int_mode() uses PCI_IRQ_MSIX | PCI_IRQ_AFFINITY without pre vectors, but a "
               "2024-25 patch proposes dropping PCI_IRQ_AFFINITY; its IRQ name was not verified",
    "lpfc": "not read",
    "be2iscsi": "not read",
    "hpsa": "not read",
    "virtio_net": "virtnet_find_vqs() passes no irq_affinity descriptor: its vectors are not managed",
}

_BY_DRIVER = {d.driver: d for d in DRIVERS}


def driver_rules(driver: str | None) -> tuple[VectorRule, ...]:
    """The rules that apply to ``driver``; every rule when the driver is unknown (None, virtio-pci)."""
    if driver is not None and driver in _BY_DRIVER:
        return _BY_DRIVER[driver].rules
    return tuple(r for d in DRIVERS for r in d.rules)


def _classify(rule: VectorRule, name: str, pre_vectors: int | None, last_index: int | None) -> Role | None:
    m = rule.pattern.match(name)
    if m is None:
        return None
    if rule.index_group is None:
        return rule.role
    index = int(m.group(rule.index_group))
    pre = pre_vectors if pre_vectors is not None else min(rule.pre_vectors)
    if index < pre:
        return "pre"
    if rule.last_is_post and last_index is not None and index == last_index:
        return "post"
    return rule.role


def managed_vectors(driver: str | None, actions: tuple[str, ...], *, pre_vectors: int | None = None,
                    last_index: int | None = None) -> Role | None:
    """What the driver source says about the IRQ whose action names are ``actions``.

    ``driver`` is the name behind the PCI function's ``driver`` link, or, for
    virtio devices, the virtio driver (``virtio_blk``); None or an unlisted
    name ("virtio-pci") matches the names against every driver. Returns
    "managed", "pre", "post", or None when no rule matches.

    ``pre_vectors``: where the source allows several counts (megaraid_sas 1 or
    8, mpt3sas 0 or 8) the smallest is assumed, which errs towards "managed":
    an IRQ wrongly left alone costs balance, a wrong write costs an EIO. Pass
    the real count when it is known (debugfs, or the vectors with an affinity
    hint). ``last_index``: the device's highest MSI-X index, for mpi3mr's post
    vector.

    An IRQ shared by several actions (nvme's single-vector "nvme0q0, nvme0q1")
    is "pre" if any action is a pre vector: the kernel set up one vector, and
    vector 0 is a pre vector.
    """
    roles: list[Role] = []
    for name in actions:
        for rule in driver_rules(driver):
            role = _classify(rule, name, pre_vectors, last_index)
            if role is not None:
                roles.append(role)
                break
    if "pre" in roles:
        return "pre"
    if "post" in roles:
        return "post"
    return "managed" if roles else None

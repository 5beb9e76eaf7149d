"""managed_drivers: driver-source knowledge of kernel-managed vectors, on real IRQ names."""

from __future__ import annotations

import pytest

from irqd.discover.managed_drivers import DRIVERS, driver_rules, managed_vectors


@pytest.mark.parametrize("driver, name, role", [
    # megaraid_sas: msix0 is the pre vector (low_latency_index_start = 1), the rest managed
    ("megaraid_sas", "megasas1-msix0", "pre"),
    ("megaraid_sas", "megasas1-msix1", "managed"),
    ("megaraid_sas", "megasas1-msix17", "managed"),
    ("megaraid_sas", "megasas0-msix80", "managed"),
    # nvme: the admin queue is pre_vectors = 1
    ("nvme", "nvme0q0", "pre"),
    ("nvme", "nvme0q3", "managed"),
    ("nvme", "nvme12q128", "managed"),
    # virtio_blk: config is the pre vector virtio_pci_common adds; req.N managed
    ("virtio_blk", "virtio1-req.0", "managed"),
    ("virtio_blk", "virtio1-config", "pre"),
    # virtio_scsi: control and event are pre_vectors = 2; every request vq is named "request"
    ("virtio_scsi", "virtio2-request", "managed"),
    ("virtio_scsi", "virtio2-control", "pre"),
    ("virtio_scsi", "virtio2-event", "pre"),
    ("virtio_scsi", "virtio2-config", "pre"),
    # mpt3sas without high-iops queues: no pre vector, msix0 is managed too
    ("mpt3sas", "mpt3sas0-msix0", "managed"),
    ("mpt3sas", "mpt2sas1-msix7", "managed"),
    ("smartpqi", "smartpqi", "managed"),
    ("hisi_sas_v3_hw", "hisi_sas_v3_hw cq", "managed"),
    ("hisi_sas_v3_hw", "hisi_sas_v3_hw phy", "pre"),
    ("mpi3mr", "mpi3mr0-msix0", "pre"),
    ("qla2xxx", "qla2xxx (default)", "pre"),
    ("qla2xxx", "qla2xxx (rsp_q)", "pre"),
    ("qla2xxx", "qla2xxx11_qpair3", "managed"),
])
def test_real_names(driver, name, role):
    assert managed_vectors(driver, (name,)) == role


@pytest.mark.parametrize("driver, name", [
    ("virtio-pci", "virtio0-input.0"),        # virtio_net passes no descriptor
    ("virtio-pci", "virtio0-output.3"),
    ("virtio_net", "virtio0-input.0"),
    ("mlx5_core", "mlx5_comp3@pci:0000:3b:00.0"),
    ("ice", "ice-ens1f0-TxRx-5"),
    ("megaraid_sas", "megasas"),              # pre-5.5 name: index unknown, nothing claimed
    ("nvme", "nvme0q"),
    ("qla2xxx", "qla2xxx (multiq)"),
    ("virtio_scsi", "virtio2-request.3"),     # not a name the kernel gives (every request vq is "request")
    (None, "i8042"),
    (None, ""),
])
def test_unmanaged_or_unknown(driver, name):
    assert managed_vectors(driver, (name,)) is None


def test_a_driver_only_uses_its_own_rules():
    # an nvme-looking name on a megaraid function is not claimed
    assert managed_vectors("megaraid_sas", ("nvme0q3",)) is None
    # without a driver every rule is tried
    assert managed_vectors(None, ("nvme0q3",)) == "managed"
    assert managed_vectors("virtio-pci", ("virtio1-req.0",)) == "managed"


def test_known_pre_vector_count_overrides_the_smallest():
    # megaraid balanced perf mode: low_latency_index_start = 8
    assert managed_vectors("megaraid_sas", ("megasas0-msix7",)) == "managed"
    assert managed_vectors("megaraid_sas", ("megasas0-msix7",), pre_vectors=8) == "pre"
    assert managed_vectors("megaraid_sas", ("megasas0-msix8",), pre_vectors=8) == "managed"
    # mpt3sas high-iops queues
    assert managed_vectors("mpt3sas", ("mpt3sas0-msix0",), pre_vectors=8) == "pre"


def test_post_vector_needs_the_last_index():
    assert managed_vectors("mpi3mr", ("mpi3mr0-msix16",)) == "managed"
    assert managed_vectors("mpi3mr", ("mpi3mr0-msix16",), last_index=16) == "post"
    assert managed_vectors("mpi3mr", ("mpi3mr0-msix15",), last_index=16) == "managed"


def test_shared_single_vector_is_the_pre_vector():
    # nvme with one vector: admin and I/O queue 1 share vector 0
    assert managed_vectors("nvme", ("nvme0q0", "nvme0q1")) == "pre"
    assert managed_vectors("nvme", ("nvme0q2", "nvme0q1")) == "managed"


def test_every_rule_cites_its_source():
    for d in DRIVERS:
        assert d.source and d.rules, d.driver
        for rule in d.rules:
            assert rule.source, (d.driver, rule.pattern.pattern)
            assert rule.pattern.pattern.startswith("^") and rule.pattern.pattern.endswith("$")
    assert driver_rules("nvme") != driver_rules(None)

"""The driver zoo: which IRQ serves which queue, from documented names."""
from irqd.discover.queuemap import map_queues
from irqd.snapshot import QueueRef


def qmap(ifname, driver, bdf, names, bus_device=None, single=True):
    irqs = {100 + i: ((n,) if n is not None else ()) for i, n in enumerate(names)}
    m = map_queues(ifname, driver, bdf, bus_device, irqs, single)
    return {irqs[i][0] if irqs[i] else i: r for i, r in m.queues.items()}, \
        [irqs[i][0] if irqs[i] else i for i in m.other], m.note


def test_i40e_misc_and_fdir_are_not_queues():
    q, other, note = qmap("ens1f0", "i40e", "0000:18:00.0", [
        "i40e-0000:18:00.0:misc", "i40e-ens1f0-TxRx-0", "i40e-ens1f0-TxRx-1", "i40e-0000:18:00.0:fdir-TxRx-0"])
    assert q == {"i40e-ens1f0-TxRx-0": QueueRef(0), "i40e-ens1f0-TxRx-1": QueueRef(1)}
    assert other == ["i40e-0000:18:00.0:misc", "i40e-0000:18:00.0:fdir-TxRx-0"]
    assert note is None


def test_ice_ctrl_irdma_and_shared_vector():
    q, other, _ = qmap("ens5f0", "ice", "0000:af:00.0", [
        "ice-0000:af:00.0:misc", "ice-ens5f0-TxRx-0-1", "ice-ens5f0-TxRx-2", "ice-0000:af:00.0:ctrl-TxRx-0",
        "ice-0000:af:00.0:ll_ts", "irdma-0000:af:00.0-AEQ", "irdma-0000:af:00.0-CEQ-0"])
    assert q == {"ice-ens5f0-TxRx-0-1": QueueRef(0, "rxtx", (1,)), "ice-ens5f0-TxRx-2": QueueRef(2)}
    assert len(other) == 5


def test_ixgbe_link_vector_last_and_igb_first():
    q, other, _ = qmap("eth0", "ixgbe", "0000:01:00.0", ["eth0-TxRx-0", "eth0-TxRx-1", "eth0"])
    assert set(q) == {"eth0-TxRx-0", "eth0-TxRx-1"} and other == ["eth0"]
    q, other, _ = qmap("eno1", "igb", "0000:02:00.0", ["eno1", "eno1-rx-0", "eno1-tx-0", "eno1-rx-1"])
    assert q["eno1-rx-1"] == QueueRef(1, "rx") and q["eno1-tx-0"] == QueueRef(0, "tx")
    assert other == ["eno1"]


def test_mlx5_by_pci_address():
    q, other, _ = qmap("enp59s0f0np0", "mlx5_core", "0000:3b:00.0", [
        "mlx5_async0@pci:0000:3b:00.0", "mlx5_comp0@pci:0000:3b:00.0", "mlx5_comp1@pci:0000:3b:00.0"])
    assert q == {"mlx5_comp0@pci:0000:3b:00.0": QueueRef(0), "mlx5_comp1@pci:0000:3b:00.0": QueueRef(1)}
    assert other == ["mlx5_async0@pci:0000:3b:00.0"]


def test_ena_and_empty_names():
    q, _, _ = qmap("ens5", "ena", "0000:00:05.0", ["ena-mgmnt@pci:0000:00:05.0", "ens5-Tx-Rx-0", "ens5-Tx-Rx-1"])
    assert q == {"ens5-Tx-Rx-0": QueueRef(0), "ens5-Tx-Rx-1": QueueRef(1)}
    q, _, note = qmap("ens5", "ena", "0000:00:05.0", [None, None, None])
    assert q == {} and "no names" in note and "unknown" in note


def test_gve_first_half_tx_second_half_rx():
    names = ["gve-mgmnt@pci:0000:00:04.0"] + [f"gve-ntfy-blk{i}@pci:0000:00:04.0" for i in range(4)]
    q, other, _ = qmap("ens4", "gve", "0000:00:04.0", names)
    assert q[names[1]] == QueueRef(0, "tx") and q[names[2]] == QueueRef(1, "tx")
    assert q[names[3]] == QueueRef(0, "rx") and q[names[4]] == QueueRef(1, "rx")
    assert other == [names[0]]
    q, _, _ = qmap("eth0", "gve", "0000:00:04.0", ["eth0-ntfy-block.0", "eth0-ntfy-block.1"])
    assert q == {"eth0-ntfy-block.0": QueueRef(0, "tx"), "eth0-ntfy-block.1": QueueRef(0, "rx")}
    # 6.1 names them before the interface has a name: a literal "eth%d"
    q, other, _ = qmap("ens4", "gve", "0000:00:04.0", ["eth%d-ntfy-block.0", "eth%d-ntfy-block.1", "eth%d-mgmnt"])
    assert q == {"eth%d-ntfy-block.0": QueueRef(0, "tx"), "eth%d-ntfy-block.1": QueueRef(0, "rx")}
    assert other == ["eth%d-mgmnt"]


def test_virtio_net_input_output_and_shared():
    q, other, _ = qmap("eth0", "virtio_net", "0000:00:03.0", [
        "virtio2-config", "virtio2-input.0", "virtio2-output.0", "virtio2-input.1", "virtio2-output.1"],
        bus_device="virtio2")
    assert q["virtio2-input.1"] == QueueRef(1, "rx") and q["virtio2-output.0"] == QueueRef(0, "tx")
    assert other == ["virtio2-config"]
    q, other, _ = qmap("eth0", "virtio_net", "0000:00:03.0", ["virtio2-config", "virtio2-virtqueues"],
                       bus_device="virtio2")
    assert q == {"virtio2-virtqueues": QueueRef(0)}


def test_mana():
    q, other, _ = qmap("eth0", "mana", "7870:00:00.0", ["mana_hwc@pci:7870:00:00.0", "mana_q0@pci:7870:00:00.0"])
    assert q == {"mana_q0@pci:7870:00:00.0": QueueRef(0)} and other == ["mana_hwc@pci:7870:00:00.0"]


def test_tg3_rx_vectors_are_one_based():
    q, other, _ = qmap("eth0", "tg3", "0000:02:00.0", ["eth0-tx-0", "eth0-rx-1", "eth0-rx-2", "eth0-rx-3", "eth0-rx-4"])
    assert q["eth0-tx-0"] == QueueRef(0, "tx")
    assert [q[f"eth0-rx-{i}"] for i in range(1, 5)] == [QueueRef(i, "rx") for i in range(4)]
    q, other, _ = qmap("eth0", "tg3", "0000:02:00.0", ["eth0-0", "eth0-txrx-1", "eth0-txrx-2"])
    assert q == {"eth0-txrx-1": QueueRef(0), "eth0-txrx-2": QueueRef(1)} and other == ["eth0-0"]


def test_single_vector_nics():
    q, other, _ = qmap("enp3s0", "r8169", "0000:03:00.0", ["enp3s0"])
    assert q == {"enp3s0": QueueRef(0)} and other == []
    q, other, _ = qmap("enp3s0", "r8125", "0000:03:00.0", ["enp3s0-0", "enp3s0-1"])
    assert q == {"enp3s0-0": QueueRef(0), "enp3s0-1": QueueRef(1)}
    q, other, _ = qmap("eno1", "e1000e", "0000:00:19.0", ["eno1-rx-0", "eno1-tx-0", "eno1"])
    assert q == {"eno1-rx-0": QueueRef(0, "rx"), "eno1-tx-0": QueueRef(0, "tx")} and other == ["eno1"]


def test_renamed_interface_keeps_queue_numbers():
    q, _, _ = qmap("enp1s0f0", "ixgbe", "0000:01:00.0", ["eth0-TxRx-0", "eth0-TxRx-1", "eth0"])
    assert q == {"eth0-TxRx-0": QueueRef(0), "eth0-TxRx-1": QueueRef(1)}
    q, _, note = qmap("enp1s0f0", "ixgbe", "0000:01:00.0", ["eth0-TxRx-0"], single=False)
    assert q == {} and note


def test_unknown_names_are_not_guessed():
    q, other, note = qmap("eth0", "foo", "0000:05:00.0", ["foo-dev-vector-a", "foo-dev-vector-b"])
    assert q == {} and len(other) == 2 and "unknown" in note


def test_rxtx_fp_and_mlx4_names():
    q, other, _ = qmap("ens192", "vmxnet3", "0000:0b:00.0", ["ens192-rxtx-0", "ens192-rxtx-1", "ens192-event-2"])
    assert q == {"ens192-rxtx-0": QueueRef(0), "ens192-rxtx-1": QueueRef(1)} and other == ["ens192-event-2"]
    q, _, _ = qmap("ens1f0", "qede", "0000:5e:00.0", ["ens1f0-fp-0", "ens1f0-fp-1"])
    assert q == {"ens1f0-fp-0": QueueRef(0), "ens1f0-fp-1": QueueRef(1)}
    q, other, _ = qmap("ens2", "mlx4_en", "0000:03:00.0", ["mlx4-async@pci:0000:03:00.0",
                                                           "mlx4-comp-0@pci:0000:03:00.0"], single=False)
    assert q == {"mlx4-comp-0@pci:0000:03:00.0": QueueRef(0)} and other == ["mlx4-async@pci:0000:03:00.0"]

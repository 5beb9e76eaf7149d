"""Restore and hands-off (issue 11, item 6), through the command line on fixture copies.

- restore leaves a value an admin changed after irqd wrote it, and says so,
  unless --force;
- a renamed device keeps its originals (the state is not keyed by a name
  that changes), and a re-plan after the rename does not record irqd's own
  value as the "original";
- entries for devices that are gone are pruned;
- restore keeps the entries it refused, so a later restore can still do them;
- every value in the state file is type-checked on load.
"""
import json
import os
import shutil

import pytest

from tests.support.clikit import assert_clean, irqd, snapshot_tree, tree_diff

TREE = "dev-virtio-2cpu"
IRQ = 38                # virtio2-input.0: mask 3 as captured, irqd writes 1
NETDIR = "sys/devices/pci0000:00/0000:00:03.0/virtio2/net"


# -- the only places that know the state file's layout (moving in the restructure) ----------

def state_file(root) -> str:
    return os.path.join(root, "var/lib/irqd/state.json")


def state_original_count(root) -> int:
    with open(state_file(root)) as f:
        return len(json.load(f)["originals"])


def write_state(root, **fields) -> None:
    data = {"version": 1, "originals": {}, "written": {}, "identity": {}, "managed": []}
    data.update(fields)
    os.makedirs(os.path.dirname(state_file(root)), exist_ok=True)
    with open(state_file(root), "w") as f:
        json.dump(data, f)


# ---------------------------------------------------------------------------------------------

def rename_netdev(root, old: str, new: str) -> None:
    """What the kernel shows after ``ip link set OLD name NEW``: the device dir and the class link."""
    os.rename(root / NETDIR / old, root / NETDIR / new)
    link = root / "sys/class/net" / old
    target = os.readlink(link)
    link.unlink()
    os.symlink(target[: -len(old)] + new, root / "sys/class/net" / new)


def test_restore_leaves_an_admins_later_change(fixture_copy):
    root = fixture_copy(TREE)
    aff = root / f"proc/irq/{IRQ}/smp_affinity"
    original = aff.read_bytes()
    assert irqd("apply", "--root", root, "--yes").returncode == 0
    assert aff.read_bytes() != original
    aff.write_text("2\n")                      # the admin moves it to CPU 1 by hand
    out = irqd("restore", "--root", root)
    assert_clean(out, "restore")
    assert aff.read_text() == "2\n", "restore overwrote a value the admin set after irqd wrote it"
    assert f"proc/irq/{IRQ}" in out.stdout + out.stderr or f"irq {IRQ}" in out.stdout + out.stderr, out.stdout
    forced = irqd("restore", "--root", root, "--force")
    assert forced.returncode == 0, forced.stderr
    assert aff.read_bytes() == original


def test_renamed_device_keeps_its_originals(fixture_copy):
    root = fixture_copy(TREE)
    original = snapshot_tree(root)
    assert irqd("apply", "--root", root, "--yes").returncode == 0
    rename_netdev(root, "eth0", "wan0")
    out = irqd("restore", "--root", root)
    assert_clean(out, "restore")
    rename_netdev(root, "wan0", "eth0")
    changed = tree_diff(original, snapshot_tree(root))
    assert changed == [], f"the renamed device's files kept irqd's values: {changed}"


def test_replan_after_rename_does_not_save_irqds_value_as_original(fixture_copy):
    root = fixture_copy(TREE)
    original = snapshot_tree(root)
    assert irqd("apply", "--root", root, "--yes").returncode == 0
    rename_netdev(root, "eth0", "wan0")
    again = irqd("apply", "--root", root, "--yes")
    assert again.returncode == 0, again.stderr
    assert irqd("restore", "--root", root).returncode in (0, 1)
    rename_netdev(root, "wan0", "eth0")
    changed = tree_diff(original, snapshot_tree(root))
    assert changed == [], f"irqd's own values came back as 'originals': {changed}"


def test_state_prunes_devices_that_are_gone(fixture_copy):
    root = fixture_copy(TREE)
    assert irqd("apply", "--root", root, "--yes").returncode == 0
    with_eth0 = state_original_count(root)
    # the netdev goes away (ip link del; a veth takes its IRQ-less queues with it)
    (root / "sys/class/net/eth0").unlink()
    shutil.rmtree(root / NETDIR / "eth0")
    out = irqd("apply", "--root", root, "--yes")
    assert out.returncode == 0, out.stderr
    after = state_original_count(root)
    assert after == with_eth0 - 2, f"{with_eth0} originals before, {after} after eth0 (rps_cpus, rps_flow_cnt) went"


def test_restore_keeps_what_it_refused(fixture_copy, tmp_path):
    root = fixture_copy(TREE)
    aff = root / f"proc/irq/{IRQ}/smp_affinity"
    original = aff.read_bytes()
    assert irqd("apply", "--root", root, "--yes").returncode == 0
    # proc/irq/38 now leads out of the tree: restore must refuse it, and keep it
    away = tmp_path / "away"
    os.rename(root / f"proc/irq/{IRQ}", away)
    os.symlink(str(away), root / f"proc/irq/{IRQ}")
    first = irqd("restore", "--root", root)
    assert_clean(first, "restore")
    assert first.returncode != 0, "a refused entry must not look like success"
    assert (away / "smp_affinity").read_bytes() != original, "restore wrote through a link out of the tree"
    (root / f"proc/irq/{IRQ}").unlink()
    os.rename(away, root / f"proc/irq/{IRQ}")
    second = irqd("restore", "--root", root)
    assert second.returncode == 0, second.stdout + second.stderr
    assert aff.read_bytes() == original, f"the refused original was dropped: {second.stdout}"


REL = f"proc/irq/{IRQ}/smp_affinity"


@pytest.mark.parametrize("fields", [
    {"originals": {REL: "3\n"}, "written": {REL: 5}},
    {"originals": {REL: "3\n"}, "managed": [True]},
    {"originals": {REL: "3\n"}, "identity": {REL: True}},
    {"originals": {REL: "3\n"}, "identity": {REL: 1.5}},
    {"originals": {REL: ["3"]}},
    {"originals": {REL: "3\n"}, "managed": ["38"]},
    {"originals": None},
], ids=["written-int", "managed-bool", "identity-bool", "identity-float", "original-list", "managed-str",
        "originals-null"])
def test_state_types_are_checked_on_load(fields, fixture_copy):
    root = fixture_copy(TREE)
    write_state(root, **fields)
    before = snapshot_tree(root)
    for args in (("apply", "--root", root, "--yes"), ("restore", "--root", root)):
        out = irqd(*args)
        assert_clean(out, args[0])
        assert out.returncode == 2 and "state" in out.stderr, (args[0], out.returncode, out.stdout, out.stderr)
    assert tree_diff(before, snapshot_tree(root)) == []

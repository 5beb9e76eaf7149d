"""Discovery on damaged and partial trees: clear messages naming the file, never a traceback."""
import os
import subprocess
import sys

import pytest

from irqd.discover import DiscoveryError, discover


def run_irqd(*args):
    return subprocess.run([sys.executable, "-m", "irqd", *args], capture_output=True, text=True)


def test_truncated_interrupts_names_file_and_line(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    path = root / "proc" / "interrupts"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:20] + "\n")
    with pytest.raises(DiscoveryError) as e:
        discover(str(root))
    assert str(path) in str(e.value) and "line 4" in str(e.value)
    out = run_irqd("show", "--root", str(root))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and str(path) in out.stderr


def test_not_a_root(tmp_path):
    out = run_irqd("show", "--root", str(tmp_path))
    assert out.returncode == 2 and "proc/interrupts" in out.stderr and "Traceback" not in out.stderr
    out = run_irqd("show", "--root", str(tmp_path / "nope"))
    assert out.returncode == 2 and "not a directory" in out.stderr


def test_missing_optional_files_are_reported_not_fatal(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    for rel in ("sys/kernel/irq", "sys/devices/system/node"):
        subprocess.run(["rm", "-rf", str(root / rel)], check=True)
    (root / "proc/irq/36/smp_affinity").unlink()
    (root / "proc/irq/36/smp_affinity_list").unlink()
    snap = discover(str(root))
    assert snap.irqs[36].affinity is None
    text = "\n".join(map(str, snap.problems))
    assert "sys/kernel/irq" in text and "proc/irq" in text and "36" in text
    assert snap.nodes == {}


def test_garbage_attribute_is_named(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    (root / "proc/irq/38/smp_affinity_list").write_text("zz-top\n")
    (root / "proc/irq/38/smp_affinity").write_text("not-hex\n")
    snap = discover(str(root))
    assert snap.irqs[38].affinity is None
    assert any("proc/irq/38/smp_affinity" in p.path for p in snap.problems)


def test_links_never_escape_the_root(fixture_copy):
    root = fixture_copy("dev-virtio-2cpu")
    eth0 = root / "sys/class/net/eth0"
    target = os.readlink(eth0)
    eth0.unlink()
    # an absolute link is read as the captured machine's path, inside the root
    os.symlink("/" + target.replace("../../", "sys/", 1), eth0)
    snap = discover(str(root))
    assert snap.nic("eth0").pci == "0000:00:03.0"
    os.unlink(eth0)
    os.symlink("../../../../../../../../etc", eth0)
    snap = discover(str(root))
    assert snap.nic("eth0") is None or snap.nic("eth0").pci is None


def test_live_host_discovers():
    snap = discover("/")
    assert snap.online and snap.irqs
    assert snap.housekeeping <= snap.online


def test_capture_that_followed_symlinks_still_finds_the_nic(fixture_copy):
    """`cp -rL`-style copies have directories where the kernel has links; uevent still names the slot."""
    import shutil
    root = fixture_copy("intel-2s-mlx5")
    link = root / "sys/class/net/enp59s0f0np0"
    real = os.path.realpath(link)
    os.unlink(link)
    shutil.copytree(real, link, symlinks=True, ignore=shutil.ignore_patterns("device"))
    (link / "device").mkdir()
    (link / "device/uevent").write_text("DRIVER=mlx5_core\nPCI_SLOT_NAME=0000:3b:00.0\n")
    nic = discover(str(root)).nic("enp59s0f0np0")
    assert nic.pci == "0000:3b:00.0" and nic.driver == "mlx5_core"
    assert nic.kind == "multiqueue" and len(nic.queue_irqs) == 48


def test_two_netdevs_on_one_function_do_not_both_claim_its_vectors(fixture_copy):
    """mlx4 puts both ports on one PCI function; its completion vectors cannot be split by name."""
    import shutil
    root = fixture_copy("intel-2s-mlx5")
    fn0 = os.path.realpath(root / "sys/bus/pci/devices/0000:3b:00.0")
    port1 = os.path.realpath(root / "sys/class/net/enp59s0f1np1")
    moved = os.path.join(fn0, "net", "enp59s0f1np1")
    shutil.move(port1, moved)
    os.unlink(os.path.join(moved, "device"))
    os.symlink("../../../0000:3b:00.0", os.path.join(moved, "device"))
    link = root / "sys/class/net/enp59s0f1np1"
    os.unlink(link)
    os.symlink(os.path.relpath(moved, link.parent), link)
    snap = discover(str(root))
    a, b = snap.nic("enp59s0f0np0"), snap.nic("enp59s0f1np1")
    assert a.pci == b.pci == "0000:3b:00.0"
    assert len(a.queue_irqs) == 48 and not b.queue_irqs
    assert "shares" in b.mapping_note and "enp59s0f0np0" in b.mapping_note

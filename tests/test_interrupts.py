"""/proc/interrupts: every 'format that bites' from FIXTURES.md, on inline text."""
import pytest

from irqd.discover.interrupts import InterruptsFormatError, msi_hwirq_bdf, parse_interrupts

MODERN = """\
            CPU0       CPU1       CPU4
   0:         44          0          0  IR-IO-APIC    2-edge      timer
   8:          0          0          1  IR-IO-APIC    8-edge      rtc0
  16:          0          0          0  IR-IO-APIC   16-fasteoi   ehci_hcd:usb1, i801_smbus
 128:       1200         17     999999  IR-PCI-MSIX-0000:4b:00.0    1-edge      i40e-ens1f0-TxRx-0
 129:          0          0          0  IR-PCI-MSIX-0000:4b:00.0    2-edge
 130:          3          0          0  IR-PCI-MSI 13107201-edge      eth0
 131:          1          2          3  DMAR-MSI    0-edge      dmar0
 132:          0          0          0  PCI-MSI 524288-edge      PCIe PME, aerdrv
NMI:          0          0          0   Non-maskable interrupts
LOC:    1000000    2000000    3000000   Local timer interrupts
ERR:          0
MIS:          0
"""


def test_modern_rows():
    parsed = parse_interrupts(MODERN)
    assert parsed.cpus == (0, 1, 4)  # offline CPUs 2 and 3 have no column
    rows = {r.irq: r for r in parsed.irqs}
    assert rows[128].counts == ((0, 1200), (1, 17), (4, 999999))
    assert rows[128].chip == "IR-PCI-MSIX-0000:4b:00.0"
    assert rows[128].hwirq == 1 and rows[128].trigger == "edge"
    assert rows[128].actions == ("i40e-ens1f0-TxRx-0",)
    assert rows[128].chip_device == "0000:4b:00.0"
    assert rows[129].actions == ()          # empty action name
    assert rows[16].actions == ("ehci_hcd:usb1", "i801_smbus")
    assert rows[16].trigger == "fasteoi"
    assert rows[132].actions == ("PCIe PME", "aerdrv")
    assert rows[130].chip == "IR-PCI-MSI" and rows[130].hwirq == 13107201
    assert rows[130].chip_device == "0000:19:00.0"  # decoded from the hwirq
    assert rows[131].chip_device is None
    assert [o.label for o in parsed.other] == ["NMI", "LOC", "ERR", "MIS"]
    assert dict(parsed.other[1].counts)[4] == 3000000


def test_old_kernel_fused_chip_and_trigger():
    text = """\
           CPU0       CPU1
  0:        140          0   IO-APIC-edge      timer
  9:          0          0   IR-IO-APIC-fasteoi   acpi
 65:     500000          7   IR-PCI-MSI-edge      eth0-TxRx-0
 66:          2          0   PCI-MSI-edge      eth0
 67:          1          0  xen-pirq-msi-x     eth1-TxRx-0
"""
    rows = {r.irq: r for r in parse_interrupts(text).irqs}
    assert (rows[0].chip, rows[0].trigger, rows[0].hwirq) == ("IO-APIC", "edge", None)
    assert (rows[9].chip, rows[9].trigger) == ("IR-IO-APIC", "fasteoi")
    assert (rows[65].chip, rows[65].trigger, rows[65].actions) == ("IR-PCI-MSI", "edge", ("eth0-TxRx-0",))
    assert (rows[66].chip, rows[66].trigger) == ("PCI-MSI", "edge")
    assert (rows[67].chip, rows[67].hwirq, rows[67].trigger) == ("xen-pirq-msi-x", None, None)
    assert rows[67].actions == ("eth1-TxRx-0",)


def test_arm64_gic_and_ipi_rows_touching_counts():
    text = """\
           CPU0       CPU1
 11:      99999      88888     GICv3  27 Level     arch_timer
 15:          0          0 ITS-PCI-MSIX-0000:00:05.0   0 Edge      ena-mgmnt@pci:0000:00:05.0
IPI0:123456789012     23 Rescheduling interrupts
Err:          0
"""
    parsed = parse_interrupts(text)
    rows = {r.irq: r for r in parsed.irqs}
    assert (rows[11].chip, rows[11].hwirq, rows[11].trigger) == ("GICv3", 27, "level")
    assert rows[15].chip_device == "0000:00:05.0"
    assert rows[15].actions == ("ena-mgmnt@pci:0000:00:05.0",)
    ipi = parsed.other[0]
    assert ipi.label == "IPI0" and dict(ipi.counts) == {0: 123456789012, 1: 23}


def test_truncated_row_names_the_line():
    text = "           CPU0       CPU1\n 24:          1\n"
    with pytest.raises(InterruptsFormatError) as e:
        parse_interrupts(text)
    assert e.value.line == 2 and "truncated" in str(e.value)


@pytest.mark.parametrize("text", ["", "garbage here\n 1: 2\n"])
def test_bad_header(text):
    with pytest.raises(InterruptsFormatError) as e:
        parse_interrupts(text)
    assert e.value.line == 1


def test_msi_hwirq_decoding():
    # pci_msi_domain_calc_hwirq(): domain << 27 | bus << 19 | devfn << 11 | index
    assert msi_hwirq_bdf((0x3b << 19) | ((0 << 3 | 1) << 11) | 5) == "0000:3b:00.1"
    assert msi_hwirq_bdf((1 << 27) | (0x02 << 19) | ((3 << 3) << 11)) == "0001:02:03.0"

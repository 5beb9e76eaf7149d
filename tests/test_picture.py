"""The plan as a picture: SVG/HTML checked as data on every fixture and a 1,024-CPU machine, and rendered in Chromium.

The counts are checked against the snapshot, not against the drawing code:
one cell per online CPU and one mark per queue IRQ (the IRQs the NICs list)
on each side; excluded CPUs hatched with their sources; each mark on a CPU
the IRQ runs on now, or is planned onto.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib

import pytest

from irqd.cli.picture import finding_cpus, render_audit_html, render_html, render_svg
from irqd.config import default_config
from irqd.discover import discover
from irqd.planner import plan
from irqd.planner.audit import Finding, audit
from tests.support.paths import FIXTURES, fixture_names

SVG_NS = "{http://www.w3.org/2000/svg}"


def _classes(e: ET.Element) -> set[str]:
    return set((e.get("class") or "").split())


def panels(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG_NS}g") if "panel" in _classes(g)]


def cells(panel: ET.Element) -> dict[int, ET.Element]:
    out: dict[int, ET.Element] = {}
    for e in panel.iter(f"{SVG_NS}rect"):
        if "cpu" in _classes(e):
            cpu = int(e.get("data-cpu"))
            assert cpu not in out, f"CPU {cpu} drawn twice"
            out[cpu] = e
    return out


def marks(panel: ET.Element) -> list[tuple[int, int]]:
    """(irq, cpu of the cell it is drawn in), in document order: a mark follows its cell."""
    out, cpu = [], None
    for e in panel.iter(f"{SVG_NS}rect"):
        c = _classes(e)
        if "cpu" in c:
            cpu = int(e.get("data-cpu"))
        elif "irq" in c:
            out.append((int(e.get("data-irq")), cpu))
    return out


def machine(path):
    snap = discover(str(path))
    return snap, plan(snap, default_config())


def queue_irqs(snap) -> set[int]:
    return {irq for nic in snap.nics for irq, _ in nic.queue_irqs}


def check_picture(snap, p, root: ET.Element) -> None:
    sides = panels(root)
    assert [s.get("data-side") for s in sides] == ["now", "after the plan"]
    excluded = {cpu for cpus in p.excluded.values() for cpu in cpus}
    qirqs = queue_irqs(snap)
    plans = {i.irq: i for i in p.irqs}
    for side in sides:
        drawn = cells(side)
        assert set(drawn) == set(snap.online)
        for cpu, e in drawn.items():
            assert ("excluded" in _classes(e)) == (cpu in excluded), f"CPU {cpu}"
            if cpu in excluded:
                sources = {s for s, cpus in p.excluded.items() if cpu in cpus}
                assert set(e.get("data-excluded").split(" ")) == sources
                assert "excluded: " in e.find(f"{SVG_NS}title").text
        placed = marks(side)
        assert sorted(irq for irq, _ in placed) == sorted(qirqs), "one mark per queue IRQ"
        for irq, cpu in placed:
            i, ip = snap.irqs[irq], plans[irq]
            if side.get("data-side") == "now":
                allowed = i.effective or i.affinity
            else:
                allowed = ip.after if ip.after is not None else (i.effective or i.affinity)
            assert cpu in allowed, f"irq {irq} drawn on CPU {cpu}, runs on {sorted(allowed)}"
    managed = {int(e.get("data-irq")) for e in root.iter(f"{SVG_NS}rect") if {"irq", "managed"} <= _classes(e)}
    expect = {irq for irq in qirqs if snap.irqs[irq].managed is not None
              or plans[irq].reason.startswith("kernel-managed")}
    assert managed == expect


@pytest.mark.parametrize("name", fixture_names())
def test_svg_and_html_on_every_fixture(name):
    snap, p = machine(FIXTURES / name)
    svg = render_svg(snap, p)
    check_picture(snap, p, ET.fromstring(svg))
    assert render_svg(snap, p) == svg, "same input, same bytes"
    html = render_html(snap, p, title=f"irqd plan: {name}")
    page = ET.fromstring(html.split("\n", 1)[1])  # after <!DOCTYPE html>
    svgs = list(page.iter(f"{SVG_NS}svg"))
    assert len(svgs) == 1
    check_picture(snap, p, svgs[0])
    # self-contained: nothing fetched, no script
    assert not [e for e in page.iter() if e.tag.endswith("script")]
    for e in page.iter():
        for attr in ("src", "href", "{http://www.w3.org/1999/xlink}href"):
            assert e.get(attr) is None, f"{e.tag} {attr}={e.get(attr)}"
    assert "http:" not in html.replace("http://www.w3.org/", "")
    assert "https:" not in html


def test_isolated_cpus_are_hatched_with_their_reasons():
    snap, p = machine(FIXTURES / "rt-isolcpus")
    root = ET.fromstring(render_svg(snap, p))
    now = cells(panels(root)[0])
    assert now[5].get("class") == "cpu excluded"
    assert "cmdline:nohz_full" in now[5].get("data-excluded").split(" ")
    assert now[0].get("class") == "cpu"


def test_managed_irqs_are_round_and_say_so():
    root = FIXTURES / "intel-2s-mlx5"
    irq = discover(str(root)).nics[0].queue_irqs[0][0]
    snap = discover(str(root), confirmed_managed=[irq])   # as after an apply whose write failed with EIO
    p = plan(snap, default_config())
    root_el = ET.fromstring(render_svg(snap, p))
    check_picture(snap, p, root_el)
    found = [e for e in root_el.iter(f"{SVG_NS}rect") if "irq" in _classes(e) and e.get("data-irq") == str(irq)]
    assert len(found) == 2
    for e in found:
        assert "managed" in _classes(e) and e.get("rx")
        assert "kernel-managed" in e.find(f"{SVG_NS}title").text


def test_irqs_allowed_on_several_cpus_are_hollow():
    # CentOS 7 prints no effective_affinity: the kernel does not say which allowed CPU takes the IRQ
    snap, p = machine(FIXTURES / "old-kernel-centos7")
    now, after = panels(ET.fromstring(render_svg(snap, p)))
    hollow = {int(e.get("data-irq")) for e in now.iter(f"{SVG_NS}rect") if {"irq", "wide"} <= _classes(e)}
    expect = {irq for irq in queue_irqs(snap) if len(snap.irqs[irq].effective or snap.irqs[irq].affinity) > 1}
    assert hollow == expect and expect
    after_hollow = {int(e.get("data-irq")) for e in after.iter(f"{SVG_NS}rect") if {"irq", "wide"} <= _classes(e)}
    assert after_hollow == {i.irq for i in p.irqs if i.irq in expect and i.after is not None and len(i.after) > 1}


def test_rps_and_xps_strips_follow_the_plan():
    snap, p = machine(FIXTURES / "intel-2s-mlx5")
    after = panels(ET.fromstring(render_svg(snap, p)))[1]
    rps_after = {cpu for q in p.queues if q.attr == "rps_cpus" and isinstance(q.after, frozenset) for cpu in q.after}
    assert rps_after, "this fixture gets RPS maps"
    titles = {cpu: e.find(f"{SVG_NS}title").text for cpu, e in cells(after).items()}
    for cpu in snap.online:
        assert ("\nRPS: " in titles[cpu]) == (cpu in rps_after), f"CPU {cpu}"
    xps_after = {cpu for q in p.queues if q.attr == "xps_cpus" and isinstance(q.after, frozenset) for cpu in q.after}
    for cpu in xps_after:
        assert "\nXPS: " in titles[cpu]


def test_audit_html_marks_findings_on_their_cpus():
    snap, p = machine(FIXTURES / "intel-2s-mlx5")
    a = audit(snap, default_config(), p, live=False)
    html = render_audit_html(snap, p, a)
    svg = next(ET.fromstring(html.split("\n", 1)[1]).iter(f"{SVG_NS}svg"))
    now, after = panels(svg)
    marked = {cpu: set(e.get("data-findings").split(",")) for cpu, e in cells(now).items()
              if "finding" in _classes(e)}
    assert marked
    assert not [e for e in cells(after).values() if "finding" in _classes(e)]
    for n, f in enumerate(a.findings, start=1):
        for cpu in finding_cpus(snap, f):
            assert str(n) in marked[cpu]
    # a subject naming a CPU marks exactly that CPU
    named = [(n, f) for n, f in enumerate(a.findings, start=1) if " CPU " in f.subject]
    assert named
    n, f = named[0]
    cpu = int(f.subject.rsplit(" ", 1)[1])
    assert str(n) in marked[cpu]


def test_finding_cpus_reads_the_subject():
    snap, _ = machine(FIXTURES / "intel-2s-mlx5")
    assert finding_cpus(snap, Finding("xps", "enp175s0f0 CPU 12", "x", "y")) == {12}
    assert finding_cpus(snap, Finding("smt", "package 0 core 2 (CPU 2,26)", "x", "y")) == {2, 26}
    irq = snap.irqs[201]
    assert finding_cpus(snap, Finding("numa", "irq 201 mlx5_comp0@pci:0000:3b:00.0", "x", "y")) == \
        (irq.effective or irq.affinity)
    assert finding_cpus(snap, Finding("rfs", "rps_sock_flow_entries", "x", "y")) == frozenset()
    assert finding_cpus(snap, Finding("numa", "eth9 rx-0", "runs on CPU 3-4 (node 0)", "y")) == {3, 4}
    # an isolation finding is about the excluded CPUs, not where the IRQ runs
    assert finding_cpus(snap, Finding("isolation", "irq 201 mlx5_comp0@pci:0000:3b:00.0",
                                      "allowed on excluded CPU 7,9 (cmdline:isolcpus)", "y")) == {7, 9}
    assert finding_cpus(snap, Finding("smt", "enp175s0f0 on package 1 core 3",
                                      "queues on sibling threads 15,39 (tx-1, tx-2) while ...", "y")) == {15, 39}
    # a queue's finding without a CPU in its text falls back to where that queue's IRQ runs
    nic = next(n for n in snap.nics if n.queue_irqs)
    irq, ref = nic.queue_irqs[0]
    i = snap.irqs[irq]
    assert finding_cpus(snap, Finding("rps", f"{nic.name} rx-{ref.queue}", "no RPS map", "y")) == \
        (i.effective or i.affinity)


# -- a 1,024-CPU machine -----------------------------------------------------------------

@pytest.fixture(scope="module")
def big():
    from tests.support.machine import write_machine
    from tests.support.trees import large_specs, trees_dir
    with trees_dir() as tmp:   # tmpfs: 60,000 small files write in seconds there, in a minute on disk
        path = os.path.join(tmp, "m1024")
        write_machine(path, large_specs()[1])
        yield machine(path)


def test_1024_cpus_stay_bounded_and_summarised(big):
    snap, p = big
    assert len(snap.online) == 1024
    svg = render_svg(snap, p)
    root = ET.fromstring(svg)
    check_picture(snap, p, root)
    assert len(queue_irqs(snap)) > 2000
    # about 1.9 MB measured; the bound leaves room, not 4,000 labels' worth of growth
    assert len(svg.encode()) < 3_000_000, len(svg)
    texts = list(root.iter(f"{SVG_NS}text"))
    # one summary per node and side, the legend, and counts where IRQs stack: no per-CPU labels
    assert len(texts) < 200, len(texts)
    assert not [t for t in texts if "cpu-label" in _classes(t)]
    nodes = [t.text for t in texts if "node-label" in _classes(t)]
    assert len(nodes) == 2 * len(snap.nodes)
    assert all(" queue IRQs" in t for t in nodes)


# -- rendered in Chromium ---------------------------------------------------------------

def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(url: str, out: str, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out}",
                        f"--window-size={width},{height}", url],
                       check=True, capture_output=True, timeout=120)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit, non-interlaced PNG: the stdlib has no image decoder."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p_ = a + b - c
                pa, pb, pc = abs(p_ - a), abs(p_ - b), abs(p_ - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) for r in rows] if channels == 3 else \
        [bytes(b for k, b in enumerate(r) if k % 4 != 3) for r in rows]


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_html_renders_in_chromium(tmp_path):
    snap, p = machine(FIXTURES / "intel-2s-mlx5")
    page = tmp_path / "plan.html"
    page.write_text(render_html(snap, p))
    out = tmp_path / "shot.png"
    screenshot(page.as_uri(), str(out), 1000, 700)
    width, height, rows = decode_png(out.read_bytes())
    assert (width, height) == (1000, 700)
    pixels = [row[i:i + 3] for row in rows for i in range(0, len(row), 3)]
    white = sum(1 for px in pixels if px == b"\xff\xff\xff")
    assert white < 0.95 * len(pixels), "the screenshot is blank"
    # the NIC colours of the marks and the hatching of no CPU made it to the screen
    from irqd.cli.picture import _nic_colours
    colours = _nic_colours(n.name for n in snap.nics if n.queue_irqs)
    for nic, hexa in colours.items():
        rgb = bytes.fromhex(hexa[1:])
        assert any(px == rgb for px in pixels), f"no pixel in {nic}'s colour {hexa}"
    assert os.path.getsize(out) > 10_000

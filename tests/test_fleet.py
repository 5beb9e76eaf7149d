"""irqd audit MACHINE ...: every fixture in one call, capture archives, hostile archives, machines that cannot be read.

The fleet audit must say of each machine exactly what ``irqd audit --root``
says of it alone, so every count here is checked against a single-machine
audit of the same tree, never against numbers written into the test.
"""

import io
import json
import os
import tarfile
import tempfile

import pytest

from irqd.discover import archive
from irqd.planner.audit import CATEGORIES
from tests.support.cli import irqd
from tests.support.paths import FIXTURES, fixture_names

SMALL = "dev-virtio-2cpu"      # the smallest fixture: archives of it unpack quickly
COUNTS = ("checked", "findings", "info", "score")


def single(root) -> dict:
    code, out, err = irqd("audit", "--root", root, "--format", "json")
    assert code in (0, 1) and "Traceback" not in err, err
    return json.loads(out)


def fleet_json(*machines) -> tuple[int, dict, str]:
    code, out, err = irqd("audit", "--format", "json", *machines)
    assert "Traceback" not in err, err
    return code, json.loads(out), err


def by_name(data) -> dict[str, dict]:
    return {m["name"]: m for m in data["machines"]}


def table_rows(out: str) -> dict[str, list[str]]:
    """The machine rows of the table: name -> [cells..., total, worst findings]."""
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("machine "))
    end = next(i for i, line in enumerate(lines) if line.startswith("machines hit"))
    rows = {}
    for line in lines[head + 1:end]:
        name, rest = line.split(None, 1)
        assert name not in rows, f"two rows for {name}"
        rows[name] = rest.split(None, len(CATEGORIES) + 1)
    return rows


def assert_same_audit(fleet_machine: dict, alone: dict) -> None:
    assert fleet_machine["error"] is None
    assert fleet_machine["categories"] == {name: {k: c[k] for k in COUNTS} for name, c in alone["categories"].items()}
    assert fleet_machine["findings"] == [f for f in alone["findings"] if f["counted"]]
    assert fleet_machine["clean"] == alone["clean"] and fleet_machine["exit"] == alone["exit"]


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """``irqd capture --tar`` of the small fixture: (the captured directory, its archive)."""
    base = tmp_path_factory.mktemp("capture")
    dest = base / SMALL
    code, _, err = irqd("capture", "--root", FIXTURES / SMALL, dest, "--tar")
    assert code == 0, err
    return dest, base / f"{SMALL}.tar.gz"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Archives unpack here, so a test can see that nothing is left behind."""
    where = tmp_path / "scratch"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


# -- every fixture in one call ------------------------------------------------------------

def test_fleet_audit_of_every_fixture_in_one_call():
    names = fixture_names()
    assert len(names) >= 10
    roots = [FIXTURES / n for n in names]
    code, out, err = irqd("audit", *roots)
    assert "Traceback" not in err and err == ""
    alone = {n: single(FIXTURES / n) for n in names}
    # some fixtures were captured with defects, so the fleet has findings
    assert code == 1 and any(not a["clean"] for a in alone.values()) and any(a["clean"] for a in alone.values())

    rows = table_rows(out)
    assert sorted(rows) == names, "one row per fixture"
    assert all(len(line) <= 120 for line in out.splitlines() if not line.startswith(("Result:", "Columns:")))
    for n, cells in rows.items():
        a = alone[n]
        expect = ["-" if c["checked"] == 0 and c["findings"] == 0 else str(c["findings"])
                  for c in a["categories"].values()]
        counted = sum(c["findings"] for c in a["categories"].values())
        assert cells[:len(CATEGORIES)] == expect, n
        assert cells[len(CATEGORIES)] == str(counted), n
        first = next((f for f in a["findings"] if f["counted"]), None)
        if first is None:
            assert cells[-1] == "clean"
        else:   # the first counted finding is named, cut to fit
            text = cells[-1].removesuffix("...")
            assert f"{first['subject']}: {first['problem']}".startswith(text) and len(text) > 20
    totals = [int(cells[len(CATEGORIES)]) for cells in rows.values()]
    assert totals == sorted(totals, reverse=True), "worst first"
    assert out.rstrip().endswith("exit 1")

    code_j, data, _ = fleet_json(*roots)
    assert code_j == code == data["summary"]["exit"]
    assert [m["name"] for m in data["machines"]] == list(rows), "json and table list machines in one order"
    for n, m in by_name(data).items():
        assert m["source"] == str(FIXTURES / n)
        assert_same_audit(m, alone[n])
    s = data["summary"]
    assert s["machines"] == len(names) and s["not_audited"] == []
    assert s["clean"] == sum(a["clean"] for a in alone.values())
    assert s["findings"] == sum(m["counted"] for m in data["machines"])
    for name in CATEGORIES:
        assert s["categories"][name]["machines"] == sum(1 for a in alone.values()
                                                        if a["categories"][name]["findings"])


def test_kernel_and_description_come_from_the_capture():
    code, data, _ = fleet_json(FIXTURES / SMALL)
    assert code == single(FIXTURES / SMALL)["exit"]
    m = data["machines"][0]
    manifest = (FIXTURES / SMALL / "irqd-fixture.toml").read_text()
    osrelease = (FIXTURES / SMALL / "proc/sys/kernel/osrelease").read_text().strip()
    assert m["kernel"] == osrelease and m["description"] and m["description"].split("\n")[0] in manifest


# -- capture archives ---------------------------------------------------------------------

def test_capture_archive_audits_like_the_directory(captured, scratch, tmp_path):
    dest, tgz = captured
    # a .tgz whose top level is the root itself (no directory around it)
    flat = tmp_path / "flat.tgz"
    with tarfile.open(flat, "w:gz") as t:
        for entry in sorted(os.listdir(dest)):
            t.add(dest / entry, arcname=entry)
    code, data, err = fleet_json(tgz, flat, dest, FIXTURES / SMALL)
    assert code in (0, 1) and err == ""
    machines = {m["source"]: m for m in data["machines"]}
    alone = single(FIXTURES / SMALL)
    for source in (tgz, flat, dest, FIXTURES / SMALL):
        assert_same_audit(machines[str(source)], alone)
    # three machines named dev-virtio-2cpu are told apart by their source; flat.tgz is "flat"
    assert {m["name"] for m in data["machines"]} == {str(tgz), str(dest), str(FIXTURES / SMALL), "flat"}
    assert machines[str(tgz)]["kernel"] == machines[str(dest)]["kernel"] is not None
    assert machines[str(tgz)]["description"] == machines[str(dest)]["description"] is not None
    assert os.listdir(scratch) == [], "the unpacked archives are removed"


def test_archive_over_the_bounds_is_refused_naming_it(captured, scratch, monkeypatch):
    _, tgz = captured
    with tarfile.open(tgz) as t:
        members = len(t.getmembers())
    monkeypatch.setattr(archive, "MAX_MEMBERS", members - 1)
    code, data, err = fleet_json(tgz)
    assert code == 2 and f"{tgz}: refused: more than {members - 1:,} members" in data["machines"][0]["error"]
    assert str(tgz) in err
    monkeypatch.setattr(archive, "MAX_MEMBERS", members)
    assert fleet_json(tgz)[1]["machines"][0]["error"] is None, "exactly at the bound is accepted"

    # a few KiB that unpack to 8 MiB of zeros, against a 1 MiB bound: refused before it is written
    bomb = scratch.parent / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as t:
        info = tarfile.TarInfo("box/proc/interrupts")
        info.size = 8 << 20
        t.addfile(info, io.BytesIO(bytes(info.size)))
    assert bomb.stat().st_size < 64 << 10
    monkeypatch.setattr(archive, "MAX_BYTES", 1 << 20)
    code, data, err = fleet_json(bomb)
    assert code == 2 and f"{bomb}: refused: unpacks to more than 1,048,576 bytes" in data["machines"][0]["error"]
    assert os.listdir(scratch) == []


def _hostile(base, captured_dir, kind: str):
    """A complete capture archive plus one hostile member at its end."""
    path = base / f"{kind}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        t.add(captured_dir, arcname="box")
        if kind == "absolute":
            info = tarfile.TarInfo(str(base / "escaped"))
            data = b"written outside\n"
        elif kind == "dotdot":
            info = tarfile.TarInfo("box/../../escaped")
            data = b"written outside\n"
        elif kind in ("symlink-out", "symlink-absolute"):
            info = tarfile.TarInfo("box/etc-link")
            info.type = tarfile.SYMTYPE
            info.linkname = "../../../../../../etc" if kind == "symlink-out" else "/etc"
            data = b""
        else:
            info = tarfile.TarInfo("box/dev/mem")
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 1
            data = b""
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind,why", [
    ("absolute", "an absolute path"),
    ("dotdot", "climbs out with '..'"),
    ("symlink-out", "a link pointing outside the archive's tree"),
    ("symlink-absolute", "a link to an absolute path"),
    ("device", "a device node or FIFO"),
])
def test_hostile_archive_is_refused_and_the_others_still_report(kind, why, captured, scratch, tmp_path):
    dest, _ = captured
    bad = _hostile(tmp_path, dest, kind)
    code, out, err = irqd("audit", bad, FIXTURES / SMALL)
    assert code == 2 and "Traceback" not in err
    assert f"cannot audit {kind}: {bad}: refused member" in err and why in err
    rows = out.splitlines()
    row = next(line for line in rows if line.startswith(f"{kind} "))
    assert "cannot audit:" in row and str(bad)[:40] in row
    assert any(line.startswith(f"{SMALL} ") for line in rows), "the other machine still reports"
    assert f"1 could not be audited ({kind}); exit 2" in out
    _, data, _ = fleet_json(bad, FIXTURES / SMALL)
    machines = by_name(data)
    assert machines[kind]["exit"] == 2 and why in machines[kind]["error"] and machines[kind]["categories"] == {}
    assert_same_audit(machines[SMALL], single(FIXTURES / SMALL))
    assert data["summary"]["not_audited"] == [kind]
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert os.listdir(scratch) == []


def test_damaged_archives(captured, scratch, tmp_path):
    _, tgz = captured
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tgz.read_bytes()[:len(tgz.read_bytes()) // 2])
    text = tmp_path / "notes.tar.gz"
    text.write_text("not an archive\n")
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    noroot = tmp_path / "noroot.tar.gz"
    with tarfile.open(noroot, "w:gz") as t:
        t.add(FIXTURES / SMALL / "irqd-fixture.toml", arcname="box/irqd-fixture.toml")
    code, data, err = fleet_json(cut, text, empty, noroot, FIXTURES / SMALL)
    assert code == 2 and all(str(a) in err for a in (cut, text, empty, noroot))
    machines = by_name(data)
    assert machines["cut"]["error"].startswith(f"{cut}: damaged or not a tar archive")
    assert machines["notes"]["error"].startswith(f"{text}: damaged or not a tar archive")
    assert machines["empty"]["error"].startswith(f"{empty}: damaged or not a tar archive")
    assert machines["noroot"]["error"].startswith(f"{noroot}: no machine root in it")
    assert machines[SMALL]["error"] is None
    assert sorted(data["summary"]["not_audited"]) == ["cut", "empty", "noroot", "notes"]
    assert [m["name"] for m in data["machines"]][-1] == SMALL, "machines that could not be audited come first"
    assert os.listdir(scratch) == []


def test_machine_name():
    assert archive.machine_name("fleet/web-17.tar.gz") == "web-17"
    assert archive.machine_name("fleet/web-17.tgz") == "web-17"
    assert archive.machine_name("fleet/web-17/") == "web-17"
    assert archive.machine_name("/") == "/"


# -- machines that are not roots, and usage -----------------------------------------------

def test_a_directory_that_is_not_a_root_is_a_row(tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = irqd("audit", tmp_path / "empty", tmp_path / "missing", FIXTURES / SMALL)
    assert code == 2 and "Traceback" not in err
    assert f"cannot audit empty: {tmp_path}/empty/proc/interrupts: cannot read it" in err
    assert f"cannot audit missing: {tmp_path}/missing: no such directory or archive" in err
    rows = out.splitlines()
    assert any(line.startswith("empty ") and "cannot audit:" in line for line in rows)
    assert any(line.startswith(f"{SMALL} ") for line in rows)
    _, data, _ = fleet_json(tmp_path / "empty", FIXTURES / SMALL)
    assert by_name(data)["empty"]["exit"] == 2 and by_name(data)[SMALL]["error"] is None


@pytest.mark.parametrize("root", ["/", str(FIXTURES / SMALL)])
def test_root_with_machines_is_a_usage_error(root):
    code, out, err = irqd("audit", "--root", root, FIXTURES / SMALL)
    assert code == 2 and out == "" and "--root reads one machine" in err


def test_html_covers_one_machine():
    code, out, err = irqd("audit", "--format", "html", FIXTURES / SMALL, FIXTURES / "gcp-gve")
    assert code == 2 and out == "" and "html covers one machine" in err


def test_bad_config_stops_before_any_machine(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("policy = 'sideways'\n")
    code, out, err = irqd("audit", "--config", bad, FIXTURES / SMALL)
    assert code == 2 and out == "" and "policy" in err


def test_one_clean_machine_exits_0():
    clean = [n for n in fixture_names() if single(FIXTURES / n)["clean"]]
    assert clean
    code, out, _ = irqd("audit", *(FIXTURES / n for n in clean))
    assert code == 0 and out.rstrip().endswith("exit 0")

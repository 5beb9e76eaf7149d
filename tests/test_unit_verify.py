"""systemd/irqd.service passes `systemd-analyze verify`, stays hardened, and can write its metrics.

verify checks that every Exec*= binary exists and is executable and runs
`man` for each Documentation=man: page, so the generated irqd(8) is put on
MANPATH. When the README's install (/opt/irqd/bin/irqd, which .ci/run makes)
is missing, the unit is verified from a copy whose /opt/irqd/bin/irqd is a
launcher of this checkout: nothing else in the copy differs.
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from irqd.cli.manpage import write_pages

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "irqd.service"
CONF = REPO / "conf" / "irqd.toml"
INSTALLED = "/opt/irqd/bin/irqd"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (apt-get install systemd)")


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def manpath(tmp_path):
    man = tmp_path / "man"
    eight, five = write_pages(tmp_path / "pages")
    for page, section in ((eight, "man8"), (five, "man5")):
        (man / section).mkdir(parents=True)
        shutil.copy(page, man / section / page.name)
    return man


def unit_to_verify(tmp_path):
    """The unit itself when irqd is installed as it expects, else a copy that runs this checkout."""
    if os.access(INSTALLED, os.X_OK):
        return UNIT
    launcher = tmp_path / "bin" / "irqd"
    launcher.parent.mkdir()
    launcher.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m irqd \"$@\"\n")
    launcher.chmod(0o755)
    copy = tmp_path / "unit" / "irqd.service"
    copy.parent.mkdir()
    text = UNIT.read_text()
    assert INSTALLED in text
    copy.write_text(text.replace(INSTALLED, str(launcher)))
    return copy


def verify(unit, man):
    env = {**os.environ, "MANPATH": str(man)}
    return subprocess.run(["systemd-analyze", "verify", str(unit)], check=False,
                          capture_output=True, text=True, env=env)


def test_verify_is_clean_with_the_man_page(tmp_path):
    out = verify(unit_to_verify(tmp_path), manpath(tmp_path))
    assert out.returncode == 0 and out.stdout + out.stderr == "", out.stdout + out.stderr


def test_verify_fails_without_the_man_page(tmp_path):
    empty = tmp_path / "no-man"
    empty.mkdir()
    out = verify(unit_to_verify(tmp_path), empty)
    assert out.returncode != 0 and "man irqd(8)" in out.stdout + out.stderr


def test_exposure_stays_at_most_1_6():
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)], check=False,
                         capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", out.stdout + out.stderr)
    assert m, out.stdout + out.stderr
    print(f"exposure {m.group(1)}")
    assert float(m.group(1)) <= 1.6


def suggested_metrics_path():
    line = next(ln for ln in CONF.read_text().splitlines() if re.match(r"#\s*metrics_path\s*=", ln))
    return tomllib.loads(line.lstrip("# "))["metrics_path"]


def test_the_suggested_metrics_path_is_writable_under_the_unit_and_readable_by_others():
    """Under ProtectSystem=strict only ReadWritePaths= and the unit's own directories are writable,
    and with CapabilityBoundingSet=CAP_NET_ADMIN root has no CAP_DAC_OVERRIDE either, so the
    path must be in a directory the unit creates; node_exporter (another user) must traverse it."""
    d = directives(UNIT.read_text())
    assert d["ProtectSystem"] == ["strict"] and "CAP_DAC_OVERRIDE" not in d["CapabilityBoundingSet"][0]
    path = Path(suggested_metrics_path())
    own = {Path("/run") / n: d.get("RuntimeDirectoryMode", ["0755"])[0] for v in d.get("RuntimeDirectory", [])
           for n in v.split()}
    own |= {Path("/var/lib") / n: d.get("StateDirectoryMode", ["0755"])[0] for v in d.get("StateDirectory", [])
            for n in v.split()}
    home = next((directory for directory in own if path.parent == directory), None)
    assert home is not None, f"{path} is in none of the unit's own directories {sorted(map(str, own))}"
    assert int(own[home], 8) & stat.S_IXOTH, f"{home} is mode {own[home]}: node_exporter cannot reach {path.name}"

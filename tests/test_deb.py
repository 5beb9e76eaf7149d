"""The Debian package: built with packaging/build-deb.sh, checked with dpkg-deb and lintian,
then installed with apt-get into a throwaway root and used there.

The throwaway root is an overlay of this machine's own / (Debian 12) with a
tmpfs on top, entered with chroot inside a private mount namespace: apt-get,
dpkg and the maintainer scripts (py3compile, deb-systemd-helper) run for real,
as on a fresh `apt install ./irqd_*.deb`, and every change vanishes with the
namespace. systemd is not PID 1 here (nor in CI's container), so
`systemctl enable` is tested (it only makes links) but `--now` is not.

Slow (a build takes about a minute), so it runs only with IRQD_TEST_DEB=1, as
.ci/run sets. Wheels: IRQD_WHEELHOUSE if set, else packaging/fetch-wheels.sh
(which needs PyPI) into a temporary directory.
"""
import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "sysfs" / "dev-virtio-2cpu"
BUILD_TOOLS = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "dh_python3": "dh-python",
               "lintian": "lintian", "man": "man-db", "unshare": "util-linux"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if os.environ.get("IRQD_TEST_DEB") != "1":
        pytest.skip("builds a Debian package (~1 min): set IRQD_TEST_DEB=1 (.ci/run does)")
    if os.geteuid() != 0:
        pytest.skip("installs into an overlay root: needs root")
    missing = sorted({pkg for tool, pkg in BUILD_TOOLS.items() if shutil.which(tool) is None})
    assert not missing, f"apt-get install {' '.join(missing)}"
    work = tmp_path_factory.mktemp("deb")
    wheelhouse = os.environ.get("IRQD_WHEELHOUSE")
    if not wheelhouse:
        wheelhouse = str(work / "wheelhouse")
        subprocess.run([REPO / "packaging" / "fetch-wheels.sh", wheelhouse], check=True, capture_output=True)
    start = time.monotonic()
    out = subprocess.run([REPO / "packaging" / "build-deb.sh", wheelhouse, work / "dist"], check=False,
                         capture_output=True, text=True)
    print(f"build-deb.sh (dpkg-buildpackage + lintian): {time.monotonic() - start:.1f} s")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (deb,) = (work / "dist").glob("irqd_*.deb")
    return {"deb": deb, "lintian": (work / "dist" / "lintian.txt").read_text(), "work": work}


def test_contents(built):
    listing = subprocess.run(["dpkg-deb", "-c", built["deb"]], check=True, capture_output=True, text=True).stdout
    files = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    modes = {line.split()[5].removeprefix("."): line.split()[0] for line in listing.splitlines()}
    for path in ("/usr/bin/irqd", "/lib/systemd/system/irqd.service", "/etc/irqd/irqd.toml",
                 "/usr/share/man/man8/irqd.8.gz", "/usr/share/man/man5/irqd.toml.5.gz",
                 "/usr/share/bash-completion/completions/irqd", "/usr/share/zsh/vendor-completions/_irqd",
                 "/usr/lib/irqd/python/irqd/cli/__init__.py", "/usr/share/doc/irqd/copyright"):
        assert path in files, f"{path} not in the package"
    assert modes["/usr/bin/irqd"] == "-rwxr-xr-x"
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")], "bytecode is made on the target"
    assert not [f for f in files if f.startswith("/usr/lib/irqd/python/bin")], "no console scripts of the deps"
    # every pinned wheel is in, at its pinned version
    pins = [ln.split("==") for ln in (REPO / "packaging" / "requirements.txt").read_text().splitlines()
            if "==" in ln and not ln.startswith("#")]
    for name, version in pins:
        dist = re.sub(r"[-.]+", "_", name)
        assert any(re.fullmatch(rf"/usr/lib/irqd/python/{dist}-{re.escape(version)}\.dist-info/", f, re.IGNORECASE)
                   for f in files), f"{name} {version} not bundled"
    control = subprocess.run(["dpkg-deb", "-f", built["deb"], "Depends"], check=True,
                             capture_output=True, text=True).stdout
    assert "python3.11" in control, "the cp311 extension modules need Python 3.11"
    assert "pydantic" not in control, "Debian 12's python3-pydantic is 1.x: it must not be a dependency"


def test_pins_cover_the_project_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = {re.sub(r"[-_.]+", "-", ln.split("==")[0]).lower()
              for ln in (REPO / "packaging" / "requirements.txt").read_text().splitlines() if "==" in ln}
    for requirement in project:
        if "python_version<" in requirement.replace(" ", ""):
            continue    # tomli: only before 3.11, and Debian 12 has 3.11
        m = re.match(r"[\w.-]+", requirement)
        assert m, requirement
        name = re.sub(r"[-_.]+", "-", m.group(0)).lower()
        assert name in pinned, f"{name} (pyproject.toml) is not pinned in packaging/requirements.txt"


def test_lintian_is_clean(built):
    tags = [ln for ln in built["lintian"].splitlines() if re.match(r"[EW]: ", ln)]
    assert tags == [], "\n".join(tags)


CHROOT_STEPS = r"""
step() { echo "=== $1"; shift; "$@" 2>&1; echo "=== rc $?"; }
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
cd /tmp
step install apt-get install -y --no-install-recommends ./irqd.deb
step conffiles dpkg-query -W -f='${Conffiles}\n' irqd
step is-enabled systemctl is-enabled irqd.service
step verify systemd-analyze verify /lib/systemd/system/irqd.service
step version irqd --version
step plan irqd plan --root /tmp/fx
step man8 sh -c 'MANWIDTH=80 man --warnings irqd 2>&1 >/dev/null'
step man5 sh -c 'MANWIDTH=80 man --warnings 5 irqd.toml 2>&1 >/dev/null'
step pydantic /usr/bin/python3 -IS -c 'import sys; sys.path.insert(0, "/usr/lib/irqd/python"); import pydantic; print(pydantic.VERSION, pydantic.__file__)'
step bytecode sh -c 'ls /usr/lib/irqd/python/irqd/__pycache__ | grep -c cpython-311.pyc'
step bash bash --norc -c 'source /usr/share/bash-completion/completions/irqd; COMP_WORDS=(irqd pl); COMP_CWORD=1; _shtab_irqd irqd pl irqd; echo "${COMPREPLY[@]}"'
if command -v zsh >/dev/null; then step zsh zsh -n /usr/share/zsh/vendor-completions/_irqd; fi
step enable systemctl enable irqd.service
step wants readlink /etc/systemd/system/multi-user.target.wants/irqd.service
step purge apt-get purge -y irqd
step after-purge sh -c 'ls -d /usr/bin/irqd /usr/lib/irqd /etc/irqd /etc/systemd/system/multi-user.target.wants/irqd.service 2>&1 | grep -v "No such file"; true'
"""

OVERLAY = r"""
set -e
B=$1
mount -t tmpfs tmpfs "$B"
mkdir "$B/up" "$B/work" "$B/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/up,workdir=$B/work" "$B/root"
mount -t proc proc "$B/root/proc"
mount --rbind /dev "$B/root/dev"
mount -t tmpfs tmpfs "$B/root/tmp"
mount -t tmpfs tmpfs "$B/root/run"
cp "$2" "$B/root/tmp/irqd.deb"
cp -a "$3" "$B/root/tmp/fx"
chroot "$B/root" /bin/bash -c "$4"
"""


@pytest.fixture(scope="module")
def installed(built):
    """{step: (exit status, output)} from apt-get install and use in a throwaway root."""
    base = built["work"] / "overlay"
    base.mkdir()
    start = time.monotonic()
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", OVERLAY, "overlay",
                          str(base), str(built["deb"]), str(FIXTURE), CHROOT_STEPS],
                         check=False, capture_output=True, text=True, timeout=300)
    print(f"install, use and purge in the overlay root: {time.monotonic() - start:.1f} s")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    steps = {}
    for m in re.finditer(r"^=== (\S+)\n(.*?)^=== rc (\d+)\n", out.stdout, re.DOTALL | re.MULTILINE):
        steps[m.group(1)] = (int(m.group(3)), m.group(2))
    return steps


def test_apt_install_gives_the_command_man_pages_and_completion(installed):
    assert installed["install"][0] == 0, installed["install"][1][-2000:]
    assert installed["version"] == (0, "irqd 0.1.0\n")
    rc, text = installed["plan"]
    assert rc == 0 and "Eligible CPUs: 0-1" in text
    assert installed["man8"] == (0, "") and installed["man5"] == (0, "")
    rc, text = installed["pydantic"]
    assert rc == 0 and text.startswith("2.") and "/usr/lib/irqd/python/pydantic/" in text
    assert installed["bytecode"][0] == 0 and int(installed["bytecode"][1]) > 5, "py3compile ran in postinst"
    assert installed["bash"] == (0, "plan\n")
    if "zsh" in installed:
        assert installed["zsh"] == (0, "")


def test_config_is_a_conffile_and_the_unit_verifies_disabled(installed):
    assert re.search(r"^ /etc/irqd/irqd.toml [0-9a-f]{32}$", installed["conffiles"][1], re.MULTILINE)
    assert installed["is-enabled"] == (1, "disabled\n"), "installed, not enabled"
    assert installed["verify"] == (0, ""), installed["verify"][1]


def test_enable_then_purge_leaves_nothing(installed):
    assert installed["enable"][0] == 0
    assert installed["wants"] == (0, "/lib/systemd/system/irqd.service\n")
    assert installed["purge"][0] == 0
    assert installed["after-purge"] == (0, ""), installed["after-purge"][1]

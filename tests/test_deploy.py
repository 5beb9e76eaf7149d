"""deploy/kubernetes as data: schema-valid offline, and consistent with what irqd reads and writes.

The schemas come from the ``kubernetes-validate`` package, which ships them
(no network). The last tests run the DaemonSet's own argv against a copy of
a fixture tree standing in for ``/host``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# test extras: PyYAML and kubernetes-validate; missing, these tests fail rather than skip
import kubernetes_validate
import pytest
import yaml

from irqd.apply.targets import WRITABLE
from irqd.config import parse_config
from irqd.discover.bans import DROPIN_DIR
from irqd.discover.root import SOCKET_FILE

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
MANIFESTS = DEPLOY / "kubernetes"
FIXTURES = REPO / "fixtures" / "sysfs"

# the oldest version with VolumeMount.recursiveReadOnly, and the newest the package ships
K8S_VERSIONS = ("1.30.0", "1.37.0")

# every read-write host path, and why; anything else writable is a mistake
READ_WRITE = {
    "/proc/irq": "IRQ affinity",
    "/proc/sys/net/core": "rps_sock_flow_entries (RFS)",
    "/sys": "RPS/XPS maps under sys/class/net",
    "/run/irqd": "status socket, state.json, lock, banned.d drop-ins",
    "/var/lib/node_exporter/textfile_collector": "daemon.metrics_path",
    "/etc/kubernetes/node-feature-discovery/features.d": "per-node audit score for NFD's local source",
}


def documents() -> list[dict]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(kind: str) -> dict:
    found = [d for d in documents() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec() -> dict:
    return one("DaemonSet")["spec"]["template"]["spec"]


def container() -> dict:
    (c,) = pod_spec()["containers"]
    return c


def argv() -> list[str]:
    return container()["command"] + container().get("args", [])


def flag(args: list[str], name: str) -> str:
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]


def mounts() -> dict[str, dict]:
    """Container mount path -> {"host": hostPath or None, "rw": bool, "mount": the volumeMount}."""
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    out = {}
    for m in container()["volumeMounts"]:
        v = volumes[m["name"]]
        out[m["mountPath"]] = {"host": v.get("hostPath", {}).get("path"), "rw": not m.get("readOnly", False),
                               "mount": m}
    return out


def writable(container_path: str) -> bool:
    """Whether the deepest mount holding ``container_path`` is read-write, as the kernel resolves it."""
    best = max((p for p in mounts() if container_path == p or container_path.startswith(p.rstrip("/") + "/")),
               key=len, default=None)
    return best is not None and mounts()[best]["rw"]


# -- schemas --------------------------------------------------------------------

@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_is_schema_valid(version):
    docs = documents()
    assert {d["kind"] for d in docs} >= {"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"}
    for doc in docs:
        # strict: an unknown or misspelt field is an error, not silently dropped
        kubernetes_validate.validate(doc, version, strict=True)


def test_validation_catches_a_bad_field():
    ds = one("DaemonSet")
    ds["spec"]["template"]["spec"]["hostNetwrok"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ds, K8S_VERSIONS[-1], strict=True)


# -- security and scheduling --------------------------------------------------------

def test_security_and_scheduling():
    spec = pod_spec()
    assert container()["securityContext"]["privileged"] is True
    assert spec["hostNetwork"] is True and spec["hostPID"] is True
    assert spec["priorityClassName"] == "system-node-critical"
    # one toleration, matching every key and every effect
    assert spec["tolerations"] == [{"operator": "Exists"}]
    strategy = one("DaemonSet")["spec"]["updateStrategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}
    # no API access: no token in the pod
    assert spec["automountServiceAccountToken"] is False
    assert one("ServiceAccount")["automountServiceAccountToken"] is False
    assert not [d for d in documents() if d["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]
    ns = one("Namespace")["metadata"]["name"]
    assert all(d["metadata"].get("namespace", ns) == ns for d in documents() if d["kind"] != "Namespace")


# -- mounts and --root ------------------------------------------------------------------

def test_host_root_is_read_only_and_root_flag_matches():
    root = flag(argv(), "--root")
    m = mounts()[root]
    assert m["host"] == "/" and not m["rw"]
    # without it, host submounts (/boot, /var, /proc...) stay writable under a read-only bind of /
    assert m["mount"]["recursiveReadOnly"] in ("IfPossible", "Enabled")


def test_read_write_mounts_are_exactly_the_needed_ones_and_mirror_the_host():
    root = flag(argv(), "--root")
    rw = {p: m for p, m in mounts().items() if m["rw"]}
    assert {m["host"] for m in rw.values()} == set(READ_WRITE)
    for path, m in rw.items():
        # a host file /X must be at ROOT/X, or irqd would write beside the mount
        assert path == root + m["host"], f"{m['host']} is mounted at {path}, not under {root}"
    for path, m in mounts().items():
        if m["host"] is not None:
            assert path == (root if m["host"] == "/" else root + m["host"])


def test_every_path_irqd_writes_is_writable():
    root = flag(argv(), "--root")
    literal = re.compile(r"^\^([a-z/_]+)")
    for pattern, scope in WRITABLE:
        m = literal.match(pattern.pattern)  # e.g. "proc/irq/" from ^proc/irq/\d+/smp_affinity$
        assert m, pattern.pattern
        prefix = m.group(1)
        assert writable(f"{root}/{prefix}x"), f"{scope} writes {pattern.pattern}: not writable"
    assert writable(flag(argv(), "--state"))
    assert os.path.dirname(flag(argv(), "--state")) == f"{root}/run/irqd"  # the lock goes next to it
    assert writable(f"{root}/{SOCKET_FILE}")
    assert writable(f"{root}/{DROPIN_DIR}/x.cpulist")
    config = parse_config(one("ConfigMap")["data"]["irqd.toml"])
    assert config.daemon.metrics_path and writable(config.daemon.metrics_path)
    assert not writable(f"{root}/etc/sysconfig/irqbalance")  # read, never written
    assert not writable(f"{root}/boot/x")


def test_config_is_mounted_where_irqd_reads_it():
    path = flag(argv(), "--config")
    mount = mounts()[os.path.dirname(path)]
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    assert volumes[mount["mount"]["name"]]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
    assert os.path.basename(path) in one("ConfigMap")["data"]


def test_probes_ask_irqd_status_on_the_same_root():
    root = flag(argv(), "--root")
    for probe in ("livenessProbe", "readinessProbe"):
        command = container()[probe]["exec"]["command"]
        assert command[:2] == ["irqd", "status"]
        assert flag(command, "--root") == root


def test_containerfile_entrypoint_is_the_daemonset_command():
    text = (DEPLOY / "Containerfile").read_text()
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ENTRYPOINT ")]
    assert json.loads(line[len("ENTRYPOINT "):]) == argv()
    assert re.search(r"^FROM \S*debian:12", text, re.MULTILINE)


# -- the entry command, run -------------------------------------------------------------

def localise(args: list[str], host: Path, config: Path) -> list[str]:
    """The DaemonSet's argv with /host moved to a temp tree, as the mounts would place it."""
    out = []
    for a in args:
        if a == flag(argv(), "--config"):
            a = str(config)
        elif a == "/host" or a.startswith("/host/"):
            a = str(host) + a[len("/host"):]
        out.append(a)
    assert out[0] == "irqd"
    return [sys.executable, "-m", "irqd"] + out[1:]


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def host(tmp_path):
    tree = tmp_path / "host"
    shutil.copytree(FIXTURES / "gcp-gve", tree, symlinks=True)
    for m in mounts().values():  # hostPath DirectoryOrCreate makes these on the node
        if m["host"] and m["host"] != "/":
            (tree / m["host"].lstrip("/")).mkdir(parents=True, exist_ok=True)
    config = tmp_path / "irqd.toml"
    config.write_text(one("ConfigMap")["data"]["irqd.toml"].replace('"/host/', f'"{tree}/'))
    return tree, config


def test_entry_command_runs_and_writes_only_where_mounted_rw(host):
    tree, config = host
    before = tree_digest(tree)
    cmd = localise(argv(), tree, config) + ["--no-netlink", "--cycles", "1", "--interval", "1"]
    r = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    after = tree_digest(tree)
    changed = {p for p in after if before.get(p) != after[p]}
    assert any(re.fullmatch(r"proc/irq/\d+/smp_affinity", p) for p in changed), changed
    assert "run/irqd/state.json" in changed
    # the metrics file is written while irqd runs and removed when it stops (issue 11: no stale
    # figures), so it is not in the tree afterwards; its directory must still be a writable mount
    assert "var/lib/node_exporter/textfile_collector/irqd.prom" not in after
    assert writable("/host/var/lib/node_exporter/textfile_collector/irqd.prom")
    for p in changed:
        assert writable(f"/host/{p}"), f"irqd wrote /{p}, which the DaemonSet mounts read-only"


def test_probe_answers_while_the_entry_command_runs(host):
    tree, config = host
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    daemon = subprocess.Popen(localise(argv(), tree, config) + ["--no-netlink", "--interval", "1"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        probe = localise(container()["livenessProbe"]["exec"]["command"], tree, config)
        deadline = time.monotonic() + 60
        while True:
            r = subprocess.run(probe, check=False, capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
            if r.returncode == 0 or time.monotonic() > deadline or daemon.poll() is not None:
                break
            time.sleep(0.5)
        assert r.returncode == 0, r.stderr
        assert (tree / "run/irqd/irqd.sock").exists()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    # and a probe against a stopped daemon fails, so the kubelet would restart it
    r = subprocess.run(probe, check=False, capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert r.returncode != 0

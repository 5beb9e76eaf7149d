"""Seeded fuzz over damaged trees and configs (issue 11, item 5): no traceback, no half-applied state.

tests/test_damaged_trees.py replaces whole files with garbage and calls the
library. This goes further, through ``irqd.cli.main`` (what the command
line runs): the damage is the kind a capture or a hostile tree really holds
(superscript and other Unicode digits that ``str.isdigit()`` accepts but
``int()`` refuses, in /proc/interrupts headers, IRQ labels and msi_irqs
names; binary smp_affinity; files cut short; deep TOML nesting), and every
run of show, plan, audit, apply and restore must return an exit status the
README lists, never raise. After apply and restore the tree must be exactly
as it was before apply: a failed apply leaves nothing half-written.

IRQD_FUZZ_CASES sets the number of cases (default 300: 80 trees, 220
configs); IRQD_FUZZ_SEED the seed.
"""
import contextlib
import io
import os
import random
import shutil
import signal
import time
import traceback

import pytest

from irqd.cli import main
from tests.support.clikit import (
    DOCUMENTED_EXITS,
    Daemon,
    assert_clean,
    irqd,
    snapshot_tree,
    tree_diff,
)
from tests.support.paths import FIXTURES, REPO

CASES = int(os.environ.get("IRQD_FUZZ_CASES", "300"))
SEED = int(os.environ.get("IRQD_FUZZ_SEED", "11"))
TREE_CASES = CASES * 4 // 15
CONFIG_CASES = CASES - TREE_CASES

# digits str.isdigit() accepts: superscripts, Arabic-Indic, fullwidth, Devanagari
ODD_DIGITS = "¹²³⁰⁴٣٠１३"


def call(argv) -> tuple[int | None, str, str]:
    """``irqd ARGV`` in this process: (exit status or None for an exception, stdout, stderr+traceback)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:   # argparse
            rc = e.code if isinstance(e.code, int) else 2
        except BaseException:
            return None, out.getvalue(), err.getvalue() + traceback.format_exc()
    return rc, out.getvalue(), err.getvalue()


def _summary(failures, what: int, detail: int) -> str:
    """How many failures of each kind: (command, exception type or check)."""
    from collections import Counter
    kinds = Counter((f[what], str(f[detail][0]).split(":")[0] if f[detail] and isinstance(f[detail], list)
                     else str(f[detail])) for f in failures)
    return "".join(f"  {n:4} x {cmd}: {kind}\n" for (cmd, kind), n in kinds.most_common())


class Undo:
    """Damage a tree and put it back exactly, so one copy serves every case."""

    def __init__(self, root):
        self.root = root
        self.saved: list[tuple[str, tuple]] = []

    def _save(self, path: str) -> None:
        if os.path.islink(path):
            self.saved.append((path, ("link", os.readlink(path))))
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                self.saved.append((path, ("file", f.read())))
        elif not os.path.lexists(path):
            self.saved.append((path, ("none",)))

    def write(self, path: str, data: bytes) -> None:
        self._save(path)
        with open(path, "wb") as f:
            f.write(data)

    def delete(self, path: str) -> None:
        self._save(path)
        os.unlink(path)

    def rename(self, old: str, new: str) -> None:
        self._save(old)
        self._save(new)
        os.rename(old, new)

    def undo(self) -> None:
        for path, what in reversed(self.saved):
            if os.path.lexists(path):
                os.unlink(path)
            if what[0] == "link":
                os.symlink(what[1], path)
            elif what[0] == "file":
                with open(path, "wb") as f:
                    f.write(what[1])
        self.saved.clear()
        shutil.rmtree(os.path.join(self.root, "var"), ignore_errors=True)


def _odd(rng, text: str) -> str:
    """Replace one ASCII digit of ``text`` with a Unicode digit."""
    spots = [i for i, c in enumerate(text) if c.isascii() and c.isdigit()]
    if not spots:
        return text + rng.choice(ODD_DIGITS)
    i = rng.choice(spots)
    return text[:i] + rng.choice(ODD_DIGITS) + text[i + 1:]


def damage(rng, root: str, undo: Undo, files: list[str], msi: list[str]) -> list[str]:
    done = []
    interrupts = os.path.join(root, "proc/interrupts")
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["header", "label", "count", "msi", "binary-affinity", "truncate", "garbage",
                           "delete", "stat-intr", "affinity-list"])
        if kind in ("header", "label", "count"):
            with open(interrupts, encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().splitlines(keepends=True)
            if kind == "header":
                lines[0] = _odd(rng, lines[0])
            else:
                i = rng.randrange(1, len(lines))
                label, _, rest = lines[i].partition(":")
                lines[i] = (_odd(rng, label) + ":" + rest) if kind == "label" else (label + ":" + _odd(rng, rest))
            undo.write(interrupts, "".join(lines).encode("utf-8", errors="surrogateescape"))
        elif kind == "msi" and msi:
            path = rng.choice(msi)
            if os.path.lexists(path):
                head, name = os.path.split(path)
                undo.rename(path, os.path.join(head, _odd(rng, name)))
        elif kind == "binary-affinity":
            irq = rng.choice([f for f in files if f.endswith("/smp_affinity") and f.startswith("proc/irq/")])
            undo.write(os.path.join(root, irq), bytes(rng.randrange(256) for _ in range(rng.randint(1, 12))))
        elif kind == "truncate":
            path = os.path.join(root, rng.choice(files))
            if os.path.isfile(path):
                with open(path, "rb") as src:
                    whole = src.read()
                undo.write(path, whole[:rng.randrange(len(whole) + 1)])
        elif kind == "garbage":
            path = os.path.join(root, rng.choice(files))
            undo.write(path, rng.choice(["", "\x00", "٣\n", "ff,ff,ff\n", "-0\n", "1" * 5000 + "\n",
                                         "0-⁴\n", "\udcff"]).encode("utf-8", errors="surrogateescape"))
        elif kind == "delete":
            path = os.path.join(root, rng.choice(files))
            if os.path.isfile(path):
                undo.delete(path)
        elif kind == "stat-intr":
            path = os.path.join(root, "proc/stat")
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="surrogateescape") as src_text:
                    text = src_text.read()
                undo.write(path, text.replace("intr ", "intr " + rng.choice(ODD_DIGITS) + " ", 1)
                           .encode("utf-8", errors="surrogateescape"))
        elif kind == "affinity-list":
            irq = rng.choice([f for f in files if f.endswith("/smp_affinity") and f.startswith("proc/irq/")])
            undo.write(os.path.join(root, irq + "_list"), f"0-{rng.choice(ODD_DIGITS)}\n".encode())
        done.append(kind)
    return done


@pytest.fixture(scope="module")
def fuzz_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "tree"
    shutil.copytree(FIXTURES / "dev-virtio-2cpu", root, symlinks=True)
    return str(root)


def test_fuzz_damaged_trees(fuzz_tree):
    root = fuzz_tree
    rng = random.Random(SEED)
    files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
                   if not os.path.islink(os.path.join(d, f)) and not f.endswith(".toml"))
    msi = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if d.endswith("/msi_irqs"))
    undo = Undo(root)
    failures: list[tuple] = []
    for case in range(TREE_CASES):
        kinds = damage(rng, root, undo, files, msi)
        try:
            for argv in (["show", "--root", root, "--format", "json"], ["plan", "--root", root],
                         ["audit", "--root", root]):
                rc, _, err = call(argv)
                if rc not in DOCUMENTED_EXITS:
                    failures.append((case, kinds, argv[0], rc, err.strip().splitlines()[-1:]))
            before = snapshot_tree(root)
            results = []
            for argv in (["apply", "--root", root, "--yes"], ["restore", "--root", root]):
                rc, _, err = call(argv)
                results.append(rc)
                if rc not in DOCUMENTED_EXITS:
                    failures.append((case, kinds, argv[0], rc, err.strip().splitlines()[-1:]))
            left = tree_diff(before, snapshot_tree(root))
            if left:
                failures.append((case, kinds, "apply+restore", results, left[:3]))
        finally:
            undo.undo()
    assert not failures, f"{len(failures)} failure(s) in {TREE_CASES} damaged trees (seed {SEED}):\n" + \
        _summary(failures, 2, 4) + "\n".join(map(repr, failures[:15]))


def _deep(rng) -> str:
    n = rng.choice([500, 2000, 10000])
    return rng.choice([
        "a = " + "[" * n + "]" * n + "\n",
        "banned_cpus = " + "[" * n + "]" * n + "\n",
        "[daemon]\ninterval = " + "{a = " * n + "1" + "}" * n + "\n",
        "x = " + "[{b = " * (n // 2) + "1" + "}]" * (n // 2) + "\n",
    ])


KEYS = ["banned_cpus", "policy", "rps", "xps", "rps_virtual", "rfs_entries", "daemon.interval",
        "daemon.restore_on_exit", "daemon.samples", "daemon.metrics_path", "isolation.nohz_full",
        "nonsense", '"quoted key"', "a.b.c"]
VALUES = ['"no"', "1", "1.5", "[]", "{}", '"٣"', '"0-³"', '"0-32767"', "true", "-1", "nan", "inf", "-inf",
          '"\\u0000"', "1979-05-27", '"' + "9" * 400 + '"', "0x10", "1e400", '""', '"7-2"']


def _config(rng, shipped: str) -> bytes:
    kind = rng.choice(["deep", "values", "bytes", "truncate", "tables"])
    if kind == "deep":
        return _deep(rng).encode()
    if kind == "values":
        return "".join(f"{rng.choice(KEYS)} = {rng.choice(VALUES)}\n" for _ in range(rng.randint(1, 6))).encode()
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    if kind == "truncate":
        return shipped.encode()[:rng.randrange(len(shipped) + 1)]
    return rng.choice(["[[daemon]]\ninterval = 5\n", "[daemon]\n[daemon]\n", "[device]\nmatch = 1\n",
                       "[[device]]\n[[device.x]]\n", "[a.b]\n[a]\nb = 1\n", "daemon = 1\n[daemon]\n"]).encode()


def test_fuzz_configs(fuzz_tree, tmp_path):
    rng = random.Random(SEED + 1)
    shipped = (REPO / "conf/irqd.toml").read_text()
    cfg = tmp_path / "irqd.toml"
    failures: list[tuple] = []
    for case in range(CONFIG_CASES):
        data = _config(rng, shipped)
        cfg.write_bytes(data)
        commands = [["config", "check", "--config", cfg]]
        if case % 6 == 0:
            commands.append(["plan", "--root", fuzz_tree, "--config", cfg])
        for argv in commands:
            rc, _, err = call(argv)
            if rc not in DOCUMENTED_EXITS:
                failures.append((case, argv[0], data[:60], rc, err.strip().splitlines()[-1:]))
            elif rc != 0 and str(cfg) + ":" not in err:
                failures.append((case, argv[0], data[:60], rc, "error without file:line", err[:200]))
    assert not failures, f"{len(failures)} failure(s) in {CONFIG_CASES} configs (seed {SEED}):\n" + \
        _summary(failures, 1, 4) + "\n".join(map(repr, failures[:15]))


DEEP = "a = " + "[" * 10000 + "]" * 10000 + "\n"


@pytest.mark.parametrize("argv", [("config", "check"), ("plan", "--root", "{tree}"),
                                  ("apply", "--root", "{tree}", "--yes"),
                                  ("restore", "--root", "{tree}", "--if-configured")])
def test_deep_config_on_the_command_line(argv, fixture_copy, tmp_path):
    tree = fixture_copy("dev-virtio-2cpu")
    cfg = tmp_path / "deep.toml"
    cfg.write_text(DEEP)
    out = irqd(*[a.format(tree=tree) for a in argv], "--config", cfg)
    assert_clean(out, argv[0])
    assert out.returncode in (1, 2) and f"{cfg}:1:" in out.stderr, (out.returncode, out.stderr[-500:])


def test_deep_config_on_sighup_keeps_the_daemon(fixture_copy, tmp_path):
    tree = fixture_copy("dev-virtio-2cpu")
    with Daemon(tree, tmp_path, "--interval", "60", config="[daemon]\ninterval = 60\n") as d:
        d.wait_ready()
        (tmp_path / "irqd.toml").write_text(DEEP)
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert d.alive(), d.stderr()
        assert d.stop() == 0, d.stderr()
    assert "Traceback" not in d.stderr() and "RecursionError" not in d.stderr(), d.stderr()

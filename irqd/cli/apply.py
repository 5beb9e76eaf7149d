"""``irqd apply`` and ``irqd restore`` on the command line: checks, confirmation, reporting."""

from __future__ import annotations

import os
import sys
from argparse import Namespace
from collections.abc import Callable

from .. import exits
from ..apply.state import State, StateError, load_state
from ..apply.targets import SCOPES, targets
from ..apply.writer import ApplyRefused, Lock, PermissionProblem, Report, apply_settled, restore
from ..discover import DiscoveryError, Root, RootError, discover
from ..discover.processes import irqbalance_pids
from ..planner import plan
from .common import err as _err
from .common import load_config_or_exit, parse_only, privilege_problem
from .plantext import render_diff


def _root(args: Namespace) -> Root | None:
    try:
        return Root(args.root)
    except RootError as e:
        _err(str(e))
        return None


def _state_path(args: Namespace, root: Root) -> str | None:
    """Where the state lives, or None after refusing a path that leaves the tree through a link."""
    path = args.state or root.state_path
    problem = root.own_path_problem(path)
    if problem:
        _err(problem)
        return None
    return path


def _load_state(path: str) -> State | None:
    try:
        state = load_state(path)
    except StateError as e:
        _err(f"{e}\n  irqd will not write while it cannot keep the originals; move the file away "
             "only if you are sure nothing needs restoring")
        return None
    if state.recovered_from_backup:
        _err(f"warning: {path} was damaged; using its backup {path}.bak")
    return state


def _privileged(root: Root) -> bool:
    problem = privilege_problem(root)
    if problem:
        _err(problem)
    return problem is None


def _print_report(report: Report, verb: str) -> None:
    for o in report.outcomes:
        if o.status == "same":
            continue
        print(f"{o.status:>8}  {o.label}" + (f": {o.detail}" if o.detail else ""))
    counts = {s: report.count(s) for s in ("written", "moved", "same", "managed", "gone", "error", "refused",
                                           "hands-off")}
    print(f"{verb}: {counts['written'] + counts['moved']} written ({counts['moved']} on a fallback CPU), "
          f"{counts['same']} already right, {counts['managed']} kernel-managed, {counts['gone']} gone, "
          f"{counts['error']} failed" + (f", {counts['refused']} refused" if counts["refused"] else "")
          + (f", {counts['hands-off']} left to whoever changed them" if counts["hands-off"] else ""))


def run_apply(args: Namespace) -> int:
    only = parse_only(args.only, SCOPES)
    if only is None:
        return exits.USAGE
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.USAGE
    root = _root(args)
    if root is None:
        return exits.USAGE
    if not args.dry_run and not _privileged(root):
        return exits.PERMISSION
    path = _state_path(args, root)
    if path is None:
        return exits.USAGE
    # read now only for the IRQs a past apply found kernel-managed; the state written is re-read
    # under the lock, after the prompt, so a writer that finished meanwhile loses nothing
    early = _load_state(path)
    if early is None:
        return exits.USAGE
    # irqbalance rewrites IRQ affinities only: it cannot undo RPS or XPS maps
    pids = irqbalance_pids(root) if "irq" in only else []
    if pids and not args.force and not args.dry_run:
        _err(f"irqbalance is running (pid {', '.join(map(str, pids))}); it would undo irqd's work within "
             "seconds. Stop it (systemctl disable --now irqbalance) or pass --force")
        return exits.REFUSED
    try:
        snap = discover(args.root, confirmed_managed=early.managed)
    except DiscoveryError as e:
        _err(str(e))
        return exits.USAGE
    for problem in snap.problems:   # what could not be read is not planned: say which files
        _err(f"warning: {problem.path}: {problem.message}")
    result = plan(snap, config)
    todo = targets(result, only)
    if args.dry_run:
        sys.stdout.write(render_diff(result))
        print(f"would write {len(todo)} file(s)" + (f" (only {','.join(only)})" if only != SCOPES else ""))
        return exits.OK
    if not todo:
        print("nothing to change")
        return exits.OK
    if sys.stdin.isatty() and not args.yes:
        sys.stdout.write(render_diff(result))
        answer = input(f"Write these {len(todo)} change(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing written")
            return exits.OK
    return _locked(path, lambda state: apply_settled(args.root, state, snap, todo,
                                                     lambda s: targets(plan(s, config), only)), "apply",
                   "; nothing was left changed")


def _locked(path: str, work: Callable[[State], Report | None], verb: str, permission_note: str = "") -> int:
    """Take the writer lock, then read the state and run ``work`` on it, saving under the same lock;
    report it, or turn a refusal into its exit status."""
    try:
        with Lock(path):
            state = _load_state(path)
            if state is None:
                return exits.USAGE
            report = work(state)
            if report is None:
                return exits.OK
    except ApplyRefused as e:
        _err(str(e))
        return exits.REFUSED
    except PermissionProblem as e:
        _err(f"{e}{permission_note}")
        return exits.PERMISSION
    except StateError as e:
        _err(str(e))
        return exits.USAGE
    _print_report(report, verb)
    return report.exit_code


def run_restore(args: Namespace) -> int:
    if args.if_configured:
        config = load_config_or_exit(args.config)
        if config is None:
            return exits.USAGE
        if not config.daemon.restore_on_exit:
            print("daemon.restore_on_exit is off: nothing restored")
            return exits.OK
    root = _root(args)
    if root is None:
        return exits.USAGE
    if not _privileged(root):
        return exits.PERMISSION
    path = _state_path(args, root)
    if path is None:
        return exits.USAGE

    if not any(os.path.exists(p) for p in (path, path + ".bak")):
        print(f"nothing to restore ({path} holds no originals)")
        return exits.OK   # no state: no lock file made either

    def work(state: State) -> Report | None:
        if not state.originals:
            print(f"nothing to restore ({state.path} holds no originals)")
            return None
        return restore(args.root, state, force=args.force)
    return _locked(path, work, "restore")

"""``irqd apply`` and ``irqd restore`` on the command line: checks, confirmation, reporting."""

from __future__ import annotations

import sys

from .apply import (EXIT_PERMISSION, EXIT_REFUSED, EXIT_USAGE, SCOPES, Applier, ApplyRefused, Lock,
                    PermissionProblem, Report, irqbalance_pids, restore, targets)
from .state import StateError, default_path, load_state


def _err(msg: str) -> None:
    print(f"irqd: {msg}", file=sys.stderr)


def _load_state(args):
    path = args.state or default_path(args.root)
    try:
        state = load_state(path)
    except StateError as e:
        _err(f"{e}\n  irqd will not write while it cannot keep the originals; move the file away "
             "only if you are sure nothing needs restoring")
        return None
    if state.recovered_from_backup:
        _err(f"warning: {path} was damaged; using its backup {path}.bak")
    return state


def _print_report(report: Report, verb: str) -> None:
    for o in report.outcomes:
        if o.status == "same":
            continue
        print(f"{o.status:>8}  {o.label}" + (f": {o.detail}" if o.detail else ""))
    counts = {s: report.count(s) for s in ("written", "moved", "same", "managed", "gone", "error", "refused")}
    print(f"{verb}: {counts['written'] + counts['moved']} written ({counts['moved']} on a fallback CPU), "
          f"{counts['same']} already right, {counts['managed']} kernel-managed, {counts['gone']} gone, "
          f"{counts['error']} failed" + (f", {counts['refused']} refused" if counts["refused"] else ""))


def run_apply(args) -> int:
    from .cli import load_config_or_exit
    from .discover import DiscoveryError, discover
    from .planner import plan
    from .plantext import render_diff

    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    bad = [s for s in only if s not in SCOPES]
    if bad or not only:
        _err(f"--only: unknown part(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(SCOPES)}")
        return EXIT_USAGE
    config = load_config_or_exit(args.config)
    if config is None:
        return EXIT_USAGE
    state = _load_state(args)
    if state is None:
        return EXIT_USAGE
    # irqbalance rewrites IRQ affinities only: it cannot undo RPS or XPS maps
    pids = irqbalance_pids(args.root) if "irq" in only else []
    if pids and not args.force and not args.dry_run:
        _err(f"irqbalance is running (pid {', '.join(map(str, pids))}); it would undo irqd's work within "
             "seconds. Stop it (systemctl disable --now irqbalance) or pass --force")
        return EXIT_REFUSED
    try:
        snap = discover(args.root, confirmed_managed=state.managed)
    except DiscoveryError as e:
        _err(str(e))
        return EXIT_USAGE
    result = plan(snap, config)
    todo = targets(result, snap, only)
    if args.dry_run:
        sys.stdout.write(render_diff(result))
        print(f"would write {len(todo)} file(s)" + (f" (only {','.join(only)})" if only != SCOPES else ""))
        return 0
    if not todo:
        print("nothing to change")
        return 0
    if sys.stdin.isatty() and not args.yes:
        sys.stdout.write(render_diff(result))
        answer = input(f"Write these {len(todo)} change(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing written")
            return 0
    return _locked(state, lambda: Applier(args.root, state, snap).run(todo), "apply",
                   "; nothing was left changed")


def _locked(state, work, verb: str, permission_note: str = "") -> int:
    """Run ``work`` holding the writer lock; report it, or turn a refusal into its exit status."""
    try:
        with Lock(state.path):
            report = work()
    except ApplyRefused as e:
        _err(str(e))
        return EXIT_REFUSED
    except PermissionProblem as e:
        _err(f"{e}{permission_note}")
        return EXIT_PERMISSION
    except StateError as e:
        _err(str(e))
        return EXIT_USAGE
    _print_report(report, verb)
    return report.exit_code


def run_restore(args) -> int:
    if args.if_configured:
        from .cli import load_config_or_exit
        config = load_config_or_exit(args.config)
        if config is None:
            return EXIT_USAGE
        if not config.daemon.restore_on_exit:
            print("daemon.restore_on_exit is off: nothing restored")
            return 0
    state = _load_state(args)
    if state is None:
        return EXIT_USAGE
    if not state.originals:
        print(f"nothing to restore ({state.path} holds no originals)")
        return 0
    return _locked(state, lambda: restore(args.root, state), "restore")

"""``irqd run`` on the command line: checks before the daemon starts, and its exit status."""

from __future__ import annotations

import math
from argparse import Namespace

from .. import exits
from ..apply.state import StateError, load_state
from ..apply.targets import SCOPES
from ..apply.writer import ApplyRefused, Lock, PermissionProblem
from ..daemon.log import Log
from ..daemon.loop import Daemon
from ..daemon.sdnotify import Notifier
from ..discover import Root, RootError
from ..discover.processes import irqbalance_pids
from .common import load_config_or_exit, parse_only, privilege_problem

# the config's bounds on daemon.interval (irqd/config.py), for the --interval flag too
INTERVAL_MIN, INTERVAL_MAX = 1.0, 3600.0


def run_daemon(args: Namespace) -> int:
    log = Log()
    only = parse_only(args.only, SCOPES)
    if only is None:
        return exits.USAGE
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.USAGE
    interval = args.interval
    if interval is not None and not (math.isfinite(interval) and INTERVAL_MIN <= interval <= INTERVAL_MAX):
        log.err(f"--interval {interval:g}: must be a number of seconds from {INTERVAL_MIN:g} to {INTERVAL_MAX:g} "
                "(as daemon.interval in the config)")
        return exits.USAGE
    try:
        root = Root(args.root)
    except RootError as e:
        log.err(str(e))
        return exits.USAGE
    problem = privilege_problem(root)
    if problem:
        log.err(problem)
        return exits.PERMISSION
    state_path = args.state or root.state_path
    socket_path = args.socket or root.socket_path
    for path in (state_path, socket_path):
        problem = root.own_path_problem(path)
        if problem:
            log.err(problem)
            return exits.USAGE
    # irqbalance rewrites IRQ affinities only: it cannot undo RPS or XPS maps
    pids = irqbalance_pids(root) if "irq" in only else []
    if pids:
        log.err(f"irqbalance is running (pid {', '.join(map(str, pids))}); stop it first: "
                "systemctl disable --now irqbalance")
        return exits.REFUSED
    try:
        with Lock(state_path):
            try:
                state = load_state(state_path)
            except StateError as e:
                log.err(f"{e}; irqd will not write while it cannot keep the originals")
                return exits.USAGE
            daemon = Daemon(args.root, config, args.config, state, log, Notifier(), only=only, interval=interval)
            return daemon.run(cycles=args.cycles, netlink=not args.no_netlink, socket_path=socket_path)
    except ApplyRefused as e:
        log.err(str(e))
        return exits.REFUSED
    except PermissionProblem as e:
        log.err(str(e))
        return exits.PERMISSION
    except StateError as e:
        log.err(str(e))
        return exits.USAGE

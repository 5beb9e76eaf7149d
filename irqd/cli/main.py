"""Command line: the parser and the dispatch of ``irqd show | plan | apply ...``.

Subcommands import what they need only when run: ``irqd show`` starts
without pydantic, and nothing but ``irqd run`` imports pyroute2.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__, exits

EPILOG = """\
examples:
  irqd plan                         what irqd would do on this machine (reads only)
  irqd plan --format diff           only the changes, then a summary
  irqd show                         what this machine looks like: CPUs, NUMA, NICs, queues, IRQs
  irqd show --root fixtures/sysfs/intel-2s-i40e-ice --format json
  irqd capture /tmp/mybox --tar     copy what irqd reads into a tree you can send us

A ROOT is a directory laid out like / (see fixtures/sysfs/ for examples); irqd
reads a machine only through it, so every command can run on a captured tree.
"""


def _root_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="/", metavar="DIR",
                   help="read the machine from DIR instead of / (a tree made by 'irqd capture')")


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, metavar="FILE",
                   help="TOML config (default /etc/irqd/irqd.toml if it exists; see conf/irqd.toml)")


def _state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", default=None, metavar="FILE",
                   help="state file (default /var/lib/irqd/state.json, or ROOT/var/lib/irqd/state.json with --root)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="irqd",
        description="Place network and device interrupts, RPS and XPS maps: "
                    "a NUMA-aware, queue-aware replacement for irqbalance.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"irqd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("show", help="show the machine as irqd sees it (read-only)",
                       description="Show CPUs grouped by node, core and SMT thread; every NIC with its "
                                   "driver, node, kind and which CPU each queue's IRQ is on now; other "
                                   "device IRQs; and whatever could not be read. Changes nothing.")
    _root_arg(p)
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table for people (default), json for scripts (shape in README)")

    p = sub.add_parser("plan", help="compute where every IRQ, RPS and XPS map should go (read-only)",
                       description="Compute the plan for this machine (or --root DIR) and print it. Nothing is "
                                   "written. Eligible CPUs are the online ones minus isolated (isolcpus=, "
                                   "nohz_full=, irqaffinity=, sysfs isolated) and banned ones; queue IRQs are "
                                   "spread one per core on the NIC's NUMA node; RPS is turned on where queues "
                                   "are fewer than cores; XPS maps each CPU of the node to one tx queue.")
    _root_arg(p)
    _config_arg(p)
    p.add_argument("--format", choices=("table", "json", "diff", "svg", "html"), default="table",
                   help="table: per NIC, each queue now and after (default); diff: only changes and a "
                        "summary; json: stable, for scripts; svg: a picture of the machine, now and after; "
                        "html: the same picture in one self-contained page to mail or attach to a ticket")

    p = sub.add_parser("apply", help="write the plan: IRQ affinities, RPS/RFS/XPS (saves originals first)",
                       description="Compute the plan and write only what differs from the current state. Each "
                                   "file's original value is saved to the state file before irqd first changes "
                                   "it, so 'irqd restore' can always put the machine back. Every write is read "
                                   "back. On a terminal the changes are shown and confirmed first.",
                       epilog="exit status: 0 done, 1 some writes failed (listed), 2 bad config/state/input, "
                              "3 refused (irqbalance running, another irqd writing), 4 permission denied "
                              "(nothing is left half-applied)")
    _root_arg(p)
    _config_arg(p)
    _state_arg(p)
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be written (the plan's diff); write nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before writing")
    p.add_argument("--force", action="store_true",
                   help="write even though irqbalance is running (it will undo the work)")
    p.add_argument("--only", default="irq,rps,xps,sysctl", metavar="LIST",
                   help="comma-separated parts to write: irq (smp_affinity), rps (rps_cpus, rps_flow_cnt), "
                        "xps (xps_cpus, xps_rxqs), sysctl (rps_sock_flow_entries); default all")

    p = sub.add_parser("restore", help="put back every original value irqd replaced",
                       description="Write every original saved by 'irqd apply' back, then clear the state file. "
                                   "Lists what can no longer be restored (device gone, IRQ kernel-managed).")
    _root_arg(p)
    _state_arg(p)
    _config_arg(p)
    p.add_argument("--if-configured", action="store_true",
                   help="restore only when the config sets daemon.restore_on_exit (for the unit's ExecStopPost=)")
    p.add_argument("--force", action="store_true",
                   help="restore even files someone changed after irqd wrote them (left alone by default)")

    p = sub.add_parser("audit", help="score the current state of the machine (read-only)",
                       description="Find what is wrong with IRQ, RPS, RFS and XPS placement today: queue IRQs off "
                                   "their NIC's node, anything on isolated or banned CPUs, stacked queues, SMT "
                                   "collisions, single-queue NICs without RPS, missing or disagreeing XPS, RFS "
                                   "half set up, affinities the kernel did not honour, managed IRQs. Each finding "
                                   "says what the plan would do.",
                       epilog="exit status: 0 clean, 1 findings, 2 bad input. With MACHINE arguments (root "
                              "directories or 'irqd capture --tar' archives, e.g. irqd audit fleet/*.tar.gz) "
                              "it audits each machine alike and prints one row per machine, worst first: exit "
                              "0 every machine clean, 1 findings on any, 2 any machine could not be audited "
                              "(each is named)")
    _root_arg(p)
    # None, not "/": --root together with MACHINE arguments is refused, even --root /
    p.set_defaults(root=None)
    p.add_argument("machines", nargs="*", metavar="MACHINE",
                   help="audit these machines instead of one (not with --root): each a root directory or an "
                        "'irqd capture --tar' archive (.tar.gz); one table row each")
    _config_arg(p)
    p.add_argument("--format", choices=("table", "json", "html"), default="table",
                   help="table for people (default), json for scripts, html: the machine's picture with "
                        "each finding marked on its CPUs (one machine only)")

    p = sub.add_parser("run", help="the daemon: apply, then follow netlink events and load",
                       description="Apply the plan, then keep it right: re-plan at once when devices appear, "
                                   "vanish, are renamed or change channels (netlink), and rebalance by measured "
                                   "load only when an imbalance persists. Leaves alone what someone else changed. "
                                   "SIGHUP re-reads the config, SIGTERM/SIGINT stop.")
    _root_arg(p)
    _config_arg(p)
    _state_arg(p)
    p.add_argument("--no-netlink", action="store_true", help="do not listen to netlink (fixture trees, tests)")
    p.add_argument("--only", default=None, metavar="LIST",
                   help="comma-separated parts to manage: irq, rps, xps, sysctl (default all)")
    p.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                   help="sampling interval (default: config daemon.interval, 10 s)")
    p.add_argument("--socket", default=None, metavar="PATH",
                   help="status socket (default /run/irqd/irqd.sock, or ROOT/run/irqd/irqd.sock with --root)")
    p.add_argument("--cycles", type=int, default=None, help=argparse.SUPPRESS)

    p = sub.add_parser("status", help="ask the running daemon what it is doing",
                       description="Current placement, per-CPU interrupt load, last event, last moves, and "
                                   "managed or hands-off IRQs, from the running 'irqd run' over its Unix socket.")
    _root_arg(p)
    p.add_argument("--socket", default=None, metavar="PATH", help="status socket of the daemon")
    p.add_argument("--format", choices=("table", "json"), default="table")

    from .top import add_parser as add_top
    add_top(sub)
    from .ban import add_parsers as add_ban
    add_ban(sub)

    p = sub.add_parser("config", help="check or show the configuration",
                       description="'irqd config check' validates a config file and lists every problem with "
                                   "its line; 'irqd config show' prints the effective config, defaults included.")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    for name, text in (("check", "validate the file; exit 1 on any problem"),
                       ("show", "print the effective configuration as TOML")):
        cp = csub.add_parser(name, help=text, description=text)
        _config_arg(cp)

    p = sub.add_parser("capture", help="copy the files irqd reads into a fixture tree",
                       description="Copy exactly the files irqd reads from the live host (or --root) into "
                                   "DEST, keeping symlinks, and write DEST/irqd-fixture.toml saying what "
                                   "was captured, from which kernel and when. Reads only.")
    _root_arg(p)
    p.add_argument("dest", metavar="DEST", help="directory to create (must not exist, or be empty)")
    p.add_argument("--tar", action="store_true", help="also pack DEST into DEST.tar.gz")
    p.add_argument("--description", default=None, help="free text stored in irqd-fixture.toml")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return exits.USAGE
    try:
        return _dispatch(args, parser)
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    except BrokenPipeError:
        return exits.OK


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "show":
        return _show(args)
    if args.command == "plan":
        return _plan(args)
    if args.command == "apply":
        from .apply import run_apply
        return run_apply(args)
    if args.command == "restore":
        from .apply import run_restore
        return run_restore(args)
    if args.command == "config":
        return _config(args, parser)
    if args.command == "audit":
        if args.machines:
            from .fleet import run_fleet
            return run_fleet(args)
        from .audit import run_audit
        return run_audit(args)
    if args.command == "run":
        from .run import run_daemon
        return run_daemon(args)
    if args.command == "status":
        from .status import run_status
        return run_status(args)
    if args.command in ("ban", "unban"):
        from .ban import run as run_ban
        return run_ban(args)
    if args.command == "top":
        from .top import run as run_top
        return run_top(args)
    if args.command == "capture":
        from ..discover.capture import capture
        return capture(args.root, args.dest, tar=args.tar, description=args.description)
    parser.error(f"unknown command {args.command}")
    return exits.USAGE


def _show(args: argparse.Namespace) -> int:
    from ..discover import DiscoveryError, discover
    from .show import render_json, render_table
    try:
        snap = discover(args.root)
    except DiscoveryError as e:
        print(f"irqd: {e}", file=sys.stderr)
        return exits.USAGE
    sys.stdout.write(render_json(snap) if args.format == "json" else render_table(snap))
    return exits.OK


def _plan(args: argparse.Namespace) -> int:
    from ..discover import DiscoveryError, Root, RootError, discover
    from ..planner import plan
    from .common import known_managed, load_config_or_exit
    from .plantext import render_diff, render_json, render_table
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.USAGE
    try:
        snap = discover(args.root, confirmed_managed=known_managed(Root(args.root)))
    except (DiscoveryError, RootError) as e:
        print(f"irqd: {e}", file=sys.stderr)
        return exits.USAGE
    result = plan(snap, config)
    if args.format in ("svg", "html"):
        from .picture import render_html, render_svg
        sys.stdout.write(render_svg(snap, result) if args.format == "svg" else
                         render_html(snap, result, title=f"irqd plan: {snap.root}"))
    elif args.format == "json":
        sys.stdout.write(render_json(result))
    elif args.format == "diff":
        sys.stdout.write(render_diff(result))
    else:
        sys.stdout.write(render_table(result, snap))
    return exits.OK


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.config_command is None:
        parser.parse_args(["config", "--help"])
        return exits.USAGE
    from .common import load_config_or_exit
    config = load_config_or_exit(args.config)
    if config is None:
        return exits.ERRORS if args.config_command == "check" else exits.USAGE
    if args.config_command == "check":
        from ..config import DEFAULT_PATH
        print(f"{args.config or DEFAULT_PATH}: OK")
        return exits.OK
    from ..config import config_toml
    sys.stdout.write(config_toml(config))
    return exits.OK

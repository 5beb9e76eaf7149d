"""``irqd status``: ask the running daemon over its Unix socket, print what it says."""

from __future__ import annotations

import json
import socket
import sys
from argparse import Namespace
from typing import Any

from .. import exits
from ..cpuset import format_list
from ..discover import Root, RootError
from ..jsonfmt import dumps


def query(path: str, timeout: float = 5.0) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return json.loads(b"".join(chunks).decode())


def render_status(st: dict[str, Any]) -> str:
    out = [f"irqd pid {st['pid']} on {st['root']}: plan applied {st['plan_age']} s ago; "
           f"{st['replans']} plan(s), {st['moves_total']} load moves, {st['errors_total']} errors"]
    ev = st.get("last_event")
    out.append("last event: " + (f"{'/'.join(ev['kinds'])} {', '.join(ev['devices'])} ({ev['age']} s ago)"
                                 if ev else "none"))
    if st["last_moves"]:
        out.append("last moves: " + ", ".join(f"irq {m['irq']} -> CPU {m['to']} ({m['age']} s ago)"
                                              for m in st["last_moves"][-8:]))
    plan = st.get("plan") or {}
    for source, cpus in (plan.get("excluded_cpus") or {}).items():
        out.append(f"CPUs {format_list(cpus)} excluded by {source}")
    if st["cpu_load"]:
        out.append("interrupts/s per CPU: " + ", ".join(f"{c}:{v:g}" for c, v in st["cpu_load"].items()))
    if st["managed"]:
        out.append(f"kernel-managed IRQs left alone: {format_list(st['managed'])}")
    for rel, why in st["hands_off"].items():
        out.append(f"hands off {rel}: {why}")
    plan = st.get("plan")
    if plan:
        out.append("current placement:")
        for i in plan["irqs"]:
            if i["nic"] and i["after"] is not None:
                out.append(f"  irq {i['irq']:>5} {i['name']:<32} CPU {format_list(i['after'])}")
        out.append(f"  ... {len(plan['irqs'])} IRQs planned; {len(st['managed'])} managed left alone")
    return "\n".join(out) + "\n"


def run_status(args: Namespace) -> int:
    if args.socket:
        path = args.socket
    else:
        try:
            path = Root(args.root).socket_path
        except RootError as e:
            print(f"irqd status: {e}", file=sys.stderr)
            return exits.USAGE
    try:
        st = query(path)
    except FileNotFoundError:
        print(f"irqd status: no daemon socket at {path} (is 'irqd run' running?)", file=sys.stderr)
        return exits.REFUSED
    except ConnectionRefusedError:
        print(f"irqd status: {path}: nobody is listening (stale socket; is 'irqd run' running?)", file=sys.stderr)
        return exits.REFUSED
    except PermissionError:
        print(f"irqd status: {path}: permission denied; run as root", file=sys.stderr)
        return exits.PERMISSION
    except (OSError, ValueError) as e:
        print(f"irqd status: {path}: {e}", file=sys.stderr)
        return exits.USAGE
    if "error" in st:
        print(f"irqd status: {st['error']}", file=sys.stderr)
        return exits.PERMISSION
    if args.format == "json":
        sys.stdout.write(dumps(st))
    else:
        sys.stdout.write(render_status(st))
    return exits.OK

"""What every command shares: loading the config, reading what a past apply learnt, one error line."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ..apply.state import StateError, load_state
from ..config import ConfigError, load_config

if TYPE_CHECKING:   # the model module imports pydantic; a run with no config file never needs it
    from ..config import Config
from ..discover.root import Root


def err(message: str) -> None:
    print(f"irqd: {message}", file=sys.stderr)


def load_config_or_exit(path: str | None) -> Config | None:
    """The config, or None after printing every problem (the caller exits 2)."""
    try:
        return load_config(path)
    except ConfigError as e:
        print("irqd: invalid configuration:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def known_managed(root: Root) -> set[int]:
    """IRQs a past apply found kernel-managed; a damaged state file only costs that knowledge here."""
    try:
        return load_state(root.state_path).managed
    except StateError:
        return set()


def parse_only(text: str | None, scopes: tuple[str, ...]) -> tuple[str, ...] | None:
    """``--only irq,rps`` as a tuple, or None after saying what is wrong."""
    only = tuple(s.strip() for s in (text or ",".join(scopes)).split(",") if s.strip())
    bad = [s for s in only if s not in scopes]
    if bad or not only:
        err(f"--only: unknown part(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(scopes)}")
        return None
    return only


CAP_NET_ADMIN = 12
PRIVILEGE_MESSAGE = "run as root (or with CAP_NET_ADMIN)"


def _has_cap_net_admin() -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def privilege_problem(root: Root) -> str | None:
    """Why this user cannot write what apply, restore and run write, or None.

    Checked before the lock or the state is touched, so a normal user's
    attempt writes nothing. A tree the user may write (their own copy) is fine.
    """
    if os.geteuid() == 0 or _has_cap_net_admin():
        return None
    if not root.is_live and os.access(root.path, os.W_OK):
        return None
    return f"{PRIVILEGE_MESSAGE}: writing {root.path} needs it"

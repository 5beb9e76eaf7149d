"""The only package that reads the machine: ``discover(root) -> Snapshot`` and cheap load samples.

The names below load on first use (PEP 562), so a command that needs one
parser (``irqd top``, the parser of ``--help``) does not pay for importing
every reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .machine import DiscoveryError, discover
    from .root import Root, RootError

__all__ = ["DiscoveryError", "Root", "RootError", "discover"]

_WHERE = {"DiscoveryError": "machine", "discover": "machine", "Root": "root", "RootError": "root"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value

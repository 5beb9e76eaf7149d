"""The only package that reads the machine: ``discover(root) -> Snapshot`` and cheap load samples."""

from .machine import DiscoveryError, discover
from .root import Root, RootError

__all__ = ["DiscoveryError", "Root", "RootError", "discover"]

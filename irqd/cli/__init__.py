"""The command line: ``main`` and ``build_parser`` (man pages and completion are made from the parser)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]

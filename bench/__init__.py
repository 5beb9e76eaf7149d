"""Benchmarks that measure and print; run from the repository root as ``python3 -m bench.NAME``."""

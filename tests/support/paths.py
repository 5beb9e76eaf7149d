"""Where the repository's fixture trees and golden files are."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
FIXTURES = REPO / "fixtures" / "sysfs"
GOLDEN = REPO / "fixtures" / "golden"


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "proc" / "interrupts").exists())

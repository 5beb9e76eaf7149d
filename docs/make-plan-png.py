"""Make docs/plan-intel-2s-mlx5.png, the README's picture, from the SVG of that fixture's plan.

    python3 docs/make-plan-png.py [FIXTURE] [OUT.png]

Renders the SVG with headless Chromium (Debian package ``chromium``) at twice
the SVG's size, so the picture stays sharp on high-density screens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from irqd.cli.picture import render_svg
from irqd.config import default_config
from irqd.discover import discover
from irqd.planner import plan


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "intel-2s-mlx5"
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "docs", f"plan-{name}.png"))
    snap = discover(os.path.join(REPO, "fixtures", "sysfs", name))
    svg = render_svg(snap, plan(snap, default_config()))
    m = re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', svg)
    assert m, "no size on the SVG"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "plan.svg")
        with open(path, "w") as f:
            f.write(svg)
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--hide-scrollbars", "--force-device-scale-factor=2", f"--user-data-dir={tmp}/profile",
                        f"--screenshot={out}", f"--window-size={m.group(1)},{m.group(2)}", f"file://{path}"],
                       check=True, capture_output=True, timeout=120)
    print(f"{out}: {os.path.getsize(out)} bytes, {m.group(1)}x{m.group(2)} CSS px at 2x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

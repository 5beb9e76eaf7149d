"""Helpers to drive the daemon against a fixture copy: counts that grow, a clock that is told."""
import io
import re

from irqd.apply.state import load_state
from irqd.config import default_config
from irqd.cpuset import parse_mask
from irqd.daemon.log import Log
from irqd.daemon.loop import Daemon
from irqd.daemon.sdnotify import Notifier


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def make_daemon(root, config=None, clock=None):
    sync_intr(root)  # a capture's intr line may be shortened; the kernel keeps it in step
    log = Log(stream=io.StringIO(), journald=False)
    d = Daemon(str(root), config or default_config(), None, load_state(str(root / "var/lib/irqd/state.json")),
               log, Notifier({}), clock=clock or Clock())
    return d


def log_text(d):
    return d.log.stream.getvalue()


def affinity_cpu(root, irq):
    cpus = parse_mask((root / f"proc/irq/{irq}/smp_affinity").read_text())
    return min(cpus) if len(cpus) == 1 else None


def bump(root, add):
    """Add counts to /proc/interrupts: add = {irq: {cpu: n}}; column layout kept."""
    path = root / "proc/interrupts"
    lines = path.read_text().splitlines()
    cpus = [int(w[3:]) for w in lines[0].split()]
    col = {c: i for i, c in enumerate(cpus)}
    out = [lines[0]]
    for line in lines[1:]:
        m = re.match(r"^(\s*)(\d+):", line)
        if not m or int(m.group(2)) not in add:
            out.append(line)
            continue
        irq = int(m.group(2))
        head = line[:m.end()]
        rest = line[m.end():]
        parts = re.findall(r"\s*\S+", rest)
        counts = parts[:len(cpus)]
        for cpu, n in add[irq].items():
            i = col[cpu]
            old = counts[i]
            new = str(int(old) + int(n))
            counts[i] = old[:len(old) - len(old.lstrip())] + new.rjust(len(old.strip()))
        out.append(head + "".join(counts) + "".join(parts[len(cpus):]))
    path.write_text("\n".join(out) + "\n")
    sync_intr(root)


def sync_intr(root):
    """Rewrite /proc/stat's intr line from /proc/interrupts, as the kernel keeps them in step."""
    from irqd.discover.interrupts import parse_interrupts
    rows = parse_interrupts((root / "proc/interrupts").read_text()).irqs
    totals = {r.irq: r.total for r in rows}
    stat = root / "proc/stat"
    lines = stat.read_text().splitlines()
    old = next((t for t in lines if t.startswith("intr ")), "intr 0")
    width = max(len(old.split()) - 2, max(totals) + 1)
    line = "intr " + " ".join([str(sum(totals.values()))] + [str(totals.get(i, 0)) for i in range(width)])
    lines = [line if t.startswith("intr ") else t for t in lines] if old != "intr 0" else [*lines, line]
    stat.write_text("\n".join(lines) + "\n")


def steady_step(root, d, rates, seconds):
    """Advance the clock and add ``rate * seconds`` to each IRQ on the CPU it is pinned to now."""
    add = {}
    for irq, rate in rates.items():
        cpu = affinity_cpu(root, irq)
        if cpu is not None:
            add[irq] = {cpu: int(rate * seconds)}
    bump(root, add)
    d.clock.t += seconds
    d.sample()

"""The kernel's text forms that the generator writes: CPU masks and lists, /proc/interrupts lines.

- CPU masks: ``%*pb`` over nr_cpu_ids bits, 32-bit groups, the first only as
  wide as needed; lists: ``%*pbl``.
- ``/proc/interrupts``: ``kernel/irq/proc.c`` show_interrupts(): header
  ``%*s`` (prec + 8) then ``CPU%-8d`` per online CPU; rows ``%*d:``, one
  ``" %10u"`` per online CPU, chip `` %8s``, hwirq `` %*lu``, ``-%-8s`` flow
  handler, ``  %s`` actions joined by ``", "``. prec is 3 + one per decade of
  nr_irqs above 1000. ``arch/x86/kernel/irq.c`` arch_show_interrupts() for
  the ``NMI:`` ... ``PIW:`` rows (``%*s: `` then ``%10u `` per CPU).

These are written again here, on purpose, rather than imported from
``irqd.cpuset``: the generated trees are the oracle that irqd's parsers are
tested against (tests/test_machinegen.py reads every tree back through
discovery). A formatter shared with irqd would carry irqd's mistakes into the
trees, and the round trip would pass with both sides wrong.
"""

from __future__ import annotations


def format_mask(cpus, nbits: int) -> str:
    """``%*pb``: comma-separated 32-bit groups, most significant first."""
    value = 0
    for cpu in cpus:
        value |= 1 << cpu
    digits = max(1, (nbits + 3) // 4)
    text = format(value, "x").rjust(digits, "0")
    head = len(text) % 8 or 8
    return ",".join([text[:head]] + [text[i:i + 8] for i in range(head, len(text), 8)])


def format_list(cpus) -> str:
    """``%*pbl``: ``0-3,8,10-11``; empty for no CPU."""
    ordered = sorted(set(cpus))
    out = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_list(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


def irq_prec(nr_irqs: int) -> int:
    """Width of the IRQ column: ``for (prec = 3, j = 1000; prec < 10 && j <= nr_irqs; ++prec) j *= 10;``"""
    prec, j = 3, 1000
    while prec < 10 and j <= nr_irqs:
        prec += 1
        j *= 10
    return prec


def interrupts_header(online: list[int], prec: int) -> str:
    return " " * (prec + 8) + "".join(f"CPU{c:<8d}" for c in online) + "\n"


def interrupts_row(irq: int, counts: list[int], chip: str, hwirq: int | None, handler: str,
                   actions: tuple[str, ...], prec: int) -> str:
    line = [f"{irq:>{prec}}:"]
    line.extend(_ZERO if c == 0 else f" {c:>10}" for c in counts)
    line.append(f" {chip:>8}")
    line.append(f" {hwirq:>{prec}}" if hwirq is not None else " " * (prec + 1))
    line.append(f"-{handler:<8}")
    if actions:
        line.append("  " + ", ".join(actions))
    return "".join(line) + "\n"


_ZERO = " " + "0".rjust(10)

# arch/x86/kernel/irq.c arch_show_interrupts(), in order
X86_ROWS = (
    ("NMI", "Non-maskable interrupts"), ("LOC", "Local timer interrupts"), ("SPU", "Spurious interrupts"),
    ("PMI", "Performance monitoring interrupts"), ("IWI", "IRQ work interrupts"),
    ("RTR", "APIC ICR read retries"), ("RES", "Rescheduling interrupts"), ("CAL", "Function call interrupts"),
    ("TLB", "TLB shootdowns"), ("TRM", "Thermal event interrupts"), ("THR", "Threshold APIC interrupts"),
    ("DFR", "Deferred Error APIC interrupts"), ("MCE", "Machine check exceptions"),
    ("MCP", "Machine check polls"),
)
X86_TAIL = (("PIN", "Posted-interrupt notification event"), ("NPI", "Nested posted-interrupt event"),
             ("PIW", "Posted-interrupt wakeup event"))


def other_row(label: str, counts: list[int], text: str, prec: int) -> str:
    return f"{label:>{prec}}: " + "".join(f"{c:10d} " for c in counts) + f"  {text}\n"

"""What only the kernel decides: effective affinity and managed IRQs."""

from __future__ import annotations

from .context import Ctx, irq_plan_text, v


def effective(ctx: Ctx) -> None:
    score = ctx.scores["effective"]
    no_file = stale = 0
    for irq, i in sorted(ctx.snap.irqs.items()):
        if not i.movable or i.affinity is None:
            continue
        if i.effective is None:
            no_file += 1
            continue
        if irq in ctx.stale:
            stale += 1
            continue
        if i.effective and not i.effective <= i.affinity:
            if irq in ctx.pending or ctx.barely_fires(i):
                # x86 and others move an IRQ at its next interrupt: one that
                # barely fires keeps its old effective CPU until then
                ctx.add("effective", ctx.irq_label(i),
                        f"pending: moves to CPU {v(i.affinity)} at its next interrupt (now on CPU "
                        f"{v(i.effective)}; it fired {i.total} time(s) since boot)",
                        irq_plan_text(ctx.irq_plan.get(irq)), counted=False)
                continue
            score.checked += 1
            ctx.add("effective", ctx.irq_label(i),
                    f"affinity {v(i.affinity)} but the kernel runs it on CPU {v(i.effective - i.affinity)} "
                    "although it fires often (vector space full, a refused write, or an interrupt chip that "
                    "cannot follow)",
                    irq_plan_text(ctx.irq_plan.get(irq)))
        else:
            score.checked += 1
    if no_file:
        ctx.unknown("effective", f"{no_file} IRQ(s) without effective_affinity (kernel before 4.15 or the chip "
                                 "does not report it)")
    if stale:
        ctx.unknown("effective", f"{stale} IRQ(s) had smp_affinity rewritten after this tree was captured: no "
                                 "kernel updated their effective_affinity, so whether it was honoured is not known")


def managed(ctx: Ctx) -> None:
    score = ctx.scores["managed"]
    flag = "managed_irq" in ctx.snap.isolation.isolcpus_flags
    for irq, i in sorted(ctx.snap.irqs.items()):
        if not i.managed:
            continue
        score.checked += 1
        run = ctx.runs_on(i) or frozenset()
        on_isolated = run & ctx.kernel_excluded
        plan = irq_plan_text(ctx.irq_plan.get(irq))
        if not on_isolated:
            ctx.add("managed", ctx.irq_label(i),
                    f"kernel-managed ({i.managed}), runs on CPU {v(run)}; no tool can move it", plan, counted=False)
            continue
        housekeeping = (i.affinity or frozenset()) & ctx.plan.eligible
        fired = i.counts.on(ctx.kernel_excluded)
        if housekeeping:
            fix = ("with isolcpus=managed_irq the kernel should have picked a housekeeping CPU; was the IRQ "
                   "started before the isolation took effect?" if flag else
                   "boot with isolcpus=managed_irq,... (kernel 5.6+) and the kernel keeps it on a housekeeping "
                   "CPU of its mask")
            ctx.add("managed", ctx.irq_label(i),
                    f"kernel-managed, runs on isolated CPU {v(on_isolated)} although its mask {v(i.affinity)} "
                    f"holds housekeeping CPU {v(housekeeping)}, so I/O from those CPUs interrupts an isolated "
                    f"one; {fix}", plan)
        else:
            ctx.add("managed", ctx.irq_label(i),
                    f"kernel-managed, its whole mask {v(i.affinity or run)} is isolated: it fires only when an "
                    f"isolated CPU submits I/O to this queue, which happened {fired} time(s) since boot; "
                    "no IRQ placement can change that (move the I/O to housekeeping CPUs)", plan, counted=False)

"""``irqd run``: apply once, then keep the placement right, calmly.

It acts at once on real events (a device appears, vanishes, is renamed or
changes channels; an IRQ or CPU comes or goes) and re-plans around what
already runs. It moves IRQs for load only when the measured imbalance stays
over a threshold for several samples in a row, and then moves the fewest
IRQs that fix it. With steady load it moves nothing.
"""

from __future__ import annotations

import os
import queue
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..apply.state import State, StateError
from ..apply.targets import SCOPES, classify, targets
from ..apply.writer import Applier, ApplyRefused, PermissionProblem, Report, reconcile, restore
from ..cpuset import CpuSet, format_list
from ..discover import DiscoveryError, Root, discover
from ..discover.sample import Sample, SampleError, irq_rates, read_sample
from ..plan import Plan, plan_json
from ..planner import Candidates, plan
from ..planner.rebalance import choose_moves
from ..snapshot import Snapshot
from .log import Log
from .sdnotify import Notifier

if TYPE_CHECKING:  # the config module imports pydantic; the planner only reads the model
    from ..config import Config

DEBOUNCE_QUIET = 0.05   # an event burst ends after 50 ms without events ...
DEBOUNCE_MAX = 0.5      # ... or after 500 ms, whichever comes first
MIN_TOTAL_RATE = 200.0  # interrupts/s below which balance is not worth a move
NFD_REFRESH = 600.0     # the node-feature labels are rewritten this often without a re-plan ...
NFD_EXPIRY = 3600.0     # ... and expire this long after, so a stopped irqd's labels vanish


def _rel_subject(rel: str) -> str | None:
    """The device or IRQ a written file belongs to: ``eth0`` or ``irq 38``."""
    t = classify(rel)
    if t is None:
        return None
    if t.dev is not None:
        return t.dev
    return f"irq {t.irq}" if t.irq is not None else None


def _subject(key: str) -> str | None:
    """The device or IRQ a log key is about (``gone:eth0``, ``error:irq 38:proc/...``), or None."""
    kind, _, rest = key.partition(":")
    if kind in ("gone", "error", "managed", "hands-off") and rest:
        head = rest.split(":", 1)[0]
        return _rel_subject(head) or head
    return None


def _ignore_in_handler(signum, frame) -> None:
    """Nothing: set_wakeup_fd has already written the signal number to the pipe."""


class _SignalPipe:
    def __init__(self, daemon: Daemon):
        self.daemon = daemon
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self.old = signal.set_wakeup_fd(self.w, warn_on_full_buffer=False)
        except ValueError:
            os.close(self.r)
            os.close(self.w)
            raise
        self.stopping = False
        self.thread = threading.Thread(target=self._pump, name="irqd-signals", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        d = self.daemon
        while not self.stopping:
            ready, _, _ = select.select([self.r], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(self.r, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return
            for signum in set(data):
                with d._signal_lock:
                    if signum in d._signals_pending:
                        continue
                    d._signals_pending.add(signum)
                d.events.put(("signal", signum))

    def stop(self) -> None:
        signal.set_wakeup_fd(self.old)
        self.stopping = True
        self.thread.join(1.0)
        os.close(self.r)
        os.close(self.w)


class Daemon:
    def __init__(self, root: str, config: Config, config_path: str | None, state: State, log: Log,
                 notifier: Notifier, only: tuple[str, ...] = SCOPES, clock: Callable[[], float] = time.monotonic,
                 interval: float | None = None):
        self.rootfs = Root(root)
        self.root = self.rootfs.path
        self.config = config
        self.config_path = config_path
        self.state = state
        self.log = log
        self.notifier = notifier
        self.only = only
        self.clock = clock
        self.interval_override = interval
        self.events: queue.Queue[Any] = queue.Queue()
        self.snap: Snapshot | None = None
        self.plan: Plan | None = None
        self.cands: Candidates | None = None
        self.plan_at: float | None = None
        self.placement: dict[int, CpuSet | None] = {}
        self.last_sample: Sample | None = None
        self.rate_load: dict[int, float] | None = None
        self._summary_of: tuple[Plan, int] | None = None
        self.cpu_load: dict[int, float] = {}
        self.imbalanced = 0
        self.last_moved: dict[int, float] = {}
        self.moves_total = 0
        self.errors_total = 0
        self.replans = 0
        self.last_event: dict[str, Any] | None = None
        self.last_moves: deque[dict[str, Any]] = deque(maxlen=20)
        self.hands_off: dict[str, str] = {}      # file -> why, for status
        self.hands_off_irqs: set[int] = set()    # IRQs someone else placed: never moved for load
        self.stop_requested = False
        self._signal_lock = threading.Lock()
        self._signals_pending: set[int] = set()
        self.nfd_at: float | None = None

    @property
    def interval(self) -> float:
        return self.interval_override or self.config.daemon.interval

    # -- planning and applying --------------------------------------------

    def _pins(self, snap: Snapshot) -> dict[int, int]:
        """IRQs to keep where they are: what the last plan placed on one CPU and still runs there."""
        if self.plan is None:
            return {}
        pins = {}
        for p in self.plan.irqs:
            cur = snap.irqs.get(p.irq)
            if cur and p.after and len(p.after) == 1 and cur.affinity == p.after:
                pins[p.irq] = next(iter(p.after))
        return pins

    def replan(self, why: str, *, keep: bool = True, moves: dict[int, int] | None = None,
               settle: int = 2) -> None:
        """Discover, plan around what runs (``keep``), and write only what differs.

        When the kernel refuses a write (a managed IRQ), re-plan at once
        (``settle`` more times at most), so the IRQs placed around it move
        now, not at the next event.

        Never raises: a device that vanishes mid-way is expected in a daemon
        (the next event re-plans), and anything else is logged once and
        retried at the next event or sample.
        """
        try:
            self._replan(why, keep=keep, moves=moves, settle=settle)
        except OSError as e:
            # a file that vanished between two reads (a device unplugged or renamed): not an error
            self.log.info(f"{why}: {e.filename or 'a file'} changed under irqd mid-way ({e.strerror}); "
                          "re-planning at the next event", key="replan:vanished")
        except Exception as e:   # the daemon must outlive any one bad read
            self.errors_total += 1
            self.log.err(f"{why}: re-plan failed: {type(e).__name__}: {e}", key=f"replan:{type(e).__name__}")

    def _replan(self, why: str, *, keep: bool, moves: dict[int, int] | None, settle: int) -> None:
        try:
            snap = discover(self.root, confirmed_managed=self.state.managed)
        except DiscoveryError as e:
            self.errors_total += 1
            self.log.err(f"cannot read the machine: {e}", key="discover")
            return
        self.log.forget("discover")
        self._prune_log(snap)
        pins = self._pins(snap) if keep else {}
        if moves:
            pins.update(moves)
        result = plan(snap, self.config, load=self.rate_load, pinned=pins)
        todo = targets(result, self.only)
        if moves is not None:
            # a rebalance writes the moved IRQs and the maps that follow them, nothing else
            todo = [t for t in todo if t.scope != "irq" or t.irq in moves]
        if reconcile(self.root, self.state, prune=True):   # renamed devices, vanished ones
            self.state.save()
        applier = Applier(self.root, self.state, snap,
                          respect_others=self.config.daemon.respect_manual_changes)
        try:
            report = applier.run(todo)
        except (ApplyRefused, PermissionProblem, StateError) as e:
            # the daemon stays up: the next event or sample tries again, and says so once
            self.errors_total += 1
            self.log.err(f"{why}: nothing written: {e}", key=f"apply:{type(e).__name__}")
            return
        self.log.forget("apply:PermissionProblem")
        self._log_exclusions(self.plan, result)
        self.snap, self.plan, self.plan_at = snap, result, self.clock()
        self.cands = None   # built when a load move is weighed, which most re-plans never need
        self.placement = self._placement(snap, report)
        self.replans += 1
        self._report(why, report)
        self._write_node_features()
        if settle and any(o.status == "managed" for o in report.outcomes):
            self._replan(f"{why}: re-planned around IRQs the kernel manages", keep=True, moves=None,
                         settle=settle - 1)

    def _prune_log(self, snap: Snapshot) -> None:
        """Forget the log keys and hands-off notes of devices and IRQs that are gone, so a long
        churn does not grow them without end (and a name used again is logged again)."""
        devs = {n.name for n in snap.nics}
        irqs = {f"irq {i}" for i in snap.irqs}
        self.log.prune(lambda key: _subject(key) in devs or _subject(key) in irqs or _subject(key) is None)
        for rel in [r for r in self.hands_off if _rel_subject(r) not in devs | irqs]:
            del self.hands_off[rel]
        self.hands_off_irqs &= set(snap.irqs)

    def _log_exclusions(self, old: Plan | None, new: Plan) -> None:
        """Say which source banned or freed which CPUs, whenever that changes."""
        before = old.excluded if old is not None else {}
        for source in sorted(set(before) | set(new.excluded)):
            was, now = before.get(source, frozenset()), new.excluded.get(source, frozenset())
            if now - was:
                self.log.notice(f"CPU(s) {format_list(now - was)} excluded by {source}: IRQs, RPS and XPS maps "
                                "move off them")
            if was - now:
                self.log.notice(f"CPU(s) {format_list(was - now)} no longer excluded by {source}")

    def _placement(self, snap: Snapshot, report: Report) -> dict[int, CpuSet | None]:
        """Where each IRQ runs now: what irqd just wrote, else what discovery read."""
        out: dict[int, CpuSet | None] = {}
        for irq, i in snap.irqs.items():
            # a captured tree's effective_affinity is not updated by a kernel: trust it only inside the mask
            out[irq] = i.effective if i.effective and i.affinity and i.effective <= i.affinity else i.affinity
        for o in report.outcomes:
            t = o.target
            if o.status in ("written", "moved") and t.irq is not None and o.written_value is not None:
                out[t.irq] = o.written_value  # type: ignore[assignment]
        return out

    def _report(self, why: str, report: Report) -> None:
        written = [o for o in report.outcomes if o.status in ("written", "moved")]
        if written:
            self.log.info(f"{why}: wrote {len(written)} file(s)")
        for o in report.outcomes:
            if o.status == "managed":
                self.log.notice(f"{o.label}: {o.detail}", key=f"managed:{o.rel}")
            elif o.status == "hands-off":
                self.hands_off[o.rel] = o.detail
                if o.target.irq is not None:
                    self.hands_off_irqs.add(o.target.irq)
                self.log.notice(f"{o.label}: {o.detail}", key=f"hands-off:{o.rel}")
            elif o.status == "error":
                self.errors_total += 1
                self.log.err(f"{o.label}: {o.detail}", key=f"error:{_rel_subject(o.rel)}:{o.rel}")
        # one line per device (or IRQ) that went away, however many of its files were skipped
        gone: dict[str, int] = {}
        for o in report.outcomes:
            if o.status == "gone":
                subject = _rel_subject(o.rel) or o.rel
                gone[subject] = gone.get(subject, 0) + 1
        for subject, n in gone.items():
            self.log.info(f"{subject}: went away since it was read ({n} file(s) skipped)", key=f"gone:{subject}")

    # -- events -----------------------------------------------------------

    def handle_events(self, first) -> None:
        """Debounce a burst of netlink events into one re-plan."""
        burst = [first]
        deadline = self.clock() + DEBOUNCE_MAX
        while self.clock() < deadline:
            try:
                ev = self.events.get(timeout=DEBOUNCE_QUIET)
            except queue.Empty:
                break
            if isinstance(ev, tuple):   # a signal: handle it after this burst
                self.events.put(ev)
                break
            burst.append(ev)
        names = sorted({e.ifname for e in burst if e.ifname})
        kinds = sorted({e.kind for e in burst})
        self.last_event = {"kinds": kinds, "devices": names, "count": len(burst), "age_from": self.clock()}
        self.replan(f"event {'/'.join(kinds)} {', '.join(names[:5])}".strip())

    # -- sampling and rebalancing -----------------------------------------

    def sample(self) -> None:
        now = self.clock()
        known = frozenset(self.snap.irqs) if self.snap else frozenset()
        try:
            new = read_sample(self.rootfs, now, known, cpu_detail=bool(self.config.daemon.metrics_path),
                              previous=self.last_sample)
        except SampleError as e:
            self.errors_total += 1
            self.log.err(str(e), key="sample")
            return
        old, self.last_sample = self.last_sample, new
        if old is None:
            return
        if new.irqs != old.irqs or new.online != old.online:
            self.last_event = {"kinds": ["irqs-or-cpus-changed"], "devices": [], "count": 1, "age_from": now}
            self.replan("IRQs or online CPUs changed")
            return
        per_irq = irq_rates(old, new)
        self.rate_load = per_irq
        per_cpu = self._where_it_runs(per_irq)
        # every online CPU, an idle one at 0/s: status and metrics show the whole machine
        self.cpu_load = {c: 0.0 for c in (self.snap.online if self.snap else ())}
        for row in per_cpu.values():
            for cpu, r in row.items():
                self.cpu_load[cpu] = self.cpu_load.get(cpu, 0.0) + r
        self.rebalance(now, per_irq, per_cpu)

    def _where_it_runs(self, per_irq: dict[int, float]) -> dict[int, dict[int, float]]:
        """Split each IRQ's rate evenly over the CPUs it runs on."""
        out: dict[int, dict[int, float]] = {}
        for irq, rate in per_irq.items():
            cpus = self.placement.get(irq)
            if rate and cpus:
                share = rate / len(cpus)
                out[irq] = {c: share for c in cpus}
        return out

    def rebalance(self, now: float, per_irq, per_cpu) -> dict[int, int]:
        if self.plan is None:
            return {}
        d = self.config.daemon
        load = {c: self.cpu_load.get(c, 0.0) for c in self.plan.eligible}
        total = sum(load.values())
        if len(load) < 2 or total < MIN_TOTAL_RATE:
            self.imbalanced = 0
            return {}
        ratio = max(load.values()) / (total / len(load))
        if ratio <= d.imbalance_threshold:
            self.imbalanced = 0
            return {}
        self.imbalanced += 1
        if self.imbalanced < d.samples:
            return {}
        self.imbalanced = 0
        moves = self.choose_moves(now, load, per_cpu)
        if not moves:
            self.log.info(f"CPU interrupt load is {ratio:.2f}x the mean, but no single IRQ move helps",
                          key="unfixable-imbalance")
            return {}
        self.log.forget("unfixable-imbalance")
        self.replan(f"rebalance ({ratio:.2f}x mean): move {len(moves)} IRQ(s)", moves=moves)
        for irq, cpu in moves.items():
            self.last_moved[irq] = now
            self.last_moves.append({"irq": irq, "to": cpu, "at": now})
        self.moves_total += len(moves)
        return moves

    def choose_moves(self, now: float, load: dict[int, float],
                     per_cpu: dict[int, dict[int, float]]) -> dict[int, int]:
        assert self.snap is not None and self.plan is not None
        if self.cands is None:
            self.cands = Candidates(self.snap, self.config)
        blocked = set(self.hands_off_irqs)
        blocked |= {irq for irq, at in self.last_moved.items()
                    if now - at < self.config.daemon.min_move_interval}
        return choose_moves(self.plan, self.cands, load, per_cpu, blocked, self.config.daemon.max_moves_per_cycle,
                            self.config.daemon.imbalance_threshold)

    # -- reporting --------------------------------------------------------

    def status(self) -> dict:
        now = self.clock()
        out = {
            "pid": os.getpid(),
            "root": self.root,
            "interval": self.interval,
            "plan_age": None if self.plan_at is None else round(now - self.plan_at, 1),
            "replans": self.replans,
            "moves_total": self.moves_total,
            "errors_total": self.errors_total,
            "cpu_load": {str(c): round(v, 1) for c, v in sorted(self.cpu_load.items())},
            "last_event": None,
            "last_moves": [{"irq": m["irq"], "to": m["to"], "age": round(now - m["at"], 1)} for m in self.last_moves],
            # the plan's own list, so every count status prints is the same number
            "managed": (sorted(p.irq for p in self.plan.irqs if p.managed) if self.plan
                        else sorted(self.state.managed)),
            "hands_off": dict(sorted(self.hands_off.items())),
            "plan": plan_json(self.plan) if self.plan else None,
        }
        if self.last_event:
            ev = dict(self.last_event)
            ev["age"] = round(now - ev.pop("age_from"), 1)
            out["last_event"] = ev
        return out

    def metrics(self) -> dict:
        cpu_soft = {}
        if self.last_sample and self.last_sample.softirqs:
            for kind, per in self.last_sample.softirqs.items():
                for cpu, n in per.items():
                    cpu_soft[(kind, cpu)] = n
        return {
            "irqd_cpu_irq_rate": ("interrupts per second on each CPU over the last sample", "gauge",
                                  [({"cpu": str(c)}, v) for c, v in sorted(self.cpu_load.items())]),
            "irqd_softirqs_total": ("NET_RX/NET_TX softirqs per CPU since boot", "counter",
                                    [({"cpu": str(c), "type": k}, v) for (k, c), v in sorted(cpu_soft.items())]),
            "irqd_moves_total": ("IRQs moved for load since start", "counter", [({}, self.moves_total)]),
            "irqd_errors_total": ("failed reads or writes since start", "counter", [({}, self.errors_total)]),
            "irqd_replans_total": ("plans applied since start", "counter", [({}, self.replans)]),
            "irqd_plan_age_seconds": ("seconds since the last plan was applied", "gauge",
                                      [({}, 0 if self.plan_at is None else self.clock() - self.plan_at)]),
            "irqd_hands_off": ("files someone else changed since irqd wrote them", "gauge",
                               [({}, len(self.hands_off))]),
        }

    def summary(self) -> str:
        if self.plan is None:
            return "no plan yet"
        # sent as STATUS= every cycle: the plan's counts are taken once per plan, not per second
        cached = self._summary_of
        if cached is None or cached[0] is not self.plan:
            cached = self._summary_of = (self.plan, self.plan.summary()["managed_left_alone"])
        return (f"{len(self.plan.eligible)} eligible CPUs; {self.replans} plan(s) applied; "
                f"{self.moves_total} moves; {cached[1]} managed IRQs left alone")

    # -- the loop ---------------------------------------------------------

    def reload(self) -> None:
        from ..config import ConfigError, load_config
        try:
            new = load_config(self.config_path)
        except ConfigError as e:
            self.log.err("SIGHUP: invalid configuration, keeping the old one:\n  " + "\n  ".join(e.problems))
            return
        self.config = new
        self.log.info("SIGHUP: configuration reloaded")
        self.replan("config reloaded")

    def run(self, cycles: int | None = None, netlink: bool = True, socket_path: str | None = None) -> int:
        self.replan("start", keep=False)
        watcher = status_server = None
        from .banwatch import BanWatcher
        bans = BanWatcher(self.rootfs, self.events)
        bans.start()
        for error in bans.errors:
            self.log.warn(error)
        if netlink:
            from .netlink import Watcher
            watcher = Watcher(self.events)
            watcher.start()
            for error in watcher.errors:
                self.log.warn(f"{error}; device changes are caught by sampling only")
        if socket_path:
            from .status_server import StatusServer
            try:
                status_server = StatusServer(socket_path, self.status)
                status_server.start()
            except OSError as e:
                self.log.warn(f"status socket {socket_path}: {e.strerror}; 'irqd status' will not answer")
        self.notifier.ready(self.summary())
        self.log.info(f"running: {self.summary()}")
        wakeup = self._catch_signals()
        now = self.clock()
        next_sample = now
        wd = self.notifier.watchdog_interval
        next_watchdog = now + wd if wd else None
        done = 0
        try:
            while not self.stop_requested:
                now = self.clock()
                wake = min(t for t in (next_sample, next_watchdog) if t is not None)
                try:
                    ev = self.events.get(timeout=max(0.0, wake - now))
                except queue.Empty:
                    ev = None
                if isinstance(ev, tuple) and ev[0] == "signal":
                    with self._signal_lock:
                        got, self._signals_pending = self._signals_pending | {ev[1]}, set()
                    if got & {signal.SIGTERM, signal.SIGINT}:
                        self.stop_requested = True
                        break
                    self.reload()   # any number of SIGHUPs since the last one: one reload
                elif ev is not None:
                    self.handle_events(ev)
                now = self.clock()
                if wd and next_watchdog is not None and now >= next_watchdog:
                    self.notifier.watchdog()
                    next_watchdog = now + wd
                if now >= next_sample:
                    self.sample()
                    self._write_metrics()
                    if self.nfd_at is not None and now - self.nfd_at >= NFD_REFRESH:
                        self._write_node_features()
                    self.notifier.status(self.summary())
                    next_sample = now + self.interval
                    done += 1
                    if cycles is not None and done >= cycles:
                        break
        finally:
            if wakeup is not None:
                wakeup.stop()
            self.log.info("stopping")
            self.notifier.stopping()
            bans.stop()
            if watcher:
                watcher.stop()
            if status_server:
                status_server.stop()
            if self.config.daemon.restore_on_exit:
                self._restore()
            self._remove_metrics()
        return 0

    def _catch_signals(self) -> _SignalPipe | None:
        """SIGHUP, SIGTERM and SIGINT through ``signal.set_wakeup_fd``: the handler does nothing
        (a lock or queue in a handler can deadlock or recurse under a storm of signals); the C
        level writes the signal number to a pipe, and a thread turns it into one queued event
        per signal kind still pending (1,000 SIGHUPs make one reload, never a backlog)."""
        try:
            pipe = _SignalPipe(self)
        except ValueError:   # not the main thread (an embedding test): signals stay as they are
            return None
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _ignore_in_handler)
        return pipe

    def _write_node_features(self) -> None:
        """The audit of what was just applied, as NFD labels (daemon.nfd_features_path)."""
        path = self.config.daemon.nfd_features_path
        if not path or self.snap is None or self.plan is None:
            return
        import datetime

        from ..discover import discover
        from ..discover.procirq import stale_effective
        from ..planner.audit import audit
        from .nodefeatures import write
        try:
            # judged as the machine is now, after the writes: a second read, cheap next to a plan
            snap = discover(self.root, confirmed_managed=self.state.managed)
            result = audit(snap, self.config, plan(snap, self.config, load=self.rate_load,
                                                   pinned=self._pins(snap)),
                           stale_effective=stale_effective(self.rootfs, snap.irqs))
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=NFD_EXPIRY)
            write(path, result, expires)
            self.nfd_at = self.clock()
            self.log.forget("nfd")
        except (OSError, DiscoveryError) as e:
            self.log.warn(f"node features file {path}: {getattr(e, 'strerror', None) or e}", key="nfd")

    def _write_metrics(self) -> None:
        path = self.config.daemon.metrics_path
        if not path:
            return
        from .metrics import write_textfile
        try:
            write_textfile(path, self.metrics())
        except OSError as e:
            self.log.warn(f"metrics file {path}: {e.strerror}", key="metrics")

    def _remove_metrics(self) -> None:
        """A stopped daemon leaves no figures behind that look current."""
        path = self.config.daemon.metrics_path
        if path:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                self.log.warn(f"metrics file {path}: cannot remove: {e.strerror}")

    def _restore(self) -> None:
        try:
            report = restore(self.root, self.state)
        except (PermissionProblem, StateError) as e:
            self.log.err(f"restore on exit failed: {e}")
            return
        n = sum(1 for o in report.outcomes if o.status == "written")
        self.log.info(f"restore_on_exit: put back {n} original value(s)")

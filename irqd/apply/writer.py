"""Writing a plan and restoring the originals: the only module that writes to the machine.

Every write goes through ``kernel_write`` (the single choke point tests
inject faults at). Before irqd's first change to a file its original value
is saved in the state file; a write that would change nothing is skipped;
every write is read back. Paths outside ``ROOT/proc/irq``,
``ROOT/sys/class/net/*/queues`` and ``rps_sock_flow_entries`` are refused.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from .. import exits
from ..cpuset import (
    CpuFormatError,
    CpuSet,
    format_list,
    format_mask,
    mask_digits,
    parse_list,
    parse_mask,
)
from ..discover.root import Root, RootError
from ..planner.candidates import enospc_order
from ..snapshot import Snapshot
from .beneath import HostPath, open_host
from .state import State
from .targets import Target, classify

# what a file of a device that went away answers (ENOTDIR: a directory on the way was replaced)
_GONE = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ENOTDIR})


class ApplyRefused(Exception):
    """irqd will not write at all (path outside the allowed trees, lock held, irqbalance running)."""


class PermissionProblem(Exception):
    pass


# the largest attribute irqd reads back: smp_affinity of 8,192 CPUs is 2,048 hex digits and 255
# commas; a sysfs attribute is at most one 4 KiB page. More is not a kernel file.
MAX_ATTR_BYTES = 65536


def _open_regular(path: str, flags: int) -> int:
    """Open beneath the root (no links), non-blocking, and only a regular file (sysfs and procfs
    attributes are; a FIFO, device or directory in a tree is damage or an attack)."""
    try:
        fd = open_host(path, flags | os.O_NONBLOCK)
    except OSError as e:
        # a FIFO opened for writing with no reader answers ENXIO, which would read as "gone"
        if e.errno == errno.ENXIO and stat.S_ISFIFO(os.lstat(path).st_mode):
            raise OSError(errno.EOPNOTSUPP, "not a regular file", str(path)) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EOPNOTSUPP, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def kernel_write(path: str, data: str) -> None:
    """The one place irqd writes to the kernel (or to a fixture tree)."""
    fd = _open_regular(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def kernel_read(path: str) -> str:
    """An attribute's text, bounded; bytes that are not text are a ValueError (UnicodeDecodeError)."""
    fd = _open_regular(path, os.O_RDONLY)
    try:
        data = os.read(fd, MAX_ATTR_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_ATTR_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_ATTR_BYTES} bytes", str(path))
    return data.decode("ascii")


@dataclass
class Outcome:
    target: Target
    status: str   # written | same | managed | gone | error | moved | refused | hands-off
    detail: str = ""
    written: str | None = None   # the exact text written, for written and moved
    written_value: CpuSet | int | None = None   # what that text means (the fallback CPU when moved)

    @property
    def rel(self) -> str:
        return self.target.rel

    @property
    def label(self) -> str:
        return self.target.label


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        return exits.ERRORS if self.count("error") or self.count("refused") else exits.OK


def check_allowed(root: str, rel: str) -> HostPath:
    """The host path for ``rel``, its links resolved inside the root (``kernel_write`` then opens
    it beneath the root, following no link, so a link swapped in afterwards is refused, never
    followed); ApplyRefused when irqd must never write there; FileNotFoundError when it is gone.
    """
    target = classify(rel)
    if target is None:
        raise ApplyRefused(f"refusing to write {rel}: outside proc/irq, sys/class/net/*/queues and "
                           "rps_sock_flow_entries")
    try:
        tree = Root(root)
    except RootError as e:
        raise ApplyRefused(str(e)) from None
    host = tree.host(rel)
    real = tree.resolve(rel)
    if real is None:
        if os.path.lexists(host):   # there on the host, not inside the root: a link leads out
            raise ApplyRefused(f"refusing to write {host}: a link on the way leads out of the root")
        raise FileNotFoundError(errno.ENOENT, "went away", host)
    if target.scope in ("rps", "xps") and "/queues/" not in real:
        raise ApplyRefused(f"refusing to write {host}: it resolves to {real}, not a queue attribute")
    if target.scope in ("irq", "sysctl") and real != rel:
        raise ApplyRefused(f"refusing to write {host}: it resolves to {real}, not itself")
    return HostPath(tree.path, real)


def _parse_value(target: Target, text: str) -> CpuSet | int:
    if isinstance(target.value, int):
        return int(text.strip())
    return parse_mask(text)


def _render(value: CpuSet | int, current: str, fallback_digits: int) -> str:
    """The value in the width the kernel printed; a mask that does not fit that width (a damaged
    capture) is written as narrow as it can be, which the kernel accepts too."""
    if isinstance(value, int):
        return f"{value}\n"
    try:
        return format_mask(value, mask_digits(current) or fallback_digits) + "\n"
    except CpuFormatError:
        return format_mask(value) + "\n"


class Applier:
    def __init__(self, root: str, state: State, snap: Snapshot, respect_others: bool = False):
        self.root = os.path.abspath(root)
        self.respect_others = respect_others
        self.state = state
        self.snap = snap
        self.report = Report()
        self.done: list[tuple[Target, str, str]] = []  # (target, host path, text before this run)
        self.dirty = False                             # the state changed and must be saved at the end
        self.newly: set[str] = set()                   # originals first saved by this run

    def run(self, todo: list[Target]) -> Report:
        hosts: list[HostPath | None] = []
        for t in todo:   # refuse before the first write
            try:
                hosts.append(check_allowed(self.root, t.rel))
            except OSError:   # the device went away since discovery: skip it
                hosts.append(None)
                self.report.outcomes.append(Outcome(t, "gone", "went away since it was read"))
        try:
            pending = []
            for target, host in zip(todo, hosts):
                if host is None:
                    continue
                current = self._check(target, host)
                if current is not None:
                    pending.append((target, host, current))
            # every original is on disk before the first change, in one atomic save
            newly = {t.rel for t, _, current in pending if self.state.save_original(t.rel, current)}
            self.newly = newly
            for t, _, _ in pending:
                if t.rel in newly and t.dev is not None:
                    idx = _ifindexes(self.root).get(t.dev)
                    if idx is not None:
                        self.state.ifindex[t.rel] = idx
            if newly:
                self.dirty = True
                self.state.save()
            for target, host, current in pending:
                self._write(target, host, current, target.rel in newly)
        except PermissionProblem as e:
            self._roll_back()
            raise PermissionProblem(str(e)) from None
        finally:
            if self.dirty:
                self.state.save()
        return self.report

    def _check(self, t: Target, host: str) -> str | None:
        """The current text when ``t`` needs a write; None (with an outcome) when it does not."""
        try:
            current = kernel_read(host)
        except OSError as e:
            if e.errno in _GONE:
                self.report.outcomes.append(Outcome(t, "gone", "went away since it was read"))
            elif e.errno == errno.EACCES:
                raise PermissionProblem(_permission_message(host, t.scope)) from None
            else:
                self.report.outcomes.append(Outcome(t, "error", f"cannot read {host}: {e.strerror}"))
            return None
        except ValueError:
            self.report.outcomes.append(Outcome(t, "error", f"cannot read {host}: not text"))
            return None
        try:
            if _parse_value(t, current) == t.value:
                self.report.outcomes.append(Outcome(t, "same"))
                return None
            if self.respect_others and t.rel in self.state.written and self._same_object(t.rel, host) and \
                    _parse_value(t, current) != _parse_value(t, self.state.written[t.rel]):
                # someone changed it since irqd wrote it: their choice stands
                self.report.outcomes.append(Outcome(t, "hands-off",
                                                    f"changed by someone else to {current.strip()}; left alone"))
                return None
        except (ValueError, CpuFormatError):
            pass  # unreadable current value: write ours, the original is still saved
        return current

    def _write(self, t: Target, host: str, current: str, newly: bool) -> None:
        failure: OSError | None = None
        for attempt, value in enumerate(self._values(t)):
            text = _render(value, current, self.snap.cpu_digits)
            try:
                kernel_write(host, text)
            except OSError as e:
                failure = e
                if e.errno == errno.ENOSPC:
                    continue  # that CPU's vector space is full: the next best CPU, if there is one
                break
            self.done.append((t, host, current))
            self.state.written[t.rel] = text
            self.dirty = True
            try:
                self.state.identity[t.rel] = os.stat(host).st_ino
            except OSError:
                self.state.identity.pop(t.rel, None)
            self._verify(t, host, value, text, moved=attempt > 0)
            return
        if newly:
            del self.state.originals[t.rel]  # never changed: nothing to restore
            self.state.ifindex.pop(t.rel, None)
        assert failure is not None
        self._failed(t, host, failure)

    def _same_object(self, rel: str, host: str) -> bool:
        """Is this the file irqd wrote, not a queue or IRQ the kernel made anew since (ethtool -L, replug)?"""
        try:
            return os.stat(host).st_ino == self.state.identity.get(rel)
        except OSError:
            return False

    def _values(self, t: Target) -> Iterator[CpuSet | int]:
        """The planned value, then, only while the kernel answers ENOSPC, the next best CPUs."""
        assert t.value is not None
        yield t.value
        if t.scope == "irq" and isinstance(t.value, frozenset) and len(t.value) == 1:
            for cpu in enospc_order(self.snap, t.fallback_pool, next(iter(t.value))):
                yield frozenset({cpu})

    def _failed(self, t: Target, host: str, e: OSError) -> None:
        code = e.errno
        if code == errno.EACCES:
            raise PermissionProblem(_permission_message(host, t.scope))
        if t.irq is not None and code in (errno.EIO, errno.EPERM):
            self.state.managed.add(t.irq)
            self.dirty = True
            self.report.outcomes.append(Outcome(t, "managed",
                                                f"the kernel refused ({errno.errorcode[code]}): a kernel-managed "
                                                "IRQ; left alone from now on"))
        elif code == errno.ENOSPC:
            self.report.outcomes.append(Outcome(t, "error",
                                                "no vector space left on any eligible CPU (ENOSPC)"))
        elif code in _GONE:
            self.report.outcomes.append(Outcome(t, "gone", "went away before the write"))
        elif code == errno.EINVAL:
            what = ("an offline CPU, or a mask the kernel cannot use" if t.scope == "irq" else
                    "the kernel refused the mask (offline CPU, or ANDed to empty by isolcpus)")
            self.report.outcomes.append(Outcome(t, "error", f"EINVAL: {what}"))
        else:
            self.report.outcomes.append(Outcome(t, "error", f"{host}: {e.strerror or e}"))

    def _verify(self, t: Target, host: str, value: CpuSet | int, text: str, moved: bool) -> None:
        try:
            back = kernel_read(host)
            ok = _parse_value(t, back) == value
        except OSError as e:
            if e.errno in _GONE:
                self.report.outcomes.append(Outcome(t, "gone", "went away right after the write"))
                return
            ok, back = False, "?"
        except (ValueError, CpuFormatError):
            ok, back = False, "?"
        detail = f"-> {text.strip()}"
        if moved and isinstance(value, frozenset):
            detail += f" (CPU {format_list(value)}: the planned CPU had no vector space left)"
        if t.scope == "irq" and self.root == "/":  # a captured tree has no kernel to choose
            eff = self._effective(host)
            if eff is not None:
                detail += f"; kernel runs it on CPU {format_list(eff)}"
        if not ok:
            self.report.outcomes.append(Outcome(t, "error",
                                                f"wrote {text.strip()} but read back {back.strip()}"))
        else:
            self.report.outcomes.append(Outcome(t, "moved" if moved else "written", detail, written=text,
                                                written_value=value))

    def _effective(self, host: str) -> CpuSet | None:
        for name, parse in (("effective_affinity_list", parse_list), ("effective_affinity", parse_mask)):
            path = (HostPath(host.root, os.path.join(os.path.dirname(host.rel), name)) if isinstance(host, HostPath)
                    else os.path.join(os.path.dirname(host), name))
            try:
                return parse(kernel_read(path))
            except (OSError, CpuFormatError, ValueError):
                continue
        return None

    def _roll_back(self) -> None:
        """EACCES mid-run: put back what this run wrote, so nothing is left half-applied."""
        for target, host, before in reversed(self.done):
            try:
                kernel_write(host, before)
            except OSError:
                continue
            self.state.written.pop(target.rel, None)
            self.state.identity.pop(target.rel, None)
        for rel in self.newly:
            self.state.originals.pop(rel, None)
            self.state.ifindex.pop(rel, None)
        self.done.clear()
        self.dirty = True


# a refused write can only ever mark more IRQs managed, so this settles fast;
# the bound is for a kernel that refuses something new every time
_MAX_SETTLE_ROUNDS = 3


def apply_settled(root: str, state: State, snap: Snapshot, todo: list[Target],
                  replan: Callable[[Snapshot], list[Target]], respect_others: bool = False) -> Report:
    """Write ``todo``; when the kernel refuses writes (managed IRQs), re-plan at once and write again.

    A refused IRQ stays where the kernel keeps it, so what the plan placed
    around it (the other IRQs of its node) is re-planned with it left alone,
    now rather than on the next run: one refused write must not leave every
    other device IRQ on the same CPU.
    """
    from ..discover import DiscoveryError, discover  # re-read only when the kernel said no

    if reconcile(root, state, prune=True):
        state.save()
    report = round_ = Applier(root, state, snap, respect_others).run(todo)
    for _ in range(_MAX_SETTLE_ROUNDS):
        if not any(o.status == "managed" for o in round_.outcomes):
            break
        try:
            snap = discover(root, confirmed_managed=state.managed)
        except DiscoveryError:
            break   # the machine went away under us: what was written stands, and is saved
        todo = replan(snap)
        if not todo:
            break
        round_ = Applier(root, state, snap, respect_others).run(todo)
        report.outcomes.extend(o for o in round_.outcomes if o.status != "same")
    return report


def _ifindexes(root: str) -> dict[str, int]:
    """Network device name -> ifindex, as sys/class/net shows them now."""
    try:
        tree = Root(root)
    except RootError:
        return {}
    out = {}
    for name in tree.listdir("sys/class/net"):
        idx = tree.read_int(f"sys/class/net/{name}/ifindex")
        if idx is not None:
            out[name] = idx
    return out


def reconcile(root: str, state: State, *, prune: bool) -> bool:
    """Bring the state's paths up to date with the machine; True when anything changed.

    A queue attribute saved with its netdev's ifindex follows a renamed
    device to its new name (a rename must not leave irqd's values behind, nor
    make a re-plan save irqd's own value as the "original"). With ``prune``,
    entries of devices and IRQs that are gone are dropped (a veth churn must
    not pile them up); restore keeps them, to report them.
    """
    by_index = {idx: name for name, idx in _ifindexes(root).items()}
    names = set(by_index.values())
    changed = False
    for rel in sorted(set(state.originals) | set(state.written)):
        t = classify(rel)
        if t is None:
            continue
        if t.dev is not None and t.queue is not None and t.attr is not None:
            idx = state.ifindex.get(rel)
            now = by_index.get(idx) if idx is not None else (t.dev if t.dev in names else None)
            if now is None:
                if prune:
                    state.forget(rel)
                    changed = True
            elif now != t.dev:
                state.move(rel, f"sys/class/net/{now}/queues/{t.queue}/{t.attr}")
                changed = True
        elif t.irq is not None and prune and not os.path.isdir(os.path.join(root, f"proc/irq/{t.irq}")):
            state.forget(rel)
            changed = True
    return changed


def _permission_message(host: str, scope: str) -> str:
    need = "CAP_NET_ADMIN" if scope in ("rps", "xps", "sysctl") else "root (CAP_SYS_ADMIN)"
    return f"permission denied writing {host}: run irqd as root; it needs {need}"


def restore(root: str, state: State, force: bool = False) -> Report:
    """Write every saved original back, then clear what was restored.

    A file someone changed after irqd wrote it is left alone and reported
    (``force``: restored anyway); it and every entry refused stay in the
    state, so a later restore can still do them.
    """
    root = os.path.abspath(root)
    reconcile(root, state, prune=False)   # a renamed device's files, under its name now
    report = Report()
    keep: dict[str, str] = {}
    for rel, text in sorted(state.originals.items()):
        target = classify(rel)
        if target is not None:
            target = replace(target, label=rel)  # restore speaks of files, as the state names them
        if target is None:
            report.outcomes.append(Outcome(Target(rel, "?", None, rel), "refused",
                                           f"refusing to write {rel}: not a file irqd writes"))
            continue
        if target.irq is not None and target.irq in state.managed:
            report.outcomes.append(Outcome(target, "managed", "kernel-managed: the kernel owns it"))
            continue
        try:
            host = check_allowed(root, rel)
        except ApplyRefused as e:
            keep[rel] = text
            report.outcomes.append(Outcome(target, "refused", f"{e}; kept in the state file"))
            continue
        except OSError:
            report.outcomes.append(Outcome(target, "gone", "no longer exists"))
            continue
        ours = state.written.get(rel)
        if ours is not None and not force:
            try:
                now = kernel_read(host)
                theirs = _parse_value(target, now) != _parse_value(target, ours)
            except (OSError, ValueError, CpuFormatError):
                theirs = False   # unreadable or not a value: restoring is the safe choice
            if theirs:
                keep[rel] = text
                report.outcomes.append(Outcome(target, "hands-off",
                                               f"changed by someone else to {now.strip()} after irqd wrote "
                                               f"{ours.strip()}; left alone (restore --force writes "
                                               f"{text.strip()})"))
                continue
        try:
            kernel_write(host, text)
        except OSError as e:
            if e.errno == errno.EACCES:
                raise PermissionProblem(_permission_message(host, target.scope)) from None
            if e.errno in _GONE:
                report.outcomes.append(Outcome(target, "gone", "went away"))
            else:
                keep[rel] = text
                report.outcomes.append(Outcome(target, "error", f"{host}: {e.strerror}; kept in the state file"))
            continue
        report.outcomes.append(Outcome(target, "written", f"-> {text.strip()}", written=text))
    if keep:
        state.originals = keep
        state.written = {k: v for k, v in state.written.items() if k in keep}
        state.identity = {k: v for k, v in state.identity.items() if k in keep}
        state.ifindex = {k: v for k, v in state.ifindex.items() if k in keep}
        state.save()
    else:
        state.clear()
    return report


class Lock:
    """One irqd writer at a time: an flock beside the state file."""

    def __init__(self, state_path: str):
        self.path = os.path.join(os.path.dirname(state_path) or ".", "irqd.lock")
        self.fd: int | None = None

    def __enter__(self):
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise ApplyRefused(f"{self.path}: cannot create lock file: {e.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            self.fd = None
            raise ApplyRefused(f"another irqd (pid {holder}) is writing; lock {self.path} is held") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

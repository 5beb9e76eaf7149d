"""Writing and removing ``run/irqd/banned.d/OWNER.cpulist``: a ban someone asks irqd for.

The format is the one ``irqd.discover.bans.parse_dropin`` reads: one CPU
list. A write is atomic (a dotfile in the same directory, fsync, rename,
fsync of the directory), so the daemon's inotify watch never sees half a
file, and every directory on the way is opened without following links.
"""

from __future__ import annotations

import errno
import os

from ..cpuset import CpuSet, format_list
from ..discover.bans import DROPIN_DIR, DROPIN_SUFFIX, MAX_OWNER_LEN, valid_owner


class BanError(Exception):
    """A drop-in could not be written or removed; the message names the path and the reason."""


def _open_dropin_dir(root_path: str, create: bool) -> int:
    """An fd on ROOT/run/irqd/banned.d, walked one component at a time.

    Each step is opened with O_NOFOLLOW relative to the previous fd, so a
    symlink planted at run/, run/irqd or banned.d cannot send the write
    elsewhere. The root itself is the caller's choice and may be a link.
    """
    fd = os.open(root_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = root_path.rstrip("/")
    try:
        for part in DROPIN_DIR.split("/"):
            walked += "/" + part
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                nfd = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass  # made by someone else meanwhile; the open below checks what it is
                nfd = os.open(part, flags, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise BanError(f"{walked}: a symlink or not a directory; refusing to write through it") from None
                raise
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _check_owner(owner: str) -> None:
    if not valid_owner(owner):
        raise BanError(f"owner {owner!r}: use letters, digits, '_', '.' and '-' "
                       f"(no leading dot, at most {MAX_OWNER_LEN} characters)")


def write_dropin(root_path: str, owner: str, cpus: CpuSet) -> str:
    """Write ROOT/run/irqd/banned.d/OWNER.cpulist atomically; returns its path.

    A dot-named temp file in the same directory is written, fsynced and
    renamed over the old one, then the directory is fsynced: a reader sees
    the old list or the new one, never half of one, and the daemon's inotify
    watch sees one IN_MOVED_TO.
    """
    _check_owner(owner)
    if any(c < 0 for c in cpus):
        raise BanError(f"negative CPU number in {sorted(cpus)}")
    final = f"{owner}{DROPIN_SUFFIX}"
    path = f"{root_path.rstrip('/')}/{DROPIN_DIR}/{final}"
    data = (format_list(cpus) + "\n").encode()
    try:
        dfd = _open_dropin_dir(root_path, create=True)
    except OSError as e:
        raise BanError(f"{root_path.rstrip('/')}/{DROPIN_DIR}: {e.strerror}") from None
    tmp = f".{final}.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dfd)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final, src_dir_fd=dfd, dst_dir_fd=dfd)
        os.fsync(dfd)
    except OSError as e:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise BanError(f"{path}: {e.strerror}") from None
    finally:
        os.close(dfd)
    return path


def remove_dropin(root_path: str, owner: str) -> bool:
    """Remove ROOT/run/irqd/banned.d/OWNER.cpulist; False when there was none."""
    _check_owner(owner)
    path = f"{root_path.rstrip('/')}/{DROPIN_DIR}/{owner}{DROPIN_SUFFIX}"
    try:
        dfd = _open_dropin_dir(root_path, create=False)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise BanError(f"{root_path.rstrip('/')}/{DROPIN_DIR}: {e.strerror}") from None
    try:
        os.unlink(f"{owner}{DROPIN_SUFFIX}", dir_fd=dfd)
        os.fsync(dfd)
        return True
    except FileNotFoundError:
        return False
    except OSError as e:
        raise BanError(f"{path}: {e.strerror}") from None
    finally:
        os.close(dfd)

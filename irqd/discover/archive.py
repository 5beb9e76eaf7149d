"""Unpack an ``irqd capture --tar`` archive into a private directory, refusing anything hostile.

An archive from another machine is untrusted input. tarfile's ``data``
filter (PEP 706, Python 3.11.4+) refuses members that would land outside
the directory, links that point out of it or to an absolute path, device
nodes and FIFOs. This module adds what the filter does not do: it refuses
absolute member names outright (the filter would quietly strip the slash and
unpack them) and members with ``..`` in their path, and it bounds the work,
at most ``MAX_MEMBERS`` members and ``MAX_BYTES`` bytes, counted on the
decompressed stream itself, so a small archive cannot expand without end
(headers included: a pax header may be any size). One bad member refuses
the whole archive: a half-unpacked machine would be audited wrong.

A capture archive holds one top-level directory with the machine's root in
it (``box/proc/interrupts``); an archive whose top level is the root itself
(``proc/interrupts``) is taken as well.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import BinaryIO, NamedTuple

# Measured: a capture of the largest fixture (intel-2s-i40e-ice, 80 CPUs)
# holds 12,802 members in a 25 MiB tar stream (headers are most of it); one
# of a generated 1,024-CPU, 16-node machine 136,612 members and 306 MiB.
MAX_MEMBERS = 500_000
MAX_BYTES = 1 << 30     # the decompressed tar stream, headers included

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar")

# what a refusal by the data filter means, in words a fleet owner reads
_REFUSED = {
    tarfile.AbsolutePathError: "an absolute path",
    tarfile.OutsideDestinationError: "it would land outside the archive's tree",
    tarfile.SpecialFileError: "a device node or FIFO",
    tarfile.AbsoluteLinkError: "a link to an absolute path",
    tarfile.LinkOutsideDestinationError: "a link pointing outside the archive's tree",
}


class ArchiveError(Exception):
    """The archive cannot be audited; the message names it and says why."""


class _TooBig(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A decompressed stream that refuses to yield more than ``limit`` bytes."""

    def __init__(self, stream: BinaryIO | io.BufferedIOBase, limit: int):
        super().__init__()
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = self._left + 1 if size < 0 else min(size, self._left + 1)
        data = self._stream.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise _TooBig
        return data


def _decompressed(raw: BinaryIO) -> BinaryIO | io.BufferedIOBase:
    """The tar stream inside ``raw``: gzip, xz, bzip2 or none, told by the magic bytes."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    return raw


def machine_name(path: str) -> str:
    """``fleet/web-17.tar.gz`` -> ``web-17``; a directory keeps its own name."""
    base = os.path.basename(os.path.abspath(path).rstrip("/")) or "/"
    for suffix in ARCHIVE_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[:-len(suffix)]
    return base


def _check_name(archive: str, member: tarfile.TarInfo) -> None:
    if member.name.startswith("/"):
        raise ArchiveError(f"{archive}: refused member {member.name!r}: an absolute path")
    if ".." in PurePosixPath(member.name).parts:
        raise ArchiveError(f"{archive}: refused member {member.name!r}: it climbs out with '..'")


def extract(archive: str, dest: str) -> None:
    """Unpack every member of ``archive`` beneath the existing directory ``dest``, or refuse."""
    if not hasattr(tarfile, "data_filter"):
        raise ArchiveError(f"{archive}: unpacking safely needs Python 3.11.4 or newer (tarfile's data filter)")
    max_members, max_bytes = MAX_MEMBERS, MAX_BYTES   # read now, so a test may lower them
    members = total = 0
    try:
        with open(archive, "rb") as raw, _decompressed(raw) as stream, \
                tarfile.open(fileobj=_Bounded(stream, max_bytes), mode="r|") as tar:
            for member in tar:
                members += 1
                total += member.size
                if members > max_members:
                    raise ArchiveError(f"{archive}: refused: more than {max_members:,} members "
                                       "(a capture of 1,024 CPUs holds about 140,000)")
                if total > max_bytes:   # before unpacking a member that claims too much
                    raise _TooBig
                _check_name(archive, member)
                # directories keep the 0700 tarfile makes them with: the tree
                # is only read, and the owner must be able to remove it
                tar.extract(member, dest, set_attrs=not member.isdir(), filter="data")
    except _TooBig:
        raise ArchiveError(f"{archive}: refused: unpacks to more than {max_bytes:,} bytes "
                           "(a capture of 1,024 CPUs is about 300 MiB)") from None
    except tarfile.FilterError as e:
        why = next((text for kind, text in _REFUSED.items() if isinstance(e, kind)), str(e))
        raise ArchiveError(f"{archive}: refused member {e.tarinfo.name!r}: {why}") from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as e:
        raise ArchiveError(f"{archive}: damaged or not a tar archive ({e})") from None
    except OSError as e:
        if e.errno is None:   # bz2 says "Invalid data stream" this way
            raise ArchiveError(f"{archive}: damaged or not a tar archive ({e})") from None
        raise ArchiveError(f"{archive}: {e.strerror or e}") from None
    if members == 0:
        raise ArchiveError(f"{archive}: damaged or not a tar archive (no members)")


def find_root(archive: str, dest: str) -> str:
    """The machine's root inside the unpacked ``dest``: ``dest`` itself or its one top-level directory."""
    if os.path.isfile(os.path.join(dest, "proc", "interrupts")):
        return dest
    roots = sorted(entry.path for entry in os.scandir(dest)
                   if entry.is_dir(follow_symlinks=False)
                   and os.path.isfile(os.path.join(entry.path, "proc", "interrupts")))
    if len(roots) == 1:
        return roots[0]
    if roots:
        raise ArchiveError(f"{archive}: holds {len(roots)} machine roots; give each machine its own archive")
    raise ArchiveError(f"{archive}: no machine root in it (no proc/interrupts at its top or in a "
                       "top-level directory); was it made by 'irqd capture --tar'?")


def _remove(path: str) -> None:
    def writable(func, failed, _exc) -> None:
        # a member's own mode may deny its owner write access; take it back and retry once
        parent = os.path.dirname(failed)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
        func(failed)
    shutil.rmtree(path, onerror=writable)


class Unpacked(NamedTuple):
    scratch: str    # the private temporary directory
    root: str       # the machine's root in it


@contextmanager
def unpacked(archive: str) -> Iterator[Unpacked]:
    """Unpack ``archive`` into a private temporary directory; yield it and the root in it; remove it after.

    Raises ``ArchiveError`` naming the archive when it is refused, damaged or
    holds no machine root.
    """
    dest = tempfile.mkdtemp(prefix="irqd-archive-")
    try:
        extract(archive, dest)
        yield Unpacked(dest, find_root(archive, dest))
    finally:
        _remove(dest)

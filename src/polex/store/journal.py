"""Append-only files beside a SQLite database, one per writing process, for what a reading
transaction writes (a search, its audit entry) without taking any lock of the database.

Every search writes its audit entry. Written into a SQLite file, even one of its own beside the
database, each entry took that file's write lock in turn with every other search of every
worker, wrote WAL frames and committed, which emptied the page cache of every other connection
to it: nine system calls and 40-70 µs of an identifier lookup of 250. A line appended to a
file its process holds alone is one ``write(2)``.

A process appends to one segment at a time. A segment is created under a hidden name, locked
(``flock``) for as long as its process keeps it, then renamed into view, so a reader never
finds a segment whose writer has not locked it; a reader knows a closed segment (its process
gone, or moved on to a new one) by taking that lock. A reading transaction's lines are written
at its commit, whole, with one ``write(2)``; a failed or short write is cut off again, and
where that fails too the segment is left for a new one, so a segment holds whole lines only,
unless the machine lost power mid-write. No ``fsync``: the durability of SQLite's
``synchronous=NORMAL`` in WAL mode, which every commit of the database has too. It survives
any crash of a process; a power loss may take the last seconds written."""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# The directory of a database's segments: ``polex.db`` has ``polex.db-appends/``.
SUFFIX = "-appends"
# A segment this large is closed, and the next write opens a new one: what has been read from
# a closed segment can be deleted.
SEGMENT_BYTES = 64 << 20
_EXTENSION = ".log"
HIDDEN_AGE = 60.0  # seconds


def directory(database: str) -> Path:
    return Path(database + SUFFIX)


@dataclass
class _Segment:
    path: Path
    fd: int
    size: int = 0


class _Writer:
    """The segment this process appends to for one database, opened at the first write."""

    def __init__(self, database: str) -> None:
        self.directory = directory(database)
        self._lock = threading.Lock()
        self._segment: _Segment | None = None
        self._pid = os.getpid()

    def write(self, data: bytes) -> None:
        with self._lock:
            segment = self._current()
            try:
                written = os.write(segment.fd, data)
            except OSError:
                self._cut(segment)
                raise
            if written != len(data):
                self._cut(segment)
                raise OSError(errno.ENOSPC, "a short write", str(segment.path))
            segment.size += written

    def _current(self) -> _Segment:
        if self._pid != os.getpid():  # a forked child: the segment and its lock are the parent's
            self._pid, self._segment = os.getpid(), None
        segment = self._segment
        if segment is not None and segment.size < SEGMENT_BYTES:
            return segment
        if segment is not None:
            os.close(segment.fd)
        self._segment = segment = _open(self.directory)
        return segment

    def _cut(self, segment: _Segment) -> None:
        """Back to the last whole line, or else a new segment for the next write."""
        try:
            os.ftruncate(segment.fd, segment.size)
        except OSError:
            os.close(segment.fd)
            self._segment = None


def _open(where: Path) -> _Segment:
    where.mkdir(mode=0o700, exist_ok=True)
    name = f"{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(4)}{_EXTENSION}"
    hidden = where / f".{name}"
    fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
        os.rename(hidden, where / name)
    except BaseException:
        os.close(fd)
        hidden.unlink(missing_ok=True)
        raise
    return _Segment(where / name, fd)


_writers: dict[str, _Writer] = {}
_writers_lock = threading.Lock()


def append(database: str, data: bytes) -> None:
    """Append ``data`` (whole lines) to this process's segment of ``database``."""
    writer = _writers.get(database)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(database, _Writer(database))
    writer.write(data)


def segments(database: str) -> list[str]:
    """The names of the database's segments, oldest first."""
    try:
        names = os.listdir(directory(database))
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(_EXTENSION) and not n.startswith("."))


def sizes(database: str) -> dict[str, int]:
    """The database's segments and their sizes now, oldest first."""
    where = directory(database)
    found = {}
    for name in segments(database):
        try:
            found[name] = (where / name).stat().st_size
        except FileNotFoundError:
            continue
    return found


def read(database: str, segment: str, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes of a segment from ``offset`` (b"" for a segment deleted)."""
    try:
        with open(directory(database) / segment, "rb") as file:
            file.seek(offset)
            return file.read(size)
    except FileNotFoundError:
        return b""


def closed(database: str, segment: str) -> bool:
    """Whether nobody writes to the segment any more: its lock is free."""
    try:
        fd = os.open(directory(database) / segment, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        return _lock_now(fd)
    finally:
        os.close(fd)


def remove(database: str, segment: str, size: int) -> bool:
    """Delete a closed segment of ``size`` bytes, all of it read (True also if it is gone
    already); False if it is not closed or not of that size."""
    return _remove_closed(directory(database) / segment, size)


def remove_abandoned(database: str) -> None:
    """Delete the hidden segments of processes that died creating one."""
    where = directory(database)
    for name in os.listdir(where) if where.exists() else ():
        hidden = where / name
        if name.startswith(".") and name.endswith(_EXTENSION) and _older(hidden, HIDDEN_AGE):
            _remove_closed(hidden, None)


def _older(path: Path, seconds: float) -> bool:
    """A hidden segment this old is not one being created (that takes microseconds)."""
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def _remove_closed(path: Path, size: int | None) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return size is not None
    try:
        if not _lock_now(fd) or (size is not None and os.fstat(fd).st_size != size):
            return False
        path.unlink()  # under the lock: a writer could not have taken it since
        return True
    finally:
        os.close(fd)


def _lock_now(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True

"""A prompt cross-process write lock for a SQLite store shared by many bot processes.

SQLite lets one writer at a time into a database file. A connection that finds the write
lock taken waits in SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10,
15, 20, 25, 25, 25, 50, 50, 100 ms: ``sqliteDefaultBusyCallback`` in SQLite's
``main.c``) and retries, however soon the lock was released. When 20 bots under one
``mixbot serve`` checkpoint the same bar together, the last of them sleeps through many
steps: that made the bar-to-checkpoint p99 latency 120 ms where the writes themselves take
about a millisecond each.

This module puts a file lock (``flock(2)`` on ``<database>.writelock``, next to the
database file) in front of SQLite's lock. A connection takes it just before its
transaction's first write statement (where SQLite itself would take the write lock: the
``sqlite3`` module begins a transaction implicitly there) and gives it back right after
``COMMIT`` or ``ROLLBACK``. Waiters poll the file lock with steps of 0.1 ms growing to
1 ms, so the next writer starts within a millisecond of the last commit.

Safety:
- the lock is released by the kernel when a process dies (``kill -9`` included), so it can
  never be left behind;
- the wait is bounded by the connection's ``busy_timeout``; past it (a stuck writer) the
  statement goes ahead without the file lock and SQLite's own busy handling applies as
  before (``database is locked`` after the timeout): never worse than without this module;
- a thread already holding the file lock through another connection does not wait for it
  again (that would deadlock); SQLite's own lock rules then apply.

Reads never take the lock (WAL readers do not block writers or each other).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

#: Statement prefixes that read only: everything else takes the write lock first.
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK", "END")

_held = threading.local()  # .count: connections of this thread holding the file lock


def lock_path(db_file: Path) -> Path:
    """``<database file>.writelock``: the file locked by writers of ``db_file``."""
    return db_file.with_name(db_file.name + ".writelock")


def _is_write(sql: str) -> bool:
    """True unless ``sql`` starts with a read-only keyword (only its first word is looked at:
    this runs for every statement)."""
    return not sql.lstrip(" \t\r\n(")[:9].upper().startswith(_READS)


class _LockedCursor(sqlite3.Cursor):
    """A cursor that takes its connection's file lock before a write statement."""

    connection: WriteLockedConnection

    def _run(self, run: Any, sql: str, params: Any) -> _LockedCursor:
        conn = self.connection
        if not conn.holding and _is_write(sql):
            conn.acquire()
        try:
            return run(sql, params)  # type: ignore[no-any-return]
        finally:
            conn.release_if_idle()

    def execute(self, sql: str, parameters: Any = (), /) -> _LockedCursor:
        return self._run(super().execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _LockedCursor:
        return self._run(super().executemany, sql, seq_of_parameters)


class WriteLockedConnection(sqlite3.Connection):
    """A ``sqlite3.Connection`` that serialises its write transactions with other processes
    through ``flock`` on :attr:`lock_file` (set by :func:`connection_factory`).

    Attributes:
        holding: True while this connection holds the file lock (from its first write
            statement to ``COMMIT``/``ROLLBACK``).
    """

    lock_file: str = ""
    wait_s: float = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holding = False
        self._fd = -1  # opened at the first write: a read-only use creates no file

    def cursor(self, factory: Any = _LockedCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def acquire(self) -> None:
        """Take the file lock: poll with 0.1 ms steps growing to 1 ms, at most ``wait_s``."""
        if getattr(_held, "count", 0):
            return  # this thread holds it through another connection: SQLite's rules apply
        if self._fd < 0:
            self._fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.wait_s
        step = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # a stuck writer: go ahead, SQLite's busy timeout applies
                time.sleep(step)
                step = min(step * 2, 0.001)
        self.holding = True
        _held.count = getattr(_held, "count", 0) + 1

    def release(self) -> None:
        """Give the file lock back (no-op when not holding it)."""
        if self.holding:
            self.holding = False
            _held.count = max(0, getattr(_held, "count", 1) - 1)
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def release_if_idle(self) -> None:
        """Release when no transaction is open any more (autocommit statement, failure)."""
        if self.holding and not self.in_transaction:
            self.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_if_idle()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_if_idle()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def connection_factory(db_file: Path, wait_s: float) -> type[WriteLockedConnection]:
    """A ``sqlite3.connect(factory=...)`` class whose connections lock
    :func:`lock_path` of ``db_file`` around write transactions, waiting at most ``wait_s``
    seconds (the store's busy timeout)."""
    return type(
        "WriteLockedConnection",
        (WriteLockedConnection,),
        {"lock_file": str(lock_path(db_file)), "wait_s": float(wait_s)},
    )

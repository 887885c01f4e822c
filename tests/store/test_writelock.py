"""The cross-process write lock of a SQLite store (mixbot.store.writelock).

The lock state is observed from outside, through a second open of the lock file with
``LOCK_NB`` (flock locks belong to open file descriptions, so this works in one process),
never by timing."""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from mixbot.store.writelock import WriteLockedConnection, connection_factory, lock_path


def _locked_by_someone(db: Path) -> bool:
    fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our lock if we got it
    return False


def _connect(db: Path, wait_s: float = 5.0) -> sqlite3.Connection:
    return sqlite3.connect(db, timeout=wait_s, factory=connection_factory(db, wait_s))


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    con = _connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    con.execute("INSERT INTO t VALUES (1, 0)")
    con.commit()
    con.close()
    return path


def test_held_from_the_first_write_to_commit(db: Path) -> None:
    con = _connect(db)
    con.execute("SELECT v FROM t").fetchall()
    assert not _locked_by_someone(db), "a read must not take the write lock"
    con.execute("UPDATE t SET v = v + 1")
    assert _locked_by_someone(db) and con.in_transaction
    con.commit()
    assert not _locked_by_someone(db)
    con.close()


def test_rollback_and_close_release(db: Path) -> None:
    con = _connect(db)
    con.execute("INSERT INTO t VALUES (2, 2)")
    assert _locked_by_someone(db)
    con.rollback()
    assert not _locked_by_someone(db)
    con.execute("INSERT INTO t VALUES (3, 3)")
    con.close()  # an open transaction is rolled back by close
    assert not _locked_by_someone(db)
    assert [r[0] for r in sqlite3.connect(db).execute("SELECT k FROM t")] == [1]


def test_a_failed_statement_outside_a_transaction_releases(db: Path) -> None:
    con = _connect(db)
    with pytest.raises(sqlite3.OperationalError):
        con.execute("CREATE TABLE t (x)")  # already exists: no transaction is left open
    assert not con.in_transaction and not _locked_by_someone(db)
    con.close()


def test_same_thread_second_connection_does_not_deadlock(db: Path) -> None:
    """A thread holding the lock through one connection writing through another gets
    SQLite's own 'database is locked' after its busy timeout, not a hang on the file lock."""
    first, second = _connect(db, 0.05), _connect(db, 0.05)
    first.execute("UPDATE t SET v = 5")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("UPDATE t SET v = 6")
    first.commit()
    second.rollback()
    assert sqlite3.connect(db).execute("SELECT v FROM t").fetchone() == (5,)
    first.close()
    second.close()


def test_a_stuck_holder_only_delays_a_writer_by_its_wait(db: Path) -> None:
    """Someone holds the file lock and never lets go (but not SQLite's lock): a writer
    goes ahead after ``wait_s`` and commits."""
    fd = os.open(lock_path(db), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        con = _connect(db, 0.05)
        con.execute("UPDATE t SET v = 7")
        con.commit()
        con.close()
    finally:
        os.close(fd)
    assert sqlite3.connect(db).execute("SELECT v FROM t").fetchone() == (7,)


def test_a_writer_waits_for_the_holder_then_goes_on(db: Path) -> None:
    holder = _connect(db)
    holder.execute("UPDATE t SET v = 100")
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            con = _connect(db)
            con.execute("UPDATE t SET v = v + 1")
            con.commit()
            con.close()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    t = threading.Thread(target=write)
    t.start()
    assert not done.is_set() or errors  # it cannot commit before the holder
    holder.commit()
    t.join(timeout=30)
    assert done.is_set() and not errors
    assert sqlite3.connect(db).execute("SELECT v FROM t").fetchone() == (101,)
    holder.close()


def _increment(db: str, n: int) -> int:
    con = _connect(Path(db))
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")  # read-modify-write, serialised by the write lock
        (v,) = con.execute("SELECT v FROM t WHERE k = 1").fetchone()
        con.execute("UPDATE t SET v = ? WHERE k = 1", (v + 1,))
        con.commit()
    con.close()
    return n


def test_many_processes_serialise_without_lost_updates(db: Path) -> None:
    with mp.get_context("spawn").Pool(4) as pool:
        done = sum(pool.starmap(_increment, [(str(db), 50)] * 4))
    assert done == 200
    assert sqlite3.connect(db).execute("SELECT v FROM t").fetchone() == (200,)
    assert not _locked_by_someone(db)


def test_the_store_engine_uses_it(tmp_path: Path) -> None:
    from mixbot.store.db import open_engine

    path = tmp_path / "s.sqlite"
    engine = open_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        assert isinstance(c.connection.dbapi_connection, WriteLockedConnection)
    assert lock_path(path).exists()
    engine.dispose()

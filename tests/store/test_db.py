"""Opening a store on bad input (SQLite): corrupt, locked, read-only and foreign databases are
refused with a clear StoreError and left untouched; an older schema is migrated forward; URLs."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from mixbot.errors import StoreError
from mixbot.store.db import (
    URL_ENV,
    _alembic_config,
    current_revision,
    describe,
    head_revision,
    open_engine,
    resolve_url,
)
from mixbot.store.repository import Store


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file of a folder with its bytes (to prove nothing was written or added)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def make_store_file(path: Path) -> None:
    """A current mixbot store with one bot, closed again."""
    s = Store(url_of(path), "b1", "paper")
    s.register("h", "c.json")
    s.close()


# --------------------------------------------------------------------------- corrupt / foreign files
@pytest.mark.parametrize(
    "content",
    [os.urandom(8192), b"date,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n" * 50],
    ids=["random-bytes", "text-file"],
)
def test_corrupt_file_is_refused_and_left_unchanged(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "x.sqlite"
    db.write_bytes(content)
    before = folder_state(tmp_path)
    with pytest.raises(StoreError) as err:
        Store(url_of(db), "b1", "paper")
    msg = str(err.value)
    assert str(db) in msg
    assert "not a readable SQLite database" in msg and "will not overwrite" in msg
    assert folder_state(tmp_path) == before


def test_foreign_tables_without_alembic_version_are_refused_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    c.execute("INSERT INTO customers (name) VALUES ('asha')")
    c.commit()
    c.close()
    before = folder_state(tmp_path)
    with pytest.raises(StoreError, match=r"holds tables \['customers'\] but is not a mixbot store"):
        open_engine(url_of(db))
    assert folder_state(tmp_path) == before  # not even switched to WAL (file header unchanged)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "x.sqlite").mkdir()
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        open_engine(url_of(tmp_path / "x.sqlite"))


def test_missing_file_with_create_false(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no store yet \(run the bot first\)"):
        open_engine(url_of(tmp_path / "x.sqlite"), create=False)
    assert list(tmp_path.iterdir()) == []


def test_schema_from_a_newer_mixbot_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    make_store_file(db)
    c = sqlite3.connect(db)
    c.execute("UPDATE alembic_version SET version_num = '0099'")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match=r"schema revision '0099' is newer than this mixbot"):
        open_engine(url_of(db))


# --------------------------------------------------------------------------- locked
HOLD_GUARD_S = 120.0  # the holder lets go after this at the latest (a hang guard only)


def _hold_exclusive(db: Path, release: threading.Event, ready: threading.Event) -> None:
    """Hold an exclusive lock on ``db`` until ``release`` is set (or the hang guard)."""
    c = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    c.execute("BEGIN EXCLUSIVE")
    ready.set()
    release.wait(HOLD_GUARD_S)
    c.execute("ROLLBACK")
    c.close()


def _busy_ms(engine) -> int:  # noqa: ANN001
    with engine.connect() as con:
        return int(con.exec_driver_sql("PRAGMA busy_timeout").scalar())


def test_locked_store_gives_a_clear_error_within_the_busy_timeout(tmp_path: Path) -> None:
    """No wall-clock window: the error comes while the lock is still held (the wait ended on
    the busy timeout, not on the holder), and the timeout in force is the one asked for."""
    db = tmp_path / "x.sqlite"
    make_store_file(db)
    ready, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(db, release, ready))
    holder.start()
    try:
        assert ready.wait(HOLD_GUARD_S)
        s = Store(url_of(db), "b1", "paper", busy_timeout=0.3)  # WAL: reading still works
        assert _busy_ms(s.engine) == 300
        with pytest.raises(StoreError, match="locked by another process") as err:
            s.register("h", "c.json")
        assert holder.is_alive()  # still locked: it did not wait the lock out
        assert str(db) in str(err.value)
        s.close()
    finally:
        release.set()
        holder.join()


def test_locked_new_database_fails_at_open(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    sqlite3.connect(db).close()  # empty file, rollback-journal mode: the lock blocks readers
    ready, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(db, release, ready))
    holder.start()
    try:
        assert ready.wait(HOLD_GUARD_S)
        with pytest.raises(StoreError, match="locked by another process"):
            open_engine(url_of(db), busy_timeout=0.3)
        assert holder.is_alive()  # still locked: it did not wait the lock out
    finally:
        release.set()
        holder.join()


def test_default_busy_timeout_is_sane() -> None:
    import inspect as py_inspect

    default = py_inspect.signature(open_engine).parameters["busy_timeout"].default
    assert 1.0 <= default <= 60.0


# --------------------------------------------------------------------------- read-only
def test_read_only_connection_gives_a_clear_error(tmp_path: Path) -> None:
    """Works as root too: SQLite's own read-only mode (``mode=ro``) refuses the writes."""
    db = tmp_path / "x.sqlite"
    make_store_file(db)
    before = db.read_bytes()
    s = Store(f"sqlite:///file:{db}?mode=ro&uri=true", "b1", "paper")
    try:
        assert s.find_bot() is not None  # reading works
        with pytest.raises(StoreError, match="read-only") as err:
            s.register("h", "c.json")
        assert "fix the permissions" in str(err.value)
    finally:
        s.close()
    assert db.read_bytes() == before
    assert not (tmp_path / "file:").exists()  # the URI was not taken for a folder name


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: file permissions do not stop root's writes "
    "(test_read_only_connection_gives_a_clear_error covers the message)",
)
def test_read_only_file_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "x.sqlite"
    make_store_file(db)
    before = folder_state(folder)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="read-only|cannot open") as err:
            s = Store(url_of(db), "b1", "paper")
            try:
                s.register("h", "c.json")
            finally:
                s.close()
        assert str(db) in str(err.value)
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert folder_state(folder) == before


# --------------------------------------------------------------------------- migrations
def test_older_schema_is_migrated_forward(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    old = create_engine(url_of(db))
    with old.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO bots (bot_id, mode, config_hash, config_file, status, created_at, "
                "updated_at) VALUES ('old_bot', 'paper', 'h0', 'c.json', 'finished', "
                "'2024-01-02 03:04:05', '2024-01-02 03:04:05')"
            )
        )
    with old.connect() as conn:
        assert current_revision(old) == "0001"
        assert "last_heartbeat" not in {c["name"] for c in inspect(conn).get_columns("bots")}
    old.dispose()

    s = Store(url_of(db), "old_bot", "paper")
    try:
        assert current_revision(s.engine) == head_revision() == "0006"
        with s.engine.connect() as conn:
            cols = {c["name"] for c in inspect(conn).get_columns("bots")}
            tables = set(inspect(conn).get_table_names())
        assert "last_heartbeat" in cols
        assert {"outbox", "consumer_cursors", "notifications"} <= tables
        row = s.bot_row()
        assert row["status"] == "finished" and row["config_hash"] == "h0"
        assert row["last_heartbeat"] is None
        r = s.register("h0", "c.json")
        assert r["resumed"] is True and r["previous_status"] == "finished"
        s.checkpoint(0, row["created_at"], 1.0, 1.0, False, {})
        assert s.bot_row()["last_heartbeat"] is not None
    finally:
        s.close()


def test_opening_a_current_store_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    make_store_file(db)
    before = db.read_bytes()
    open_engine(url_of(db)).dispose()
    assert db.read_bytes() == before


def test_per_connection_pragmas(tmp_path: Path) -> None:
    engine = open_engine(url_of(tmp_path / "x.sqlite"), busy_timeout=1.5)
    try:
        with engine.connect() as a, engine.connect() as b:  # two pooled connections
            for c in (a, b):
                assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
                assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_missing_folder_is_created(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "x.sqlite"
    open_engine(url_of(db)).dispose()
    assert db.is_file()


# --------------------------------------------------------------------------- URLs
def test_resolve_url_default_config_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    assert resolve_url(None, "paper") == "sqlite:///data/mixbot_paper.sqlite"
    assert resolve_url(None, "live") == "sqlite:///data/mixbot_live.sqlite"
    assert resolve_url("sqlite:///cfg.sqlite", "paper") == "sqlite:///cfg.sqlite"
    monkeypatch.setenv(URL_ENV, "sqlite:///env.sqlite")
    assert resolve_url("sqlite:///cfg.sqlite", "paper") == "sqlite:///env.sqlite"


def test_resolve_url_substitutes_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv("MIXBOT_T_PW", "s3cret")
    url = resolve_url("postgresql+psycopg://bot:${MIXBOT_T_PW}@db.local/mixbot", "live")
    assert url == "postgresql+psycopg://bot:s3cret@db.local/mixbot"
    assert "s3cret" not in describe(url) and "***" in describe(url)


def test_resolve_url_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv("MIXBOT_T_UNSET", raising=False)
    with pytest.raises(StoreError, match="database.url needs environment variable.*MIXBOT_T_UNSET"):
        resolve_url("postgresql+psycopg://bot:${MIXBOT_T_UNSET}@h/db", "paper")
    monkeypatch.setenv(URL_ENV, "postgresql+psycopg://bot:${MIXBOT_T_UNSET}@h/db")
    with pytest.raises(
        StoreError, match=rf"\${URL_ENV} needs environment variable.*MIXBOT_T_UNSET"
    ):
        resolve_url(None, "paper")


def test_resolve_url_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        resolve_url("not a url at all", "paper")


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    url = "postgresql+psycopg://bot:hunter2@127.0.0.1:1/mixbot?connect_timeout=2"
    with pytest.raises(StoreError, match="cannot connect to the database server") as err:
        open_engine(url)
    assert "hunter2" not in str(err.value)

"""Opening the store's database: URL resolution, SQLite pragmas, Alembic migration, clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from mixbot.errors import StoreError
from mixbot.store.writelock import connection_factory

#: Environment variable that overrides ``database.url`` for every bot.
URL_ENV = "MIXBOT_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")


def default_url(mode: str, data_dir: Path = Path("data")) -> str:
    """``sqlite:///data/mixbot_<mode>.sqlite``: paper and live never share a file by default."""
    return f"sqlite:///{data_dir / f'mixbot_{mode}.sqlite'}"


def resolve_url(config_url: str | None, mode: str) -> str:
    """The URL to use: ``$MIXBOT_DATABASE_URL``, else ``database.url`` (``${VAR}`` resolved),
    else :func:`default_url`.

    Raises:
        StoreError: the URL references an unset variable or cannot be parsed.
    """
    from mixbot.config.secrets import resolve

    env_url = os.environ.get(URL_ENV)
    url = env_url or config_url
    if not url:
        return default_url(mode)
    source = f"${URL_ENV}" if env_url else "database.url"
    resolved, missing = resolve(url)
    if missing:
        raise StoreError(
            f"{source} needs environment variable(s) {', '.join(missing)}: set them "
            "(or put them in .env)"
        )
    try:
        make_url(resolved)
    except Exception as exc:
        raise StoreError(
            f"{source} is not a valid SQLAlchemy URL ({type(exc).__name__}); "
            "expected e.g. sqlite:///data/mixbot.sqlite or postgresql+psycopg://user:pw@host/db"
        ) from None
    return resolved


def describe(url: str) -> str:
    """The URL with any password hidden (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"


def _translate(exc: BaseException, url: str) -> StoreError:
    msg = str(getattr(exc, "orig", exc)).lower()
    where = describe(url)
    if "file is not a database" in msg or "malformed" in msg:
        return StoreError(
            f"{where}: not a readable SQLite database (corrupt, or another kind of file); "
            "mixbot will not overwrite it: move it away or set database.url"
        )
    if "locked" in msg:
        return StoreError(
            f"{where}: the database is locked by another process (another bot or tool "
            "holding a write lock); stop it or retry"
        )
    if "readonly" in msg or "read-only" in msg:
        return StoreError(
            f"{where}: the database (or its folder) is read-only; fix the permissions "
            "or point database.url elsewhere"
        )
    if "unable to open" in msg:
        return StoreError(
            f"{where}: cannot open the database file (missing folder or no permission)"
        )
    if "connection" in msg or "could not connect" in msg or "password" in msg:
        return StoreError(
            f"{where}: cannot connect to the database server: {msg.splitlines()[0][:200]}"
        )
    return StoreError(
        f"{where}: database error: {msg.splitlines()[0][:200] if msg else type(exc).__name__}"
    )


def _sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL (``file:`` URIs with ``uri=true`` included), or None for
    an in-memory database."""
    db = url.database
    if not db or db == ":memory:":
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1") and db.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        db = db[len("file:") :].split("?", 1)[0]
        if db.startswith("///"):  # file:///abs/path
            db = db[2:]
        if not db or db == ":memory:":
            return None
    return Path(db)


def _sqlite_pragmas(busy_timeout: float) -> Any:
    """A ``connect`` listener setting the per-connection pragmas on every pooled connection."""
    ms = max(0, int(busy_timeout * 1000))

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={ms}")
        cur.execute("PRAGMA synchronous=NORMAL")  # per connection, not stored in the file
        cur.close()

    return on_connect


def open_engine(url: str, *, create: bool = True, busy_timeout: float = 5.0) -> Engine:
    """Create an engine for ``url`` and bring its schema to the newest revision.

    SQLite: the folder is created, WAL journal mode and ``synchronous=NORMAL`` are set (a
    committed transaction survives a killed process; see the SQLite docs on WAL), foreign keys on,
    and a statement waits up to ``busy_timeout`` seconds for another process's write lock;
    writers queue on a file lock next to the database (:mod:`mixbot.store.writelock`), so
    the next one starts within a millisecond of a commit.
    ``create=False`` refuses to create a missing SQLite file (read-only commands).
    A file that is not a mixbot store (corrupt, another program's tables) is refused before
    anything is written to it.

    Raises:
        StoreError: corrupt, locked, read-only or unreachable database, or not a mixbot store.
    """
    try:
        u = make_url(url)
    except Exception as exc:
        raise StoreError(f"not a valid SQLAlchemy URL ({type(exc).__name__})") from None
    is_sqlite = u.get_backend_name() == "sqlite"
    path = _sqlite_file(u) if is_sqlite else None
    if path is not None:
        if not path.exists():
            if not create:
                raise StoreError(f"{describe(url)}: no store yet (run the bot first)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"{describe(url)}: cannot create folder {path.parent}: {exc.strerror}"
                ) from None
        elif path.is_dir():
            raise StoreError(f"{describe(url)}: is a folder, not a database file")
    engine: Engine | None = None
    try:
        connect_args: dict[str, Any] = {}
        if path is not None:  # a file shared by many bot processes: a prompt write lock
            connect_args["factory"] = connection_factory(path, busy_timeout)
        engine = create_engine(url, pool_pre_ping=not is_sqlite, connect_args=connect_args)
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
            with engine.connect() as conn:
                # refuse foreign files BEFORE switching to WAL (that rewrites the file header)
                _refuse_foreign(conn, url)
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                if mode != "wal":
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        migrate(engine)
    except StoreError:
        if engine is not None:
            engine.dispose()
        raise
    except (SQLAlchemyError, DBAPIError, OSError) as exc:
        if engine is not None:
            engine.dispose()
        raise _translate(exc, url) from None
    return engine


def _refuse_foreign(conn: Connection, url: str) -> set[str]:
    """The database's table names; StoreError when it holds tables but no Alembic version."""
    names = set(inspect(conn).get_table_names())
    if names and "alembic_version" not in names:
        raise StoreError(
            f"{describe(url)}: holds tables {sorted(names)[:5]} but is not a mixbot "
            "store; refusing to touch it (point database.url at another database)"
        )
    return names


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str | None:
    """The newest revision this mixbot's migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _revision(conn: Connection) -> str | None:
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest Alembic revision (creates it on an empty database).

    Nothing is written when the schema is already current (read-only databases still open).
    Otherwise the upgrade runs in one transaction holding the database's write lock (SQLite
    ``BEGIN IMMEDIATE``; a PostgreSQL advisory lock), so two bots starting together on a new
    database do not both try to create it.

    Raises:
        StoreError: the database holds tables but no Alembic version (not a mixbot store), or
            is at a revision this mixbot does not know (made by a newer mixbot).
    """
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    url = str(engine.url)
    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    known = {r.revision for r in script.walk_revisions()}

    def check(conn: Connection) -> str | None:
        _refuse_foreign(conn, url)
        rev = _revision(conn)
        if rev is not None and rev not in known:
            raise StoreError(
                f"{describe(url)}: schema revision {rev!r} is newer than this mixbot knows "
                f"(newest: {head!r}); upgrade mixbot"
            )
        return rev

    with engine.connect() as conn:
        if check(conn) == head:
            return
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "BEGIN IMMEDIATE"
            )  # pysqlite would run the DDL outside a transaction
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(724316001)"))
        if check(conn) == head:  # another process migrated while we waited for the lock
            return
        try:
            command.upgrade(_alembic_config(conn), "head")
        except CommandError as exc:
            raise StoreError(f"{describe(url)}: schema migration failed: {exc}") from None


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return _revision(conn)

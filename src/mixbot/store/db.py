"""Opening the store's database: URL resolution, SQLite pragmas, Alembic migration, clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from mixbot.errors import StoreError

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

    url = os.environ.get(URL_ENV) or config_url
    if not url:
        return default_url(mode)
    resolved, missing = resolve(url)
    if missing:
        raise StoreError(f"database.url needs environment variable(s) {', '.join(missing)}")
    try:
        make_url(resolved)
    except Exception as exc:
        raise StoreError(
            f"database.url is not a valid SQLAlchemy URL ({type(exc).__name__})"
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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def open_engine(url: str, *, create: bool = True) -> Engine:
    """Create an engine for ``url`` and bring its schema to the newest revision.

    SQLite: the folder is created, WAL journal mode and ``synchronous=NORMAL`` are set (a
    committed transaction survives a killed process; see the SQLite docs on WAL), foreign keys on.
    ``create=False`` refuses to create a missing SQLite file (read-only commands).

    Raises:
        StoreError: corrupt, locked, read-only or unreachable database, or not a mixbot store.
    """
    u = make_url(url)
    is_sqlite = u.get_backend_name() == "sqlite"
    if is_sqlite and u.database and u.database != ":memory:":
        path = Path(u.database)
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
    try:
        engine = create_engine(url, future=True, pool_pre_ping=not is_sqlite)
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
            with engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                if mode != "wal":
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        migrate(engine)
    except StoreError:
        raise
    except (SQLAlchemyError, DBAPIError, OSError) as exc:
        raise _translate(exc, url) from None
    return engine


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest Alembic revision (creates it on an empty database).

    Raises:
        StoreError: the database holds tables but no Alembic version: not a mixbot store.
    """
    from alembic import command
    from alembic.config import Config

    with engine.begin() as conn:
        names = set(inspect(conn).get_table_names())
        if names and "alembic_version" not in names:
            raise StoreError(
                f"{describe(str(engine.url))}: holds tables {sorted(names)[:5]} but is not a mixbot "
                "store; refusing to touch it"
            )
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

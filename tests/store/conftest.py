"""Store fixtures: every ``store_url`` test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``MIXBOT_TEST_PG_URL`` (``.ci/run`` starts a local server and sets it);
without it, or when the server does not answer, the PostgreSQL variants skip with the reason.
Each PostgreSQL test gets its own schema (``search_path`` set through the connection's
``options``), dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "MIXBOT_TEST_PG_URL"
PG_SKIP = f"{PG_ENV} not set (.ci/run sets it up)"


@pytest.fixture(autouse=True)
def _no_database_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own MIXBOT_DATABASE_URL must not leak into the store tests."""
    monkeypatch.delenv("MIXBOT_DATABASE_URL", raising=False)


def _pg_admin_url() -> str:
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.skip(PG_SKIP)
    return url


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[object]:
    """An engine on the test PostgreSQL database (skips when not configured or unreachable)."""
    url = _pg_admin_url()
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable server"
        engine.dispose()
        first = str(getattr(exc, "orig", exc)).strip().splitlines()
        pytest.skip(f"{PG_ENV} is set but the server does not answer: {first[0] if first else exc}")
    yield engine
    engine.dispose()


def _pg_schema_url(admin: object) -> Iterator[str]:
    from sqlalchemy import Engine

    assert isinstance(admin, Engine)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(os.environ[PG_ENV]).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'x.sqlite'}"
        return
    admin = request.getfixturevalue("pg_admin_engine")
    yield from _pg_schema_url(admin)

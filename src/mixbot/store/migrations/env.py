"""Alembic environment: mixbot runs migrations in code (see mixbot.store.db.migrate)."""

from __future__ import annotations

from alembic import context

from mixbot.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through mixbot.store.db.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

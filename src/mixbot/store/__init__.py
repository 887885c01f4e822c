"""The store: orders, fills, positions, trades, equity, checkpoints and the audit trail in a database.

SQLAlchemy 2.x Core over SQLite (embedded default, WAL mode) or any SQLAlchemy URL
(PostgreSQL for many bots sharing one store); the schema is versioned by Alembic
migrations in ``migrations/``. The rest of mixbot talks to :class:`~mixbot.store.repository.Store`.
"""

"""``bots.bar_base`` (where a --fresh session numbers its bars from) and the hash-chained
audit log: ``events.chain_seq/prev_hash/row_hash``, the head in
``bots.audit_seq/audit_head``, existing rows chained in id order, and a trigger refusing any
UPDATE of an audit row (see :mod:`mixbot.store.audit`).

A later migration that recreates ``events`` (SQLite batch "recreate") must create the
trigger again.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQLITE_TRIGGER = """
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE of events refused'); END
"""
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION mixbot_audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only: UPDATE of events row % refused', OLD.id;
END; $$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
FOR EACH ROW EXECUTE FUNCTION mixbot_audit_append_only()
"""


def _chain_existing(bind: sa.Connection) -> None:
    from mixbot.store.audit import GENESIS, row_digest

    bots = sa.table(
        "bots",
        sa.column("id"),
        sa.column("bot_id"),
        sa.column("mode"),
        sa.column("audit_seq"),
        sa.column("audit_head"),
    )
    events = sa.table(
        "events",
        sa.column("id"),
        sa.column("bot_pk"),
        sa.column("kind"),
        sa.column("message"),
        sa.column("data", sa.JSON),
        sa.column("bar_time", sa.DateTime),
        sa.column("created_at", sa.DateTime),
        sa.column("chain_seq"),
        sa.column("prev_hash"),
        sa.column("row_hash"),
    )
    for bot in bind.execute(sa.select(bots)).mappings().all():
        prev, seq = GENESIS, 0
        rows = bind.execute(
            sa.select(events).where(events.c.bot_pk == bot["id"]).order_by(events.c.id)
        ).mappings()
        for r in rows.all():
            seq += 1
            h = row_digest(
                bot["bot_id"],
                bot["mode"],
                seq,
                r["kind"],
                r["message"],
                r["data"],
                r["bar_time"],
                r["created_at"],
                prev,
            )
            bind.execute(
                sa.update(events)
                .where(events.c.id == r["id"])
                .values(chain_seq=seq, prev_hash=prev, row_hash=h)
            )
            prev = h
        if seq:
            bind.execute(
                sa.update(bots).where(bots.c.id == bot["id"]).values(audit_seq=seq, audit_head=prev)
            )


def upgrade() -> None:
    with op.batch_alter_table("bots") as batch:
        batch.add_column(sa.Column("audit_seq", sa.Integer, nullable=True))
        batch.add_column(sa.Column("audit_head", sa.String(64), nullable=True))
        batch.add_column(sa.Column("bar_base", sa.Integer, nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("chain_seq", sa.Integer, nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    bind = op.get_bind()
    _chain_existing(bind)
    if bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS events_append_only"
        + (" ON events" if op.get_bind().dialect.name == "postgresql" else "")
    )
    with op.batch_alter_table("events") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("chain_seq")
    with op.batch_alter_table("bots") as batch:
        batch.drop_column("bar_base")
        batch.drop_column("audit_head")
        batch.drop_column("audit_seq")

"""The notification outbox (one row per event, channel and destination); on SQLite the
event outbox's ``seq`` becomes AUTOINCREMENT, so a seq is never reused after rows are
deleted (``--fresh``): consumers' cursors and notification keys rely on it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("dest", sa.String(400), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("silent", sa.Boolean, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("next_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.Column("gave_up_at", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_notifications_bot_id", "notifications", ["bot_id"])
    op.create_index("ix_notifications_next_at", "notifications", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_next_at", "notifications")
    op.drop_index("ix_notifications_bot_id", "notifications")
    op.drop_table("notifications")

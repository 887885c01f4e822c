"""Round two: the event outbox with consumer cursors, the control channel, bots.pid/host.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bots") as batch:
        batch.add_column(sa.Column("pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("bot_id", "mode", "key", name="uq_outbox_bot_key"),
    )
    op.create_index("ix_outbox_bot_id", "outbox", ["bot_id"])
    op.create_table(
        "consumer_cursors",
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "control_commands",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("command", sa.String(16), nullable=False),
        sa.Column("args", sa.JSON, nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("taken_at", sa.DateTime, nullable=True),
        sa.Column("done_at", sa.DateTime, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
    )
    op.create_index("ix_control_commands_bot_id", "control_commands", ["bot_id"])


def downgrade() -> None:
    op.drop_table("control_commands")
    op.drop_table("consumer_cursors")
    op.drop_index("ix_outbox_bot_id", "outbox")
    op.drop_table("outbox")
    with op.batch_alter_table("bots") as batch:
        batch.drop_column("host")
        batch.drop_column("pid")

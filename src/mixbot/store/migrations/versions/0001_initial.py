"""Initial store: bots, orders, fills, positions, trades, equity, checkpoints, events.

Revision ID: 0001
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("config_file", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("feed_state", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("bot_id", "mode", name="uq_bots_bot_mode"),
    )
    fk: dict[str, Any] = {"nullable": False, "index": True}
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), **fk),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("broker_order_id", sa.String(64), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("qty_requested", sa.Float, nullable=False),
        sa.Column("price_requested", sa.Float, nullable=True),
        sa.Column("qty_filled", sa.Float, nullable=False),
        sa.Column("avg_fill_price", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_history", sa.JSON, nullable=False),
        sa.Column("bar_index", sa.Integer, nullable=False),
        sa.Column("bar_time", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("bot_pk", "tag", name="uq_orders_bot_tag"),
    )
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), **fk),
        sa.Column("order_tag", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("qty", sa.Float, nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("commission", sa.Float, nullable=False),
        sa.Column("fill_time", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("bot_pk", "order_tag", "seq", name="uq_fills_bot_tag_seq"),
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), **fk),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("qty", sa.Float, nullable=False),
        sa.Column("avg_price", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("bot_pk", "symbol", name="uq_positions_bot_symbol"),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), **fk),
        sa.Column("entry_tag", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("qty", sa.Float, nullable=False),
        sa.Column("entry_time", sa.DateTime, nullable=False),
        sa.Column("exit_time", sa.DateTime, nullable=False),
        sa.Column("entry_price", sa.Float, nullable=False),
        sa.Column("exit_price", sa.Float, nullable=False),
        sa.Column("pnl_gross", sa.Float, nullable=False),
        sa.Column("charges", sa.Float, nullable=False),
        sa.Column("pnl_net", sa.Float, nullable=False),
        sa.Column("exit_reason", sa.String(24), nullable=False),
        sa.Column("bars_held", sa.Integer, nullable=False),
        sa.UniqueConstraint("bot_pk", "entry_tag", name="uq_trades_bot_entry"),
    )
    op.create_table(
        "equity",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), **fk),
        sa.Column("bar_index", sa.Integer, nullable=False),
        sa.Column("bar_time", sa.DateTime, nullable=False),
        sa.Column("cash", sa.Float, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("in_market", sa.Integer, nullable=False),
        sa.UniqueConstraint("bot_pk", "bar_index", name="uq_equity_bot_bar"),
    )
    op.create_table(
        "checkpoints",
        sa.Column(
            "bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("bar_index", sa.Integer, nullable=False),
        sa.Column("bar_time", sa.DateTime, nullable=False),
        sa.Column("cash", sa.Float, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bot_pk", sa.Integer, sa.ForeignKey("bots.id", ondelete="CASCADE"), **fk),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("bar_time", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "events",
        "checkpoints",
        "equity",
        "trades",
        "positions",
        "fills",
        "orders",
        "bots",
    ):
        op.drop_table(name)

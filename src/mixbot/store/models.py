"""Table definitions (SQLAlchemy Core). Times are UTC, stored tz-naive; money in INR.

Every row carries ``bot_pk`` (the ``bots`` row of one bot id in one mode), so several
bots can share one database without seeing each other's rows.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

bots = Table(
    "bots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bot_id", String(64), nullable=False),
    Column("mode", String(16), nullable=False),  # paper | live
    Column("config_hash", String(64), nullable=False),
    Column("config_file", Text, nullable=False),
    Column("status", String(16), nullable=False),  # running | finished | stopped | error | halted
    Column("feed_state", String(16), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("last_heartbeat", DateTime, nullable=True),  # added by revision 0002
    Column("pid", Integer, nullable=True),  # revision 0003: OS process id of the running bot
    Column("host", String(255), nullable=True),  # revision 0003: host name of that process
    # revision 0005: the head of the bot's hash-chained audit log (see mixbot.store.audit)
    Column("audit_seq", Integer, nullable=True),
    Column("audit_head", String(64), nullable=True),
    # revision 0005: first bar index of a session started with --fresh (after the erased
    # session's bars, so a live bot's order tags never repeat)
    Column("bar_base", Integer, nullable=True),
    UniqueConstraint("bot_id", "mode", name="uq_bots_bot_mode"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("tag", String(64), nullable=False),  # mixbot's client order id (deterministic)
    Column("broker_order_id", String(64), nullable=True),
    Column("symbol", String(64), nullable=False),
    Column("role", String(24), nullable=False),  # entry | stop_loss | take_profit | <exit reason>
    Column("side", String(4), nullable=False),  # BUY | SELL
    Column("order_type", String(16), nullable=False),  # Market | Limit | Stop | StopLimit
    Column("qty_requested", Float, nullable=False),
    Column("price_requested", Float, nullable=True),
    Column("qty_filled", Float, nullable=False, default=0.0),
    Column("avg_fill_price", Float, nullable=True),
    Column(
        "status", String(16), nullable=False
    ),  # intent | Submitted | Accepted | Partial | Completed | ...
    Column("status_history", JSON, nullable=False),
    Column("bar_index", Integer, nullable=False),
    Column("bar_time", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("bot_pk", "tag", name="uq_orders_bot_tag"),
)

fills = Table(
    "fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("order_tag", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("side", String(4), nullable=False),
    Column("qty", Float, nullable=False),
    Column("price", Float, nullable=False),
    Column("commission", Float, nullable=False),
    Column("fill_time", DateTime, nullable=True),  # bar time of the fill, UTC
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("bot_pk", "order_tag", "seq", name="uq_fills_bot_tag_seq"),
)

positions = Table(
    "positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("symbol", String(64), nullable=False),
    Column("qty", Float, nullable=False),
    Column("avg_price", Float, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("bot_pk", "symbol", name="uq_positions_bot_symbol"),
)

trades = Table(
    "trades",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("entry_tag", String(64), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("qty", Float, nullable=False),
    Column("entry_time", DateTime, nullable=False),
    Column("exit_time", DateTime, nullable=False),
    Column("entry_price", Float, nullable=False),
    Column("exit_price", Float, nullable=False),
    Column("pnl_gross", Float, nullable=False),
    Column("charges", Float, nullable=False),
    Column("pnl_net", Float, nullable=False),
    Column("exit_reason", String(24), nullable=False),
    Column("bars_held", Integer, nullable=False),
    Column("exit_parts", Text, nullable=True),  # JSON list (mixbot.orders.exits), 0006
    UniqueConstraint("bot_pk", "entry_tag", name="uq_trades_bot_entry"),
)

equity = Table(
    "equity",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("bar_index", Integer, nullable=False),
    Column("bar_time", DateTime, nullable=False),
    Column("cash", Float, nullable=False),
    Column("value", Float, nullable=False),
    Column("in_market", Integer, nullable=False),
    UniqueConstraint("bot_pk", "bar_index", name="uq_equity_bot_bar"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True),
    Column("bar_index", Integer, nullable=False),  # last bar FULLY processed
    Column("bar_time", DateTime, nullable=False),
    Column("cash", Float, nullable=False),
    Column("state", JSON, nullable=False),  # broker positions/open orders, strategy and risk state
    Column("updated_at", DateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "bot_pk", Integer, ForeignKey("bots.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=True),
    Column("bar_time", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    # revision 0005: the hash chain (mixbot.store.audit); UPDATE is refused by a trigger
    Column("chain_seq", Integer, nullable=True),
    Column("prev_hash", String(64), nullable=True),
    Column("row_hash", String(64), nullable=True),
)

# ---------------------------------------------------------------- round two (revision 0003)
#: The event bus: one ordered table of typed events (``seq`` is the order). A bot writes an
#: event in the same transaction as the fact it reports where there is one; consumers read
#: ``seq > cursor`` and advance their own cursor (``consumer_cursors``), so after a crash an
#: event is neither lost nor delivered twice. ``bot_id``/``mode`` are plain columns (not a
#: foreign key) so that the supervisor can report on a bot that never registered.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("bot_id", String(64), nullable=False, index=True),
    Column("mode", String(16), nullable=False),
    Column("type", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("key", String(200), nullable=True),  # idempotency key: a fact reported once
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("bot_id", "mode", "key", name="uq_outbox_bot_key"),
    sqlite_autoincrement=True,  # a seq is never reused, also after rows are deleted (--fresh)
)

consumer_cursors = Table(
    "consumer_cursors",
    metadata,
    Column("consumer", String(128), primary_key=True),
    Column("last_seq", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

#: The control channel: commands (stop, pause, resume, panic, force_exit) for a running bot,
#: which its control thread reads at least every second and acknowledges.
control_commands = Table(
    "control_commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bot_id", String(64), nullable=False, index=True),
    Column("mode", String(16), nullable=False),
    Column("command", String(16), nullable=False),
    Column("args", JSON, nullable=True),
    Column("source", String(32), nullable=False),  # cli | supervisor | web | telegram
    Column("created_at", DateTime, nullable=False),
    Column("taken_at", DateTime, nullable=True),
    Column("done_at", DateTime, nullable=True),
    Column("result", Text, nullable=True),
)

# ---------------------------------------------------------------- notifications (revision 0004)
#: The notification outbox: one row per (bus event, channel, destination), rendered and
#: committed before it is sent, marked sent after. ``key`` (``<outbox seq>:<channel>:<dest>``)
#: is unique, so routing an event twice (a restart) adds nothing. Delivery retries at
#: ``next_at`` until ``sent_at`` is set or the row is older than the give-up age
#: (``gave_up_at``).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("event_seq", Integer, nullable=False),
    Column("bot_id", String(64), nullable=False, index=True),
    Column("channel", String(16), nullable=False),  # telegram | email
    Column("dest", String(400), nullable=False),  # chat id, or comma-joined addresses
    Column("event_type", String(32), nullable=False),
    Column("silent", Boolean, nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("next_at", DateTime, nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    Column("gave_up_at", DateTime, nullable=True),
    Column("last_error", Text, nullable=True),
)

"""Request and response schemas of the REST API (marshmallow, through apiflask; they make
the OpenAPI document at ``/api/v1/openapi.json``). Money in INR, quantities in shares,
times ISO-8601 strings in the bot's market time zone unless a field says UTC."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range, Regexp

DATE = Regexp(r"^\d{4}-\d{2}-\d{2}$", error="a date YYYY-MM-DD")


class TokenIn(Schema):
    username = String(required=True, validate=Length(1, 64))
    password = String(required=True, validate=Length(1, 1024))


class TokenOut(Schema):
    access_token = String(required=True)
    token_type = String(required=True)
    expires_in = Integer(required=True, metadata={"description": "seconds"})


class BotRow(Schema):
    """A dashboard row (see :func:`mixbot.web.fleet.dashboard_row`)."""

    bot_id = String(required=True)
    config_file = String()
    status = String(required=True)
    status_detail = String(allow_none=True)
    error = String(allow_none=True)
    mode = String(allow_none=True)
    venue = String(allow_none=True)
    data_source = String(allow_none=True)
    interval = String(allow_none=True)
    symbols = List(String())
    description = String(allow_none=True)
    running = Boolean()
    pid = Integer(allow_none=True)
    heartbeat_age_s = Float(allow_none=True)
    feed_state = String(allow_none=True)
    position_qty = Float()
    position_avg_price = Float(allow_none=True)
    today_pnl = Float()
    today_entries = Integer()
    trades_closed = Integer()
    realized_pnl_total = Float()
    value = Float(allow_none=True)
    last_bar_time = String(allow_none=True)
    bars_processed = Integer()
    halts = List(String())
    restarts = Integer()


class BotsOut(Schema):
    bots = List(Nested(BotRow), required=True)
    totals = Dict(keys=String(), values=Float(), required=True)


class BotDetail(Schema):
    row = Nested(BotRow, required=True)
    status = Dict(required=True, metadata={"description": "mixbot status --json of the bot"})


class Position(Schema):
    bot_id = String(required=True)
    symbol = String(required=True)
    qty = Float(required=True)
    avg_price = Float(required=True)


class Order(Schema):
    bot_id = String()
    tag = String()
    broker_order_id = String(allow_none=True)
    symbol = String()
    role = String()
    side = String()
    order_type = String()
    qty_requested = Float()
    price_requested = Float(allow_none=True)
    qty_filled = Float()
    avg_fill_price = Float(allow_none=True)
    status = String()
    bar_index = Integer()
    bar_time = String(allow_none=True, metadata={"description": "UTC"})
    created_at = String(metadata={"description": "UTC"})


class Trade(Schema):
    bot_id = String()
    symbol = String()
    side = String()
    qty = Float()
    entry_time = String(allow_none=True)
    exit_time = String(allow_none=True)
    entry_price = Float(allow_none=True)
    exit_price = Float(allow_none=True)
    pnl_gross = Float(allow_none=True)
    charges = Float(allow_none=True)
    pnl_net = Float(allow_none=True)
    exit_reason = String(allow_none=True)
    bars_held = Integer(allow_none=True)
    entry_tag = String(allow_none=True)


class TradesQuery(Schema):
    symbol = String(validate=Length(1, 64))
    date_from = String(data_key="from", validate=DATE)
    date_to = String(data_key="to", validate=DATE)


class PnlQuery(Schema):
    by = String(load_default="day", validate=OneOf(["day", "week", "month"]))


class PnlRow(Schema):
    period = String()
    bot_id = String()
    trades = Integer()
    wins = Integer()
    pnl_net = Float()
    charges = Float()


class EquityPoint(Schema):
    bar_index = Integer()
    time = String(allow_none=True)
    cash = Float()
    value = Float()
    drawdown_pct = Float(metadata={"description": "below the running peak, 0-100"})


class EventsQuery(Schema):
    after = Integer(load_default=0, validate=Range(min=0))
    limit = Integer(load_default=200, validate=Range(min=1, max=1000))


class BusEvent(Schema):
    seq = Integer()
    bot_id = String()
    mode = String()
    type = String()
    payload = Dict()
    created_at = String(metadata={"description": "UTC"})


class AuditRow(Schema):
    id = Integer()
    kind = String()
    message = String()
    at = String(allow_none=True)
    data = Raw(allow_none=True)


class LogOut(Schema):
    file = String()
    lines = List(String())


class Command(Schema):
    id = Integer()
    bot_id = String()
    command = String()
    taken = Boolean()
    result = String(allow_none=True)


class PanicIn(Schema):
    confirm = String(
        required=True,
        validate=Length(1, 64),
        metadata={"description": "the bot's id, typed again"},
    )
    reason = String(load_default="panic from the web GUI", validate=Length(1, 200))


class ConfigOut(Schema):
    bot_id = String()
    file = String()
    text = String()


class TextIn(Schema):
    text = String(required=True, validate=Length(0, 512 * 1024))


class ProblemOut(Schema):
    path = String()
    message = String()
    line = Integer(allow_none=True)
    column = Integer(allow_none=True)
    hint = String()
    severity = String()


class ValidateOut(Schema):
    ok = Boolean(required=True)
    problems = List(Nested(ProblemOut), required=True)


class SaveOut(Schema):
    ok = Boolean(required=True)
    file = String()
    backup = String(allow_none=True)
    running = Boolean(metadata={"description": "the bot runs: restart it to apply"})
    problems = List(Nested(ProblemOut))


class NewConfigIn(Schema):
    example = String(required=True, validate=Length(1, 128))
    bot_id = String(required=True, validate=Regexp(r"^[A-Za-z0-9_-]{1,32}$"))


class ExampleOut(Schema):
    name = String()
    description = String()


class BacktestIn(Schema):
    bot_id = String(required=True, validate=Length(1, 64))
    date_from = String(data_key="from", validate=DATE)
    date_to = String(data_key="to", validate=DATE)


class Job(Schema):
    id = String()
    bot_id = String()
    config_file = String()
    state = String()
    done = Integer()
    total = Integer()
    pct = Float(metadata={"description": "0-100"})
    started_at = String()
    finished_at = String(allow_none=True)
    error = String(allow_none=True)


class BacktestResult(Schema):
    job = Nested(Job)
    metrics = Dict()
    buy_and_hold = Dict()
    equity = List(Dict())
    trades = List(Nested(Trade))


class Chart(Schema):
    bars = Dict(metadata={"description": "time, open, high, low, close, volume arrays"})
    markers = List(Dict())
    lines = List(Dict())
    note = String(allow_none=True)


class Health(Schema):
    ok = Boolean()
    bots = Integer()


class ModelRow(Schema):
    """A registered model version (the row of `mixbot models`, with the report's verdict)."""

    bot_id = String()
    version = String(required=True, metadata={"description": "v0001, v0002, ..."})
    created = String(allow_none=True, metadata={"description": "UTC"})
    interval = String(allow_none=True)
    feature_set = String(allow_none=True)
    data = String(metadata={"description": "first .. last training bar date"})
    folds = Integer()
    members = Integer(metadata={"description": "ensemble members of the final model"})
    oos_trades = Integer(allow_none=True, metadata={"description": "out-of-sample"})
    oos_sharpe = Float(allow_none=True, metadata={"description": "out-of-sample, annualised"})
    oos_net_return_pct = Float(allow_none=True, metadata={"description": "out-of-sample, 0-100"})
    verdict = String(allow_none=True, metadata={"description": "the report's verdict line"})
    beats_buy_and_hold = Boolean(allow_none=True)
    beats_no_skill = Boolean(allow_none=True)
    stops = Dict(metadata={"description": "current ATR multipliers (adapted ones included)"})
    has_report = Boolean()
    has_png = Boolean()


class ModelDetail(Schema):
    bot_id = String(required=True)
    version = String(required=True)
    row = Nested(ModelRow, required=True)
    meta = Dict(required=True, metadata={"description": "meta.json without normalisations"})
    report = Dict(
        allow_none=True,
        metadata={"description": "report.json: the out-of-sample report (mixbot.ml.report)"},
    )

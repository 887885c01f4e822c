"""The REST API under ``/api/v1/``: the service layer's calls as JSON endpoints.

Authentication: ``POST /api/v1/auth/token`` (JSON ``username``, ``password``) returns a bearer
token; every other endpoint takes ``Authorization: Bearer <token>`` or the browser session
(whose writes need the ``X-CSRFToken`` header). Errors are JSON ``{"code", "message",
"detail"}``: 401 without credentials, 403 for a viewer's write, 404 for an unknown bot or
job, 409 for a conflict (a running bot, a backtest already running), 422 for invalid input.
Every action is audited in the bot's store with the user's name.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from apiflask import APIBlueprint, abort
from flask import current_app
from flask_login import current_user

from mixbot.errors import MixbotError
from mixbot.web import schemas as s
from mixbot.web.ext import failed_login, limiter, login_limit

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="mixbot")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "machine-readable, e.g. not_found"},
        "message": {"type": "string"},
        "detail": {"type": "object"},
    },
}
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "store_unavailable",
}
#: every endpoint but the token takes either credential (set on the spec in :func:`spec`)
SECURITY: list[dict[str, list[str]]] = [{"BearerAuth": []}, {"SessionCookie": []}]


def spec(doc: dict[str, Any]) -> dict[str, Any]:
    """apiflask spec callback: the security of every operation (none for the token)."""
    doc["security"] = SECURITY
    token = doc.get("paths", {}).get("/api/v1/auth/token", {}).get("post")
    if token is not None:
        token["security"] = []
    return doc


def error_body(error: Any) -> tuple[dict[str, Any], int, Any]:
    """apiflask's error processor: ``{"code", "message", "detail"}``."""
    code = CODES.get(error.status_code, "error")
    return (
        {"code": code, "message": str(error.message), "detail": error.detail or {}},
        error.status_code,
        error.headers,
    )


def mixbot_error(exc: Exception) -> tuple[dict[str, Any], int]:
    """A :class:`~mixbot.errors.MixbotError` escaping a view, as JSON: an unusable config or
    data file 422, an unusable store 503, anything else 500; the message says what and where
    (mixbot's messages carry no secret)."""
    from mixbot.errors import ConfigError, DataFileError, StoreError

    status = 500
    if isinstance(exc, ConfigError | DataFileError):
        status = 422
    elif isinstance(exc, StoreError):
        status = 503
    body = {"code": CODES.get(status, "error"), "message": str(exc), "detail": {}}
    return body, status


def fleet() -> Any:
    """The app's :class:`~mixbot.web.fleet.Fleet`."""
    return current_app.extensions["mixbot.fleet"]


def who() -> str:
    """The logged-in user's name."""
    return str(current_user.name)


def operator(view: Any) -> Any:
    """Refuse (403) a user without the operator role."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.can_act:
            abort(403, f"user {who()} is a viewer: this needs the operator role")
        return view(*args, **kwargs)

    return wrapped


def bot(bot_id: str) -> Any:
    """The bot ``bot_id`` (404 when the app serves none of that id)."""
    ref = fleet().get(bot_id)
    if ref is None:
        abort(404, f"no bot {bot_id!r} here (GET /api/v1/bots lists them)")
    return ref


def svc() -> Any:
    return fleet().service


def audit(ref: Any, kind: str, message: str, **data: Any) -> None:
    """Record an action in the bot's audit trail (when the bot has a store)."""
    try:
        store = svc().store(ref)
    except MixbotError:
        return
    if store is not None:
        store.event(kind, message, {"by": who(), "source": "web", **data})


@bp.before_request
def _login_required() -> None:
    from flask import request

    if request.endpoint == "api.token" or request.method == "OPTIONS":
        return
    if not current_user.is_authenticated:
        abort(401, "log in first: POST /api/v1/auth/token, then Authorization: Bearer <token>")


# ---------------------------------------------------------------------- auth
@bp.post("/auth/token")
@bp.input(s.TokenIn, arg_name="body")
@bp.output(s.TokenOut)
@bp.doc(summary="Get a bearer token", responses=[401, 429])
@limiter.limit(login_limit, deduct_when=failed_login)
def token(body: dict[str, Any]) -> Any:
    user = current_app.extensions["mixbot.users"].check(body["username"], body["password"])
    if user is None:
        abort(401, "wrong user name or password")
    tokens = current_app.extensions["mixbot.tokens"]
    return {
        "access_token": tokens.issue(user.name),
        "token_type": "bearer",
        "expires_in": tokens.expires_s,
    }


# ---------------------------------------------------------------------- reading
@bp.get("/bots")
@bp.output(s.BotsOut)
@bp.doc(summary="Every bot with its dashboard row, and totals", responses=[401])
def bots() -> Any:
    rows = fleet().rows()
    totals = {
        "bots": float(len(rows)),
        "running": float(sum(1 for r in rows if r.get("running"))),
        "today_pnl": round(sum(r.get("today_pnl", 0.0) or 0.0 for r in rows), 2),
        "realized_pnl_total": round(sum(r.get("realized_pnl_total", 0.0) or 0.0 for r in rows), 2),
        "open_positions": float(sum(1 for r in rows if r.get("position_qty"))),
    }
    return {"bots": rows, "totals": totals}


@bp.get("/bots/<bot_id>")
@bp.output(s.BotDetail)
@bp.doc(summary="A bot's status", responses=[401, 404])
def bot_status(bot_id: str) -> Any:
    ref = bot(bot_id)
    return {"row": fleet().row(ref, fresh=True), "status": svc().status(ref).to_dict()}


@bp.get("/bots/<bot_id>/positions")
@bp.output(s.Position(many=True))
@bp.doc(summary="Open positions", responses=[401, 404])
def positions(bot_id: str) -> Any:
    return svc().positions([bot(bot_id).file])


@bp.get("/bots/<bot_id>/orders")
@bp.output(s.Order(many=True))
@bp.doc(summary="Open orders", responses=[401, 404])
def orders(bot_id: str) -> Any:
    rows = svc().open_orders([bot(bot_id).file])
    return [_iso(o, "bar_time", "created_at") for o in rows]


def _iso(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    out = dict(row)
    for k in keys:
        v: Any = out.get(k)
        out[k] = v.isoformat() if v is not None and hasattr(v, "isoformat") else v
    return out


@bp.get("/bots/<bot_id>/trades")
@bp.input(s.TradesQuery, location="query", arg_name="q")
@bp.output(s.Trade(many=True))
@bp.doc(summary="Closed trades (filter by symbol and exit date)", responses=[401, 404])
def trades(bot_id: str, q: dict[str, Any]) -> Any:
    ref = bot(bot_id)
    return svc().trades([ref.file], q.get("symbol"), q.get("date_from"), q.get("date_to"))


@bp.get("/bots/<bot_id>/pnl")
@bp.input(s.PnlQuery, location="query", arg_name="q")
@bp.output(s.PnlRow(many=True))
@bp.doc(summary="Net PnL per day / week / month", responses=[401, 404])
def pnl(bot_id: str, q: dict[str, Any]) -> Any:
    return svc().pnl([bot(bot_id).file], q["by"])


@bp.get("/bots/<bot_id>/equity")
@bp.output(s.EquityPoint(many=True))
@bp.doc(summary="Equity curve with drawdown", responses=[401, 404])
def equity(bot_id: str) -> Any:
    points = svc().equity(bot(bot_id).file)
    peak = 0.0
    for p in points:
        peak = max(peak, p["value"])
        p["drawdown_pct"] = round((1.0 - p["value"] / peak) * 100.0, 4) if peak > 0 else 0.0
    return points


@bp.get("/bots/<bot_id>/events")
@bp.input(s.EventsQuery, location="query", arg_name="q")
@bp.output(s.BusEvent(many=True))
@bp.doc(summary="Bus events after a sequence number", responses=[401, 404])
def events(bot_id: str, q: dict[str, Any]) -> Any:
    rows = svc().bus_events(bot(bot_id).file, q["after"], q["limit"])
    return [_iso(r, "created_at") for r in rows]


@bp.get("/bots/<bot_id>/audit")
@bp.output(s.AuditRow(many=True))
@bp.doc(summary="Audit trail, newest last", responses=[401, 404])
def audit_trail(bot_id: str) -> Any:
    return svc().audit(bot(bot_id).file)[-500:]


@bp.get("/bots/<bot_id>/log")
@bp.output(s.LogOut)
@bp.doc(summary="Last 200 lines of the bot's log", responses=[401, 403, 404])
def log_tail(bot_id: str) -> Any:
    from pathlib import Path

    path = Path(bot(bot_id).cfg.logging.log_file)
    if not path.resolve().is_relative_to(Path.cwd().resolve()):
        abort(403, f"logging.log_file {path} is outside the folder mixbot serve runs in")
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 65536))
            lines = fh.read().decode("utf-8", "replace").splitlines()[-200:]
    except OSError:
        lines = []
    return {"file": str(path), "lines": lines}


@bp.get("/bots/<bot_id>/chart")
@bp.output(s.Chart)
@bp.doc(summary="Bars, trade markers and stop-loss / take-profit lines", responses=[401, 404])
def chart(bot_id: str) -> Any:
    from mixbot.web.charts import bot_chart

    ref = bot(bot_id)
    return bot_chart(svc(), ref)


# ---------------------------------------------------------------------- commands
def _command(bot_id: str, command: str, args: dict[str, Any] | None = None) -> Any:
    ref = bot(bot_id)
    res = svc().send(ref.file, command, args, source="web", user=who())
    return {
        "id": res.id,
        "bot_id": res.bot_id,
        "command": res.command,
        "taken": res.taken,
        "result": res.result,
    }


def _command_view(command: str, summary: str) -> None:
    def view(bot_id: str) -> Any:
        if command == "start":
            ref = bot(bot_id)
            if fleet().row(ref, fresh=True).get("running"):
                abort(409, f"bot {bot_id} is already running")
            # the supervisor takes start commands without an audit row of its own
            audit(ref, "start_requested", f"start requested by web user {who()}")
        return _command(bot_id, command)

    view.__name__ = f"cmd_{command}"
    route = command.replace("_", "-")
    bp.post(f"/bots/<bot_id>/{route}")(
        bp.output(s.Command)(
            bp.doc(summary=summary, responses=[401, 403, 404, 409])(operator(view))
        )
    )


for _cmd, _summary in (
    ("start", "Start the bot (the supervisor starts its process)"),
    ("stop", "Stop the bot after its current bar"),
    ("pause", "No new entries until resumed"),
    ("resume", "Undo pause"),
    ("force_exit", "Square off the position at market on the next bar"),
):
    _command_view(_cmd, _summary)


@bp.post("/bots/<bot_id>/panic")
@bp.input(s.PanicIn, arg_name="body")
@bp.output(s.Command)
@bp.doc(summary="Square off and halt (type the bot id to confirm)", responses=[401, 403, 404])
@operator
def panic(bot_id: str, body: dict[str, Any]) -> Any:
    ref = bot(bot_id)
    if body["confirm"].strip() != ref.bot_id:
        abort(422, f"type the bot id {ref.bot_id!r} in confirm to panic")
    reason = f"{body['reason']} (web user {who()})"
    if ref.mode != "live":
        return _command(bot_id, "panic", {"reason": reason})
    res = svc().panic(ref.file, reason=reason, source="web")
    audit(ref, "panic_requested", f"panic by web user {who()}: {res.result}")
    return {
        "id": res.id,
        "bot_id": res.bot_id,
        "command": "panic",
        "taken": True,
        "result": res.result,
    }


from mixbot.web import api_configs as _api_configs  # noqa: E402,F401  (more routes on bp)
from mixbot.web import models as _models  # noqa: E402,F401
from mixbot.web import stream as _stream  # noqa: E402,F401

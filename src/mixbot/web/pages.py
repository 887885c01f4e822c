"""The HTML pages: login, dashboard, bot page, config editor, new bot, backtests, models.

Pages are server-rendered (Jinja templates in ``webgui/templates``); their data comes from
the REST API through small scripts in ``webgui/static`` (no inline scripts: the CSP forbids
them), so the browser and the API show the same numbers; the models page is rendered on the
server by the functions of its endpoints (:mod:`mixbot.web.models`). plotly.js is served from
the installed ``plotly`` package at ``/vendor/plotly.min.js``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from mixbot.web.ext import failed_login, limiter, login_limit

bp = Blueprint("pages", __name__)


def _fleet() -> Any:
    return current_app.extensions["mixbot.fleet"]


def _safe_next(target: str | None) -> str:
    """Only a local path is a place to go after login (no open redirect)."""
    if not target:
        return url_for("pages.dashboard")
    parts = urlparse(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=failed_login)
def login() -> Any:
    error = None
    if request.method == "POST":
        users = current_app.extensions["mixbot.users"]
        user = users.check(request.form.get("username", ""), request.form.get("password", ""))
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong user name or password."
        return render_template("login.html", error=error), 401
    if not len(current_app.extensions["mixbot.users"]):
        error = "No user can log in: add web.users to the settings (see `mixbot web passwd`)."
    return render_template("login.html", error=error)


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    return redirect(url_for("pages.login"))


@bp.get("/")
@login_required
def dashboard() -> str:
    return render_template("dashboard.html")


def _bot_or_404(bot_id: str) -> Any:
    ref = _fleet().get(bot_id)
    if ref is None:
        abort(404)
    return ref


@bp.get("/bots/<bot_id>")
@login_required
def bot_page(bot_id: str) -> str:
    ref = _bot_or_404(bot_id)
    return render_template("bot.html", ref=ref)


@bp.get("/bots/<bot_id>/edit")
@login_required
def editor(bot_id: str) -> str:
    ref = _bot_or_404(bot_id)
    return render_template("editor.html", ref=ref)


@bp.get("/bots/<bot_id>/models")
@login_required
def models_page(bot_id: str) -> str:
    """The bot's ML models (``?version=v0002`` picks one; default the newest) and the
    selected version's out-of-sample report."""
    from mixbot.web.models import page

    ref = _bot_or_404(bot_id)
    return render_template("models.html", ref=ref, **page(ref, request.args.get("version")))


@bp.get("/bots/<bot_id>/trades.csv")
@login_required
def trades_csv(bot_id: str) -> Response:
    """The bot's closed trades as the CSV of `mixbot trades --csv`."""
    import io

    from mixbot.service.trades import write_trades

    ref = _bot_or_404(bot_id)
    buf = io.StringIO(newline="")
    write_trades(_fleet().service.trades([ref.file]), buf)
    resp = Response(buf.getvalue(), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f"attachment; filename={ref.bot_id}-trades.csv"
    return resp


@bp.get("/new")
@login_required
def new_bot() -> str:
    return render_template("new_bot.html")


@bp.get("/backtests")
@login_required
def backtests() -> str:
    return render_template("backtests.html", refs=_fleet().refs())


@bp.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    resp = send_file(path, mimetype="text/javascript", max_age=86400)
    return resp


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    can_act = bool(getattr(current_user, "can_act", False))
    return {"user": current_user, "can_act": can_act}


@bp.get("/schema/bot.schema.json")
@login_required
def bot_schema() -> Any:
    """The bot config schema the editor completes keys from (the one `mixbot validate` uses)."""
    from mixbot.config.schema import export_schema

    return export_schema()

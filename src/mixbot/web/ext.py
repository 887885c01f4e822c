"""Flask extensions shared by the app factory and the views (initialised per app by
:func:`mixbot.web.app.create_app`)."""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect


def _client_key() -> str:
    """Rate-limit key: the client's address, per app (tests run several apps)."""
    return f"{id(current_app._get_current_object())}:{get_remote_address()}"  # type: ignore[attr-defined]


csrf = CSRFProtect()
limiter = Limiter(_client_key, storage_uri="memory://")


def login_limit() -> str:
    """The app's ``web.login_rate_limit`` (failed logins per client address)."""
    return str(current_app.config["MIXBOT_LOGIN_LIMIT"])


def failed_login(resp: object) -> bool:
    """Only refused logins count against the limit."""
    return getattr(resp, "status_code", 0) == 401

"""The Flask app factory of the web GUI and REST API.

Security (every request): a login (Flask-Login session cookie, or ``Authorization: Bearer``
from ``POST /api/v1/auth/token``); CSRF protection (Flask-WTF) on every state-changing
request made with the session cookie, forms and ``fetch`` calls alike (the ``X-CSRFToken``
header; bearer-token requests carry no cookie and need none); failed logins rate-limited per
client address (Flask-Limiter); a Content-Security-Policy without inline scripts and
``X-Frame-Options: DENY``; session cookies HttpOnly, SameSite=Lax, and Secure when the
request came over HTTPS.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Flask, Request, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user

from mixbot.config.settings import is_loopback
from mixbot.errors import MixbotError
from mixbot.paths import REPO_ROOT
from mixbot.web.users import Tokens, Users, WebLogin

WEBGUI = REPO_ROOT / "webgui"
#: scripts and styles come from this server only; plotly.js sets inline styles on its SVG
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: endpoints that take a POST without a session: they are how one gets credentials
CSRF_EXEMPT = ("api.token",)


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies marked Secure exactly when the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request and request.is_secure) or super().get_cookie_secure(app)


def bearer_token(req: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    auth = req.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def create_app(
    fleet: Any,
    web: Any,
    env: dict[str, str] | None = None,
    testing: bool = False,
) -> Flask:
    """The app serving ``fleet`` (:class:`~mixbot.web.fleet.Fleet`).

    Args:
        fleet: the bots.
        web: the ``web`` settings (:class:`~mixbot.config.settings.WebSettings`).
        env: replaces ``os.environ`` for the ``${VAR}`` secrets (tests).
        testing: Flask's TESTING flag.

    Raises:
        ConfigError: the secret key is shorter than 32 characters.
    """
    from apiflask import APIFlask

    from mixbot.config.secrets import resolve
    from mixbot.errors import ConfigError

    app = APIFlask(
        "mixbot",
        title="mixbot REST API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path=None,
        template_folder=str(WEBGUI / "templates"),
        static_folder=str(WEBGUI / "static"),
    )
    key, missing = resolve(web.secret_key, env)
    if missing or not key:
        key = secrets.token_hex(32)  # loopback only (the server refuses a public bind)
        app.config["MIXBOT_EPHEMERAL_KEY"] = True
    elif len(key) < 32:
        raise ConfigError(
            "web.secret_key: the key is shorter than 32 characters; make one with "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    app.config.update(
        SECRET_KEY=key,
        TESTING=testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="mixbot_session",
        WTF_CSRF_CHECK_DEFAULT=False,  # checked below, skipping bearer-token requests
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1 << 20,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = _SessionInterface()
    app.config["MIXBOT_PUBLIC"] = not is_loopback(web.host)  # WebServer sets the bound one
    app.extensions["mixbot.fleet"] = fleet
    app.extensions["mixbot.users"] = Users(web.users, env)
    app.extensions["mixbot.tokens"] = Tokens(key, web.token_expires_s)
    app.extensions["mixbot.web"] = web
    _security(app, web)
    _register(app)
    return app


def _security(app: Flask, web: Any) -> None:
    from mixbot.web.ext import csrf, limiter

    app.config["MIXBOT_LOGIN_LIMIT"] = web.login_rate_limit
    csrf.init_app(app)
    limiter.init_app(app)
    lm = LoginManager(app)
    lm.session_protection = "basic"

    @lm.user_loader
    def _load(name: str) -> WebLogin | None:
        return app.extensions["mixbot.users"].get(name)  # type: ignore[no-any-return]

    @lm.request_loader
    def _from_bearer(req: Request) -> WebLogin | None:
        token = bearer_token(req)
        if token is None:
            return None
        name = app.extensions["mixbot.tokens"].name_of(token)
        return app.extensions["mixbot.users"].get(name) if name else None  # type: ignore[no-any-return]

    @lm.unauthorized_handler
    def _unauthorized() -> Any:
        from apiflask import abort

        if request.path.startswith("/api/") or request.path == "/metrics":
            abort(401, "log in first: POST /api/v1/auth/token, then Authorization: Bearer")
        return redirect(url_for("pages.login", next=request.full_path))

    @app.before_request
    def _spec_login() -> None:
        """The OpenAPI document is open on loopback (tools), else it needs a login."""
        if request.endpoint == "openapi.spec" and app.config.get("MIXBOT_PUBLIC", True):
            if not current_user.is_authenticated:
                from apiflask import abort

                abort(401, "log in first: the API description needs a login off loopback")

    @app.before_request
    def _csrf_check() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return
        if request.endpoint in CSRF_EXEMPT:
            return
        token = bearer_token(request)
        if token is not None and "_user_id" not in session:
            if app.extensions["mixbot.tokens"].name_of(token) is not None:
                return  # authenticated by the token alone: no cookie to forge with
        csrf.protect()

    @app.before_request
    def _clock() -> None:
        g.mixbot_t0 = time.perf_counter()

    @app.after_request
    def _headers(resp: Any) -> Any:
        t0 = g.get("mixbot_t0")
        if t0 is not None:  # the server's own time (benchmarks/web_api_load.py reads it)
            resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.2f}"
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        if current_user and getattr(current_user, "is_authenticated", False):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp


def _register(app: Any) -> None:
    from mixbot.web import api, metrics, pages

    app.security_schemes = {
        "BearerAuth": {"type": "http", "scheme": "bearer"},
        "SessionCookie": {"type": "apiKey", "in": "cookie", "name": "mixbot_session"},
    }
    app.config["HTTP_ERROR_SCHEMA"] = api.ERROR_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = api.ERROR_SCHEMA
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 422
    app.error_processor(api.error_body)
    app.register_error_handler(MixbotError, api.mixbot_error)
    app.spec_processor(api.spec)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(metrics.bp)

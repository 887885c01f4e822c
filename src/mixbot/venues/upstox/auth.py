"""Upstox login (OAuth 2.0 authorization-code flow) and the local token file.

Flow (https://upstox.com/developer/api-documentation/authentication):

1. open :func:`login_url` in a browser: ``GET {api}/v2/login/authorization/dialog?
   response_type=code&client_id=<API key>&redirect_uri=<redirect>&state=<random>``;
2. after login Upstox redirects to ``<redirect>?code=<code>&state=<state>``;
3. :func:`exchange_code` posts the code, form-encoded, to ``{api}/v2/login/authorization/token``
   (https://upstox.com/developer/api-documentation/get-token) and gets ``access_token``
   plus the user's profile. The code is single-use.

Token lifetime (get-token docs): a token is valid until the next 03:30 IST after it was made,
"regardless of the time it was generated" (8 PM Tuesday -> 03:30 Wednesday; 02:30 Wednesday ->
03:30 the same Wednesday): :func:`token_expiry`.

The token file (default ``~/.config/mixbot/upstox_token.json``, or ``$MIXBOT_UPSTOX_TOKEN_FILE``)
is JSON ``{"access_token", "issued_at", "expires_at", "user_id", "user_name"}`` (times ISO 8601
with offset), written atomically with mode 0600. App credentials come from the environment:
``UPSTOX_API_KEY``, ``UPSTOX_API_SECRET``, ``UPSTOX_REDIRECT_URI``.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import os
import secrets
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.errors import ConfigError
from mixbot.venues.upstox.http import hosts
from mixbot.venues.upstox.http.errors import LOGIN_HINT, TokenExpiredError, UpstoxError

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
TOKEN_FILE_ENV = "MIXBOT_UPSTOX_TOKEN_FILE"
DIALOG_PATH = "/v2/login/authorization/dialog"
TOKEN_PATH = "/v2/login/authorization/token"
EXPIRY_TIME = dt.time(3, 30)  # IST
WARN_WITHIN = dt.timedelta(minutes=30)


# -- expiry -------------------------------------------------------------------------------------


def _aware(t: dt.datetime) -> dt.datetime:
    """``t`` as an aware datetime; naive values are taken as UTC (mixbot's convention)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def token_expiry(issued_at: dt.datetime) -> dt.datetime:
    """When a token made at ``issued_at`` dies: the first 03:30 IST strictly after it.

    Args:
        issued_at: aware datetime, or naive UTC.

    Returns:
        An aware datetime in IST (Asia/Kolkata): 02:00 IST -> 03:30 the same day; 10:00 IST ->
        03:30 the next day; exactly 03:30 IST -> 03:30 the next day.
    """
    local = _aware(issued_at).astimezone(IST)
    expiry = dt.datetime.combine(local.date(), EXPIRY_TIME, IST)
    if local >= expiry:
        expiry = dt.datetime.combine(local.date() + dt.timedelta(days=1), EXPIRY_TIME, IST)
    return expiry


def current_token_expiry(now: dt.datetime | None = None) -> dt.datetime:
    """When the token a bot uses now dies: every Upstox token dies at the first 03:30 IST
    after it was made, so a token valid at ``now`` dies at the first 03:30 IST after ``now``
    (whether it came from ``$UPSTOX_ACCESS_TOKEN`` or the token file). Aware, IST."""
    return token_expiry(now or dt.datetime.now(dt.UTC))


# -- token file ---------------------------------------------------------------------------------


def token_path() -> Path:
    """The token file: ``$MIXBOT_UPSTOX_TOKEN_FILE`` or ``~/.config/mixbot/upstox_token.json``."""
    env = os.environ.get(TOKEN_FILE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "mixbot" / "upstox_token.json"


@dataclass(frozen=True)
class StoredToken:
    """An access token with its issue and expiry times (aware datetimes).

    ``warning`` is set by :func:`load_token` when less than 30 minutes remain.
    The token never appears in ``repr``.
    """

    access_token: str = field(repr=False)
    issued_at: dt.datetime
    expires_at: dt.datetime
    user_id: str | None = None
    user_name: str | None = None
    warning: str | None = None

    def remaining(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Time left before expiry (negative once expired)."""
        return self.expires_at - _aware(now or dt.datetime.now(dt.UTC))

    def to_json(self) -> dict[str, Any]:
        """The token file's JSON object."""
        return {
            "access_token": self.access_token,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "user_id": self.user_id,
            "user_name": self.user_name,
        }


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename), mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_token(
    access_token: str,
    issued_at: dt.datetime | None = None,
    *,
    user_id: str | None = None,
    user_name: str | None = None,
    path: Path | None = None,
) -> StoredToken:
    """Save a token (atomic write, mode 0600) with its expiry; returns what was stored.

    Args:
        access_token: the token.
        issued_at: when it was made (aware, or naive UTC); default now.
        user_id, user_name: from the token response, for messages.
        path: default :func:`token_path`.
    """
    if not access_token:
        raise ValueError("empty access token")
    issued = _aware(issued_at or dt.datetime.now(dt.UTC)).astimezone(IST)
    stored = StoredToken(
        access_token=access_token,
        issued_at=issued,
        expires_at=token_expiry(issued),
        user_id=user_id,
        user_name=user_name,
    )
    _write_private(path or token_path(), json.dumps(stored.to_json(), indent=2) + "\n")
    return stored


def load_token(
    path: Path | None = None,
    now: dt.datetime | None = None,
    warn_within: dt.timedelta = WARN_WITHIN,
) -> StoredToken:
    """Read the token file.

    Returns:
        The token; its ``warning`` says how long is left when under ``warn_within`` (also logged).

    Raises:
        FileNotFoundError: no token file.
        TokenExpiredError: the stored token has expired (03:30 IST passed).
        ConfigError: the file is not a token file.
    """
    p = path or token_path()
    text = p.read_text(encoding="utf-8")
    try:
        obj = json.loads(text)
        token = str(obj["access_token"])
        issued = dt.datetime.fromisoformat(obj["issued_at"])
        expires = (
            dt.datetime.fromisoformat(obj["expires_at"])
            if obj.get("expires_at")
            else token_expiry(issued)
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{p}: not an Upstox token file ({exc}); {LOGIN_HINT}") from None
    stored = StoredToken(
        token, _aware(issued), _aware(expires), obj.get("user_id"), obj.get("user_name")
    )
    left = stored.remaining(now)
    if left <= dt.timedelta(0):
        raise TokenExpiredError(
            f"the Upstox access token in {p} expired at "
            f"{stored.expires_at.astimezone(IST):%Y-%m-%d %H:%M} IST. {LOGIN_HINT}"
        )
    if left < warn_within:
        minutes = int(left.total_seconds() // 60)
        warning = (
            f"the Upstox access token expires in {minutes} min (at 03:30 IST); "
            "run `mixbot upstox login` soon"
        )
        log.warning(warning)
        stored = StoredToken(
            stored.access_token,
            stored.issued_at,
            stored.expires_at,
            stored.user_id,
            stored.user_name,
            warning,
        )
    return stored


# -- login --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppCredentials:
    """The Upstox app's API key, secret and registered redirect URI."""

    api_key: str
    api_secret: str = field(repr=False)
    redirect_uri: str


def credentials(need_secret: bool = True) -> AppCredentials:
    """App credentials from ``UPSTOX_API_KEY``, ``UPSTOX_API_SECRET``, ``UPSTOX_REDIRECT_URI``.

    Raises:
        ConfigError: naming every missing variable and where to find the values.
    """
    names = [hosts.API_KEY_ENV, hosts.REDIRECT_ENV] + ([hosts.API_SECRET_ENV] * need_secret)
    values = {n: os.environ.get(n, "").strip() for n in names}
    missing = [n for n in names if not values[n]]
    if missing:
        raise ConfigError(
            f"missing environment variable{'s' * (len(missing) > 1)} {', '.join(missing)}: "
            "set them (or put them in .env) from your app at "
            "https://account.upstox.com/developer/apps (API key, API secret, and the redirect "
            "URL exactly as registered)"
        )
    return AppCredentials(
        values[hosts.API_KEY_ENV],
        values.get(hosts.API_SECRET_ENV, ""),
        values[hosts.REDIRECT_ENV],
    )


def login_url(
    api_key: str, redirect_uri: str, state: str | None = None, base_url: str | None = None
) -> str:
    """The authorization dialog URL to open in a browser.

    ``{api}/v2/login/authorization/dialog?response_type=code&client_id=...&redirect_uri=...
    &state=...`` (https://upstox.com/developer/api-documentation/authentication).
    """
    query = {"response_type": "code", "client_id": api_key, "redirect_uri": redirect_uri}
    if state:
        query["state"] = state
    base = (base_url or hosts.api_base()).rstrip("/")
    return f"{base}{DIALOG_PATH}?{urllib.parse.urlencode(query)}"


def new_state() -> str:
    """A random ``state`` value for :func:`login_url` (checked on the way back)."""
    return secrets.token_urlsafe(16)


def extract_code(text: str, state: str | None = None) -> str:
    """The authorization code from a pasted redirect URL (``...?code=X&state=Y``) or a bare code.

    Raises:
        ConfigError: empty input, an error in the redirect, no code, or a ``state`` mismatch.
    """
    text = text.strip()
    if not text:
        raise ConfigError("no authorization code given")
    if "?" in text or "code=" in text or text.startswith(("http://", "https://")):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(text).query or text.split("?")[-1])
        if "error" in query:
            raise ConfigError(f"Upstox login failed: {query['error'][0]}")
        codes = query.get("code")
        if not codes or not codes[0]:
            raise ConfigError(f"no ?code= in {text[:80]!r}")
        got_state = query.get("state", [None])[0]
        if state is not None and got_state is not None and got_state != state:
            raise ConfigError("the redirect's state does not match this login: start again")
        return codes[0]
    return text


def exchange_code(
    code: str,
    creds: AppCredentials | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """Exchange an authorization code for an access token.

    ``POST {api}/v2/login/authorization/token``, form-encoded ``code, client_id, client_secret,
    redirect_uri, grant_type=authorization_code`` (no bearer token).

    Args:
        code: the single-use authorization code.
        creds: app credentials; default :func:`credentials`.
        client: an :class:`~mixbot.venues.upstox.http.client.UpstoxClient` (default: a new one).

    Returns:
        The response: ``access_token``, ``user_id``, ``user_name``, ``email``, ... (not
        enveloped in ``data``, per the docs; an enveloped answer is unwrapped).

    Raises:
        UpstoxError: refused (e.g. UDAPI100016 invalid credentials, a reused code).
    """
    from mixbot.venues.upstox.http.client import UpstoxClient

    creds = creds or credentials()
    own = client is None
    cl = client or UpstoxClient()
    try:
        body = cl.post(
            TOKEN_PATH,
            data={
                "code": code,
                "client_id": creds.api_key,
                "client_secret": creds.api_secret,
                "redirect_uri": creds.redirect_uri,
                "grant_type": "authorization_code",
            },
            auth=False,
        )
    finally:
        if own:
            cl.close()
    if isinstance(body, dict) and "access_token" not in body and isinstance(body.get("data"), dict):
        body = body["data"]
    if not isinstance(body, dict) or not body.get("access_token"):
        raise UpstoxError("the token answer has no access_token")
    return body


def login_with_code(
    code: str,
    creds: AppCredentials | None = None,
    client: Any = None,
    path: Path | None = None,
) -> StoredToken:
    """:func:`exchange_code` then :func:`save_token`; returns the stored token."""
    body = exchange_code(code, creds, client)
    return save_token(
        str(body["access_token"]),
        user_id=body.get("user_id"),
        user_name=body.get("user_name"),
        path=path,
    )


def listen_for_code(
    redirect_uri: str,
    state: str | None = None,
    timeout: float = 300.0,
    ready: threading.Event | None = None,
) -> str:
    """Serve one redirect on 127.0.0.1:<port of ``redirect_uri``> and return its ``code``.

    The redirect URI must be ``http://127.0.0.1:<port>/...`` or ``http://localhost:<port>/...``
    (as registered in the Upstox app). ``ready`` is set once the socket listens.

    Raises:
        ConfigError: the redirect URI is not a local http URL, the port is taken, the login
            failed, or nothing arrived within ``timeout`` seconds.
    """
    parts = urllib.parse.urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise ConfigError(
            f"--listen needs a local redirect URI like http://127.0.0.1:5055/callback, "
            f"not {redirect_uri!r}: register one in your Upstox app, or paste the code instead"
        )
    port = parts.port or 80
    want_path = parts.path or "/"
    result: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            url = urllib.parse.urlsplit(self.path)
            if url.path.rstrip("/") != want_path.rstrip("/"):
                self.send_error(404)
                return
            try:
                result["code"] = extract_code(self.path, state)
                msg, status = "mixbot: Upstox login received, you can close this tab.", 200
            except ConfigError as exc:
                result["error"] = str(exc)
                msg, status = f"mixbot: {exc}", 400
            body = msg.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # no code in the logs
            return

    try:
        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc}") from None
    server.timeout = 1.0
    if ready is not None:
        ready.set()
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
    try:
        while not result and dt.datetime.now(dt.UTC) < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if "code" in result:
        return result["code"]
    if "error" in result:
        raise ConfigError(result["error"])
    raise ConfigError(f"no login redirect arrived within {timeout:.0f} s")

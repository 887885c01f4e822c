"""Host settings (``config/mixbot.json``): their JSON Schema, validation and typed form.

``mixbot validate`` recognises a settings file (named ``mixbot.json``, or with a
``supervisor`` / ``web`` / ``telegram`` / ``email`` / ``notifications`` section and none of a
bot config's sections) and validates it against ``settings.schema.json`` with the same
``file:line:col`` problems as a bot config; an enabled channel whose ``${VAR}`` secrets are
not set is an error naming the variable (never its value).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mixbot.config.problems import Report
from mixbot.errors import ConfigError

SETTINGS_SCHEMA_FILE = "settings.schema.json"
#: ``mixbot serve`` reads this file when it exists and no ``--settings`` is given.
DEFAULT_SETTINGS = Path("config/mixbot.json")


@lru_cache(maxsize=1)
def settings_schema() -> dict[str, Any]:
    """The packaged host-settings schema (callers must not mutate it)."""
    text = resources.files("mixbot.config").joinpath(SETTINGS_SCHEMA_FILE).read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def is_settings_file(path: str | Path) -> bool:
    """True when ``path`` looks like host settings rather than a bot config."""
    p = Path(path)
    if p.name == DEFAULT_SETTINGS.name:
        return True
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    bot_keys = ("bot_id", "strategy", "trading", "data", "broker")
    return (
        isinstance(doc, dict)
        and not any(k in doc for k in bot_keys)
        and any(k in doc for k in ("supervisor", "web", "telegram", "email", "notifications"))
    )


def validate_settings_file(path: str | Path, env: dict[str, str] | None = None) -> Report:
    """Validate a settings file; every problem as ``mixbot validate`` reports them.

    ``env`` replaces os.environ (plus ``.env``) for the ``${VAR}`` checks (tests)."""
    from mixbot.config.schema import fill_defaults
    from mixbot.config.source import read_source
    from mixbot.config.validate import _schema_problems

    src, problems = read_source(path)
    if src is None:
        return Report(str(path), problems)
    report = Report(str(path), problems + _schema_problems(src.doc, settings_schema(), src))
    if isinstance(src.doc, dict):
        report.effective = fill_defaults(src.doc, settings_schema())
        if report.ok:
            report.problems += list(_channel_problems(src, report.effective, env))
    return report


def _channel_problems(src: Any, eff: dict[str, Any], env: dict[str, str] | None) -> Any:
    """An enabled channel: its ``${VAR}`` references must be set; email needs recipients."""
    from mixbot.config.problems import Problem, json_path
    from mixbot.config.secrets import load_dotenv_once, resolve

    if env is None:
        load_dotenv_once()

    def problem(parts: tuple[str | int, ...], message: str, hint: str = "") -> Problem:
        line, col = src.locate(parts)
        return Problem(src.file, json_path(parts), message, line, col, hint)

    fields = {"telegram": ("bot_token",), "email": ("smtp_host", "smtp_user", "smtp_password")}
    for section, names in fields.items():
        sec = eff.get(section) or {}
        if not sec.get("enabled"):
            continue
        for name in names:
            value = sec.get(name)
            if not isinstance(value, str):
                continue
            for var in resolve(value, env)[1]:
                yield problem(
                    (section, name),
                    f"environment variable {var} is not set ({section}.{name})",
                    f"export {var}=... or put it in a git-ignored .env file",
                )
    yield from _web_problems(eff.get("web") or {}, problem, env)
    email = eff.get("email") or {}
    if email.get("enabled") and not email.get("to"):
        yield problem(("email",), "email is enabled but has no recipients", 'add "to": [...]')


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _web_problems(web: dict[str, Any], problem: Any, env: dict[str, str] | None) -> Any:
    """The ``web`` section: on a non-loopback host a secret key and a user are required
    (errors); a user whose hash variable is unset cannot log in (a warning)."""
    from mixbot.config.secrets import resolve

    if not web.get("enabled", True):
        return
    public = not is_loopback(str(web.get("host", "127.0.0.1")))
    users = web.get("users") or []
    if public and not users:
        yield problem(
            ("web", "users"),
            f"web.host {web.get('host')} is not a loopback address: at least one user is needed",
            "add a user (`mixbot web passwd` prints the hash) or bind 127.0.0.1",
        )
    for var in resolve(str(web.get("secret_key", "")), env)[1]:
        if public:
            yield problem(
                ("web", "secret_key"),
                f"environment variable {var} is not set (web.secret_key); a public address "
                "needs a secret key of 32+ characters",
                f"export {var}=$(python -c 'import secrets; print(secrets.token_hex(32))')",
            )
    for i, user in enumerate(users):
        for var in resolve(str(user.get("password_hash", "")), env)[1]:
            yield replace(
                problem(
                    ("web", "users", i, "password_hash"),
                    f"environment variable {var} is not set: user {user.get('name')!r} cannot "
                    "log in",
                    f'export {var}="$(mixbot web passwd)" or put it in a git-ignored .env',
                ),
                severity="warning",
            )


@dataclass(frozen=True)
class SupervisorSettings:
    """The ``supervisor`` section (seconds unless named otherwise; see the schema)."""

    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 60.0
    max_failures: int = 5
    failure_window_minutes: float = 10.0
    hang_after_s: float = 60.0
    stop_timeout_s: float = 10.0


@dataclass(frozen=True)
class TelegramUser:
    """One Telegram user of the host: numeric user id and role (``viewer``/``operator``)."""

    id: int
    role: str = "viewer"


@dataclass(frozen=True)
class TelegramSettings:
    """The ``telegram`` section. ``bot_token`` stays a ``${VAR}`` reference: resolve it with
    :func:`mixbot.config.secrets.resolve` where it is used, never log it."""

    enabled: bool = False
    bot_token: str = "${TELEGRAM_BOT_TOKEN}"
    users: tuple[TelegramUser, ...] = ()


@dataclass(frozen=True)
class EmailSettings:
    """The ``email`` section (``smtp_password`` a ``${VAR}`` reference or None; times are
    exchange-local HH:MM)."""

    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    sender: str = "mixbot@localhost"
    to: tuple[str, ...] = ()
    daily_summary_at: str = "16:00"


@dataclass(frozen=True)
class DeliverySettings:
    """The ``notifications`` section: retries of the notification outbox (seconds, hours)."""

    give_up_after_hours: float = 24.0
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0


@dataclass(frozen=True)
class WebUser:
    """One login of the web GUI / REST API: name, ``${VAR}`` reference to a werkzeug password
    hash (resolve it where it is checked, never log it) and role (``viewer``/``operator``)."""

    name: str
    password_hash: str
    role: str = "viewer"


@dataclass(frozen=True)
class WebSettings:
    """The ``web`` section (``secret_key`` a ``${VAR}`` reference; ``token_expires_s``
    seconds). ``present``: the settings file has a ``web`` section."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 5000
    secret_key: str = "${MIXBOT_WEB_SECRET}"
    token_expires_s: int = 3600
    login_rate_limit: str = "10 per minute"
    users: tuple[WebUser, ...] = ()
    present: bool = False


@dataclass(frozen=True)
class Settings:
    """Typed host settings."""

    file: str | None
    supervisor: SupervisorSettings
    notifications: DeliverySettings = field(default_factory=DeliverySettings)
    web: WebSettings = field(default_factory=WebSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    email: EmailSettings = field(default_factory=EmailSettings)


def _typed(path: str, eff: dict[str, Any], raw: dict[str, Any]) -> Settings:
    tg = dict(eff.get("telegram", {}))
    users = tuple(TelegramUser(int(u["id"]), u.get("role", "viewer")) for u in tg.pop("users", []))
    em = dict(eff.get("email", {}))
    em["sender"] = em.pop("from", EmailSettings.sender)
    em["to"] = tuple(em.get("to", ()))
    web = dict(eff.get("web", {}))
    web_users = tuple(WebUser(**u) for u in web.pop("users", []))
    return Settings(
        path,
        SupervisorSettings(**eff.get("supervisor", {})),
        DeliverySettings(**eff.get("notifications", {})),
        WebSettings(users=web_users, present="web" in raw, **web),
        TelegramSettings(users=users, **tg),
        EmailSettings(**em),
    )


def load_settings(path: str | Path | None) -> Settings:
    """The settings of ``path``; with None, ``config/mixbot.json`` when it exists, else the
    defaults.

    Raises:
        ConfigError: the file is missing (when named) or invalid (every problem listed).
    """
    if path is None:
        if not DEFAULT_SETTINGS.exists():
            return Settings(None, SupervisorSettings())
        path = DEFAULT_SETTINGS
    if not Path(path).exists():
        raise ConfigError(f"{path}: settings file not found (see `mixbot serve --help`)")
    report = validate_settings_file(path)
    if not report.ok or report.effective is None:
        lines = "\n".join(p.render() for p in report.errors)
        raise ConfigError(f"{path}: invalid settings ({len(report.errors)} error(s)):\n{lines}")
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return _typed(str(path), report.effective, raw)

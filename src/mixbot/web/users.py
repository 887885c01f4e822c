"""Users of the web GUI and REST API: password hashes, roles and bearer tokens.

Users come from the host settings' ``web.users`` (:class:`mixbot.config.settings.WebUser`);
each ``password_hash`` is a ``${VAR}`` reference to a werkzeug
:func:`~werkzeug.security.generate_password_hash` string, resolved here and never logged.
Roles: ``viewer`` reads, ``operator`` also acts. API bearer tokens are
:class:`itsdangerous.URLSafeTimedSerializer` signatures of the user name with the app's
secret key, valid ``token_expires_s`` seconds; the role is looked up on every request, so a
user removed from the settings loses access at the next restart of ``mixbot serve``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("viewer", "operator")
TOKEN_SALT = "mixbot-api-token"
#: verified against when the user name is unknown, so that a wrong name and a wrong password
#: take the same time
_DUMMY_HASH = generate_password_hash("not a password")


@dataclass(frozen=True)
class WebLogin:
    """A user as Flask-Login sees it (``get_id`` is the name)."""

    name: str
    role: str

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """The login name (stored in the session cookie)."""
        return self.name

    @property
    def can_act(self) -> bool:
        """True for operators (start, stop, panic, edit configs, run backtests)."""
        return self.role == "operator"


class Users:
    """The logins of one app.

    Args:
        users: :class:`~mixbot.config.settings.WebUser` entries; a user whose hash variable is
            unset cannot log in (``mixbot validate`` warns about it).
        env: replaces ``os.environ`` for the ``${VAR}`` references (tests).
    """

    def __init__(self, users: Any, env: dict[str, str] | None = None) -> None:
        from mixbot.config.secrets import load_dotenv_once, resolve

        if env is None:
            load_dotenv_once()
        self._hash: dict[str, str] = {}
        self._role: dict[str, str] = {}
        self.unusable: list[str] = []
        for u in users:
            value, missing = resolve(u.password_hash, env)
            if missing or not value:
                self.unusable.append(u.name)
                continue
            self._hash[u.name] = value
            self._role[u.name] = u.role

    def __len__(self) -> int:
        return len(self._hash)

    def get(self, name: str) -> WebLogin | None:
        """The user ``name``, or None when there is none (or it cannot log in)."""
        role = self._role.get(name)
        return WebLogin(name, role) if role else None

    def check(self, name: str, password: str) -> WebLogin | None:
        """The user when ``password`` matches its hash, else None (same cost either way)."""
        stored = self._hash.get(name)
        try:
            ok = check_password_hash(stored or _DUMMY_HASH, password)
        except ValueError:  # not a werkzeug hash (e.g. an unknown method): no login
            check_password_hash(_DUMMY_HASH, password)  # the same cost as a wrong password
            ok = False
        return self.get(name) if ok and stored else None


class Tokens:
    """Bearer tokens signed with the app's secret key.

    Args:
        secret_key: the app's secret key.
        expires_s: lifetime in seconds.
    """

    def __init__(self, secret_key: str, expires_s: int) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)
        self.expires_s = expires_s

    def issue(self, name: str) -> str:
        """A token for user ``name``."""
        return str(self._s.dumps({"u": name}))

    def name_of(self, token: str) -> str | None:
        """The user name a valid, unexpired token was issued to, else None."""
        try:
            data = self._s.loads(token, max_age=self.expires_s)
        except (BadSignature, SignatureExpired):
            return None
        name = data.get("u") if isinstance(data, dict) else None
        return name if isinstance(name, str) else None


def hash_password(password: str) -> str:
    """A werkzeug password hash (scrypt) for ``web.users[].password_hash``."""
    return generate_password_hash(password)

"""The web server inside ``mixbot serve``: waitress (a production WSGI server) in a thread.

:func:`check_bind` is the rule for public addresses: anything but loopback needs a secret
key of at least 32 characters and at least one user who can log in.
"""

from __future__ import annotations

import threading
from typing import Any

from mixbot.config.settings import is_loopback
from mixbot.errors import ConfigError

#: waitress worker threads: SSE streams hold one each for up to 25 s
THREADS = 16


def check_bind(host: str, web: Any, env: dict[str, str] | None = None) -> None:
    """Refuse a non-loopback ``host`` without a 32+ character secret key and a user.

    Raises:
        ConfigError: naming the missing piece and how to add it.
    """
    from mixbot.config.secrets import load_dotenv_once, resolve
    from mixbot.web.users import Users

    if is_loopback(host):
        return
    if env is None:
        load_dotenv_once()
    key, missing = resolve(web.secret_key, env)
    if missing or len(key) < 32:
        var = missing[0] if missing else web.secret_key
        raise ConfigError(
            f"web: refusing to serve on {host} (not loopback) without a secret key of 32+ "
            f"characters in {var}: export it "
            "(python -c 'import secrets; print(secrets.token_hex(32))') or bind 127.0.0.1"
        )
    if not len(Users(web.users, env)):
        raise ConfigError(
            f"web: refusing to serve on {host} (not loopback) without a user who can log in: "
            "add web.users with a password_hash from `mixbot web passwd` (and export it)"
        )


class WebServer:
    """The app served by waitress on ``host:port`` in a daemon thread.

    Raises (from :meth:`start`):
        ConfigError: a public address without a secret key or user; the port is taken.
    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        from waitress.server import create_server

        self.app.config["MIXBOT_PUBLIC"] = not is_loopback(self.host)
        try:
            self._server = create_server(
                self.app, host=self.host, port=self.port, threads=THREADS, ident="mixbot"
            )
        except OSError as exc:
            raise ConfigError(
                f"web: cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "pick another with --port or web.port"
            ) from None
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Close the listening socket and the open connections."""
        if self._server is not None:
            self._server.close()
            self._server = None

"""A local SMTP server for the notification tests: aiosmtpd on 127.0.0.1 with STARTTLS (a
trustme test CA, trusted through ``SSL_CERT_FILE``) and AUTH LOGIN/PLAIN required after TLS.
Real ``smtplib`` talks to it unchanged."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "bots@example.test", "s3cret-smtp-pass"


@dataclass
class Received:
    """One message the server accepted: envelope sender, recipients, parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool
    tls: bool


@dataclass
class Handler:
    """aiosmtpd handler keeping every accepted message."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content, policy=email.policy.default),
                bool(session.authenticated),
                server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 Message accepted for delivery"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpPeer:
    """The server: ``start()``/``stop()`` (may be restarted on the same port), ``received``.

    ``tmp``: folder for the CA file; sets nothing itself: callers point ``SSL_CERT_FILE`` at
    :attr:`ca_file`.
    """

    def __init__(self, tmp: Path, port: int | None = None, security: str = "starttls") -> None:
        self.security = security  # starttls | ssl (implicit TLS) | none (no TLS, no AUTH)
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = tmp / "smtp-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.tls)
        self.port = port or free_port()
        self.handler = Handler()
        self._ctl: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        if self.security == "none":
            self._ctl = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        elif self.security == "ssl":
            self._ctl = Controller(
                self.handler,
                hostname="127.0.0.1",
                port=self.port,
                ssl_context=self.tls,
                authenticator=_authenticator,
                auth_required=True,
                auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this is TLS from byte 1
                server_hostname="127.0.0.1",
            )
        else:
            self._ctl = Controller(
                self.handler,
                hostname="127.0.0.1",
                port=self.port,
                tls_context=self.tls,
                require_starttls=True,
                authenticator=_authenticator,
                auth_require_tls=True,
                auth_required=True,
                server_hostname="127.0.0.1",
            )
        self._ctl.start()

    def stop(self) -> None:
        if self._ctl is not None:
            self._ctl.stop()
            self._ctl = None

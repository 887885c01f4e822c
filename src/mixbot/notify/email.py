"""Email alerts through SMTP with the standard library (``smtplib``, ``email.message``).

``security``: ``starttls`` (a plain connection upgraded with STARTTLS, RFC 3207; port 587),
``ssl`` (implicit TLS, RFC 8314; port 465) or ``none`` (a local relay). TLS uses
``ssl.create_default_context()``: the server certificate is verified against the system's
CA store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` select another, as for every OpenSSL client).
AUTH (``smtp_user`` + ``smtp_password``) runs only after TLS unless ``security`` is ``none``.

Each message is plain text with an HTML alternative (``multipart/alternative``); its
``Message-ID`` is derived from the notification's idempotency key, so a message that a
crash made the outbox send twice carries the same id (mail clients fold it).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as _SMTP_POLICY
from email.utils import formatdate
from typing import Any

from mixbot.config.secrets import resolve
from mixbot.config.settings import EmailSettings
from mixbot.notify.channel import DeliveryError, scrub

#: CRLF line ends; headers folded only past RFC 5322's 998-character line limit (the
#: default 78 folds a long subject at its start, and readers then show a leading space).
_POLICY = _SMTP_POLICY.clone(max_line_length=998)


class EmailSender:
    """Sends notification rows by email.

    Args:
        settings: the host's ``email`` section; its ``${VAR}`` references are resolved from
            ``env`` (default: the environment) here, once.
        timeout_s: socket timeout of one SMTP session (seconds).
        attachments: row -> list of (file name, PNG bytes) to attach (the daily summary's
            equity curve); None: no attachments.
    """

    channel = "email"

    def __init__(
        self,
        settings: EmailSettings,
        env: dict[str, str] | None = None,
        timeout_s: float = 20.0,
        attachments: Callable[[dict[str, Any]], list[tuple[str, bytes]]] | None = None,
    ) -> None:
        self.settings = settings
        self.attachments = attachments
        self.timeout_s = timeout_s
        self._host = resolve(settings.smtp_host, env)[0]
        self._user = resolve(settings.smtp_user, env)[0] if settings.smtp_user else None
        self._password = resolve(settings.smtp_password, env)[0] if settings.smtp_password else None

    def __repr__(self) -> str:  # never the password
        s = self.settings
        return f"EmailSender({s.security}://{self._host}:{s.smtp_port})"

    def message(self, row: dict[str, Any]) -> EmailMessage:
        """The email of one notification row."""
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = self.settings.sender
        msg["To"] = row["dest"]
        msg["Subject"] = row["subject"]
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{row['key'].replace(':', '.')}.{row['bot_id']}@mixbot>"
        msg.set_content(row["text"])
        head, pre, rest = row["html"].partition("<pre>")  # line breaks outside the table
        body = head.replace("\n", "<br>\n") + pre + rest
        msg.add_alternative(
            f'<html><body style="font-family: sans-serif">{body}</body></html>', subtype="html"
        )
        for name, png in self.attachments(row) if self.attachments else ():
            msg.add_attachment(png, maintype="image", subtype="png", filename=name)
        return msg

    def send(self, row: dict[str, Any]) -> None:
        """Deliver one row in its own SMTP session.

        Raises:
            DeliveryError: connection, TLS, AUTH or a refused message (the server's code and
                reply; never the password).
        """
        s = self.settings
        try:
            ctx = ssl.create_default_context()
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self._host, s.smtp_port, timeout=self.timeout_s, context=ctx
                )
            else:
                smtp = smtplib.SMTP(self._host, s.smtp_port, timeout=self.timeout_s)
            try:
                if s.security == "starttls":
                    smtp.starttls(context=ctx)
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(self.message(row))
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPResponseException as exc:
            reply = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise DeliveryError(
                self._scrub(
                    f"SMTP {exc.smtp_code} {reply.splitlines()[0] if reply else ''} ({type(exc).__name__})"
                )
            ) from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise DeliveryError(self._scrub(f"{type(exc).__name__}: {exc} ({self!r})")) from None

    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from any error text."""
        return (self._password or "",)

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secrets())

"""Errors of the Upstox REST API, parsed from its error envelope.

Upstox answers every failure with (https://upstox.com/developer/api-documentation/error-codes)::

    {"status": "error",
     "errors": [{"error_code": "UDAPI100050", "message": "Invalid token used to access API",
                 "property_path": null, "invalid_value": null}]}

The camelCase spellings ``errorCode``/``propertyPath``/``invalidValue`` are deprecated but still
sent (sometimes alone); both are read. The mapping to mixbot's hierarchy:

* HTTP 401, or ``UDAPI100050`` ("Invalid token used to access API") -> :class:`TokenExpiredError`
  (access tokens die at 03:30 IST every day; the message says how to get a new one);
* HTTP 429, or ``UDAPI10005`` ("Too Many Request Sent") -> :class:`RateLimitedError` (temporary);
* HTTP 5xx and transport failures (connect/read errors, timeouts) -> :class:`UpstoxUnavailableError`
  (temporary);
* anything else (400, 403, 404, 422, ...) -> :class:`UpstoxError`, never retried.

Messages never contain the access token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mixbot.errors import ConfigError, MixbotError, TemporaryError

TOKEN_EXPIRED_CODE = "UDAPI100050"
RATE_LIMITED_CODE = "UDAPI10005"

#: What to tell the user when a token is dead or missing.
LOGIN_HINT = (
    "Upstox access tokens expire at 03:30 IST every day: run `mixbot upstox login` to get a new "
    "one (or set UPSTOX_ACCESS_TOKEN)"
)


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of the ``errors`` array of an Upstox error envelope."""

    error_code: str | None
    message: str | None
    property_path: str | None = None
    invalid_value: Any = None

    def render(self) -> str:
        """``"UDAPI100036: Invalid Input (property_path=..., invalid_value=...)"``."""
        text = f"{self.error_code}: {self.message}" if self.error_code else str(self.message or "")
        extra = []
        if self.property_path:
            extra.append(f"property_path={self.property_path}")
        if self.invalid_value is not None:
            extra.append(f"invalid_value={self.invalid_value!r}")
        return f"{text} ({', '.join(extra)})" if extra else text


def _pick(entry: Mapping[str, Any], snake: str, camel: str) -> Any:
    value = entry.get(snake)
    return entry.get(camel) if value is None else value


def parse_error_envelope(body: Any) -> list[ErrorDetail]:
    """The error entries of an Upstox error body (dict, JSON text or bytes); [] when none.

    Accepts snake_case and camelCase keys, and a lone ``{"errorCode": ..., "message": ...}``
    object (some gateways answer that way).
    """
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body or "null")
        except ValueError:
            return []
    if not isinstance(body, Mapping):
        return []
    raw = body.get("errors")
    if raw is None and ("error_code" in body or "errorCode" in body):
        raw = [body]
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    out: list[ErrorDetail] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        code = _pick(entry, "error_code", "errorCode")
        out.append(
            ErrorDetail(
                error_code=str(code) if code is not None else None,
                message=entry.get("message"),
                property_path=_pick(entry, "property_path", "propertyPath"),
                invalid_value=_pick(entry, "invalid_value", "invalidValue"),
            )
        )
    return out


class UpstoxError(MixbotError):
    """The Upstox API refused a request (or could not be reached: see the subclasses).

    Attributes:
        status: HTTP status code, or None when no response was received.
        error_code: Upstox code of the first error entry (e.g. ``"UDAPI100036"``), or None.
        message: human message of the first error entry (or a description of the failure).
        property_path, invalid_value: the offending input named by the first entry, if any.
        errors: every entry of the envelope.
        method, path: the request (path without host or query; never the token).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[ErrorDetail] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.errors = errors or []
        first = self.errors[0] if self.errors else None
        self.error_code = first.error_code if first else None
        self.message = (first.message if first and first.message else None) or message
        self.property_path = first.property_path if first else None
        self.invalid_value = first.invalid_value if first else None
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method and path else ""
        http = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"Upstox {where}{http}{message}")


class TokenExpiredError(UpstoxError):
    """The access token is invalid or expired (HTTP 401 / ``UDAPI100050``).

    The message says that the token died (daily at 03:30 IST) and to run ``mixbot upstox login``.
    """


class TokenMissingError(UpstoxError, ConfigError):
    """No access token: none given, ``UPSTOX_ACCESS_TOKEN`` unset and no token file."""


class RateLimitedError(UpstoxError, TemporaryError):
    """Too many requests (HTTP 429 / ``UDAPI10005``); retried with backoff by the client.

    Attributes:
        retry_after: seconds from the ``Retry-After`` header, or None (Upstox documents none).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class UpstoxUnavailableError(UpstoxError, TemporaryError):
    """Upstox is down or unreachable (HTTP 5xx, connection error, timeout); temporary.

    Attributes:
        retry_after: seconds from a ``Retry-After`` header (503), or None.
        request_sent: False when the request surely never reached Upstox (connect failure), so
            even a non-idempotent request may be retried.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request_sent: bool = True,
        **kw: Any,
    ) -> None:
        self.retry_after = retry_after
        self.request_sent = request_sent
        super().__init__(message, **kw)


class UnknownInstrumentError(UpstoxError, ConfigError):
    """A symbol or instrument key is not in the Upstox instruments master.

    Attributes:
        suggestions: close matches ("did you mean"), best first.
    """

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = suggestions or []
        super().__init__(message)


def error_for_status(
    status: int,
    body: Any,
    *,
    method: str | None = None,
    path: str | None = None,
    retry_after: float | None = None,
) -> UpstoxError:
    """The exception for an HTTP error response (``status`` >= 400) with body ``body``."""
    details = parse_error_envelope(body)
    codes = {d.error_code for d in details}
    text = "; ".join(d.render() for d in details) or _short_body(body) or "no error details"
    kw: dict[str, Any] = {"status": status, "errors": details, "method": method, "path": path}
    if status == 401 or TOKEN_EXPIRED_CODE in codes:
        return TokenExpiredError(
            f"the access token was refused ({text}): it is invalid or has expired. {LOGIN_HINT}",
            **kw,
        )
    if status == 429 or RATE_LIMITED_CODE in codes:
        return RateLimitedError(
            f"rate limit exceeded ({text}); slow down", retry_after=retry_after, **kw
        )
    if status >= 500:
        return UpstoxUnavailableError(
            f"server error ({text}); try again later", retry_after=retry_after, **kw
        )
    return UpstoxError(text, **kw)


def _short_body(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = " ".join(body.split())
        return text[:200] + ("..." if len(text) > 200 else "")
    if body is None:
        return ""
    return _short_body(json.dumps(body, default=str))

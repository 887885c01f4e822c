"""Upstox's JSON error envelope, as the simulator answers it.

Every error answer (HTTP 4xx/5xx) has the body::

    {"status": "error",
     "errors": [{"errorCode": "UDAPI100050", "message": "Invalid token used to access API",
                 "propertyPath": null, "invalidValue": null,
                 "error_code": "UDAPI100050", "property_path": null, "invalid_value": null}]}

i.e. the camelCase AND the snake_case spellings, like the real API. Codes used here:
``UDAPI100050`` (401, invalid/expired token), ``UDAPI10005`` (429, "Too Many Request Sent"),
``UDAPI100500`` (5xx), ``UDAPI100011`` (invalid instrument key), ``UDAPI100060`` (404,
unknown resource) and the candle validation codes of :mod:`.candles`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

INVALID_TOKEN = ("UDAPI100050", "Invalid token used to access API")
TOO_MANY = ("UDAPI10005", "Too Many Request Sent")
SERVER_ERROR = ("UDAPI100500", "Something went wrong, please try after sometime")


class ApiError(Exception):
    """An error answer: HTTP ``status`` with one Upstox error ``code``/``message``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        prop: str | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.prop = prop
        self.value = value

    def body(self) -> dict[str, Any]:
        return envelope(self.code, self.message, self.prop, self.value)

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status)


def envelope(code: str, message: str, prop: str | None = None, value: Any = None) -> dict[str, Any]:
    """The error envelope dict (both spellings of every field)."""
    err = {
        "errorCode": code,
        "message": message,
        "propertyPath": prop,
        "invalidValue": value,
        "error_code": code,
        "property_path": prop,
        "invalid_value": value,
    }
    return {"status": "error", "errors": [err]}


def envelope_text(code: str, message: str) -> str:
    """The envelope as JSON text (sent on the websocket as a TEXT frame)."""
    return json.dumps(envelope(code, message))

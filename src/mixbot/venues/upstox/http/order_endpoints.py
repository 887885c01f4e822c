"""Upstox order API endpoints and hosts: REST paths, the order / sandbox hosts and their
environment overrides.

Split out of :mod:`mixbot.venues.upstox.execution.orders`, which re-exports every name.

Endpoints (https://upstox.com/developer/api-documentation/, official SDK ``upstox-python``)
------------------------------------------------------------------------------------------

================  ======  ==========================================  ===========
call              method  path                                        host
================  ======  ==========================================  ===========
place             POST    ``/v3/order/place``                         order host
modify            PUT     ``/v3/order/modify``                        order host
cancel            DELETE  ``/v3/order/cancel?order_id=``              order host
order book        GET     ``/v2/order/retrieve-all``                  API host
order history     GET     ``/v2/order/history?order_id=&tag=``        API host
order details     GET     ``/v2/order/details?order_id=``             API host
trades (today)    GET     ``/v2/order/trades/get-trades-for-day``     API host
order trades      GET     ``/v2/order/trades?order_id=``              API host
positions         GET     ``/v2/portfolio/short-term-positions``      API host
holdings          GET     ``/v2/portfolio/long-term-holdings``        API host
funds             GET     ``/v2/user/get-funds-and-margin``           API host
================  ======  ==========================================  ===========

**Order host.** The v3 order docs send place/modify/cancel to ``https://api-hft.upstox.com``
and the SDK routes every path containing ``/order/place``, ``/order/modify`` or
``/order/cancel`` to ``Configuration.order_host = "https://api-hft.upstox.com"``. mixbot derives
it from the client's base URL (``MIXBOT_UPSTOX_API``): the production ``api.upstox.com`` becomes
``api-hft.upstox.com``; any other base (the local simulator) is used as it is.
``MIXBOT_UPSTOX_ORDER_API`` overrides it.

**Sandbox.** Upstox's sandbox (a separate "sandbox app" and its own token, 30-day validity)
covers only place / modify / cancel v3 ("Sandbox Enabled" on those pages); with
``sandbox=True`` those three go to ``$MIXBOT_UPSTOX_SANDBOX_API`` (default
``https://api-sandbox.upstox.com``, the SDK's sandbox host) with the sandbox token, and every
read goes to the normal host with the normal token (so reads do NOT see sandbox orders).

**Headers.** ``Authorization: Bearer``, ``Accept: application/json``, JSON body, and
``X-Algo-Name: <algo_name>`` on order calls when an algo name is configured (Upstox algo
circular: "pass the configured Algo Name in the X-Algo-Name request header").
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

PLACE_PATH = "/v3/order/place"
MODIFY_PATH = "/v3/order/modify"
CANCEL_PATH = "/v3/order/cancel"
ORDER_BOOK_PATH = "/v2/order/retrieve-all"
ORDER_HISTORY_PATH = "/v2/order/history"
ORDER_DETAILS_PATH = "/v2/order/details"
TRADES_PATH = "/v2/order/trades/get-trades-for-day"
ORDER_TRADES_PATH = "/v2/order/trades"
POSITIONS_PATH = "/v2/portfolio/short-term-positions"
HOLDINGS_PATH = "/v2/portfolio/long-term-holdings"
FUNDS_PATH = "/v2/user/get-funds-and-margin"

SANDBOX_ENV = "MIXBOT_UPSTOX_SANDBOX_API"
SANDBOX_TOKEN_ENV = "UPSTOX_SANDBOX_TOKEN"
ORDER_API_ENV = "MIXBOT_UPSTOX_ORDER_API"
DEFAULT_SANDBOX_API = "https://api-sandbox.upstox.com"
PRODUCTION_API_HOST = "api.upstox.com"
DEFAULT_ORDER_API = "https://api-hft.upstox.com"
ALGO_HEADER = "X-Algo-Name"


def order_base(api_base: str) -> str:
    """Base URL of place/modify/cancel: ``$MIXBOT_UPSTOX_ORDER_API``, else
    ``https://api-hft.upstox.com`` for the production API host, else ``api_base`` (simulator)."""
    env = os.environ.get(ORDER_API_ENV, "").strip()
    if env:
        return env.rstrip("/")
    if (urlsplit(api_base).hostname or "").lower() == PRODUCTION_API_HOST:
        return DEFAULT_ORDER_API
    return api_base.rstrip("/")


def sandbox_base() -> str:
    """Base URL of the sandbox order calls: ``$MIXBOT_UPSTOX_SANDBOX_API`` or the default."""
    return (os.environ.get(SANDBOX_ENV, "").strip() or DEFAULT_SANDBOX_API).rstrip("/")

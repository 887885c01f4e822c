"""The Upstox order REST API: place / modify / cancel (v3), order book, history, trades,
positions, holdings, funds; idempotent placement; order rules of the spec.

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

**Idempotency.** Upstox has no idempotency key. :meth:`OrderApi.place` sends exactly one
request per attempt (no client-level retry) and, when the answer is lost after the request may
have reached Upstox (timeout, connection dropped mid-request, 5xx, a 200 without order ids), it
looks the order up by its ``tag`` (order history by tag, then the order book): found -> returned
with ``recovered=True``; provably absent (every one of ``recheck_attempts`` look-ups, spaced by
``recheck_delay`` seconds, succeeded and found nothing) -> sent again, at most ``max_resends``
times; anything else -> :class:`OrderStateUnknownError` (never a blind resend). A 429
(``UDAPI10005``) means "not accepted": backed off and retried. A failure to connect means the
request never left: retried. 4xx are never retried. Every step is logged and returned in
``PlaceResult.steps`` for the audit trail.

Order statuses: Upstox -> Backtrader
------------------------------------

Upstox statuses come from its "Order status" appendix; a partly filled live order keeps
``open`` with ``filled_quantity > 0`` (-> ``Partial``).

======================================  ============  ====================================
Upstox ``status``                       Backtrader    note
======================================  ============  ====================================
put order req received                  Submitted     received by Upstox's OMS
validation pending                      Submitted     risk checks
open pending                            Submitted     sent to the exchange
after market order req received         Accepted      AMO parked until the open
modify after market order req received  Accepted
trigger pending                         Accepted      SL / SL-M waiting for the trigger
open                                    Accepted      Partial when filled_quantity > 0
modify validation pending               Accepted      (Partial when filled_quantity > 0)
modify pending                          Accepted      (Partial when filled_quantity > 0)
modified                                Accepted      (Partial when filled_quantity > 0)
not modified                            Accepted      modification refused, order alive
cancel pending                          Accepted      still live until the exchange agrees
not cancelled                           Accepted      cancel refused, order alive
complete                                Completed
cancelled                               Canceled      a partial fill stays in filled_quantity
cancelled after market order            Canceled
rejected                                Rejected
(anything else)                         Submitted     unknown: treated as live, logged
======================================  ============  ====================================
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from mixbot.venues.upstox.client import UpstoxClient
from mixbot.venues.upstox.errors import (
    RateLimitedError,
    TokenExpiredError,
    TokenMissingError,
    UpstoxError,
    UpstoxUnavailableError,
)
from mixbot.venues.upstox.ratelimit import MultiWindowLimiter, order_limiter

log = logging.getLogger(__name__)

PLACE_PATH = "/v3/order/place"
MODIFY_PATH = "/v3/order/modify"
CANCEL_PATH = "/v3/order/cancel"
ORDER_BOOK_PATH = "/v2/order/retrieve-all"
ORDER_HISTORY_PATH = "/v2/order/history"
ORDER_DETAILS_PATH = "/v2/order/details"
TRADES_PATH = "/v2/order/trades/get-trades-for-day"
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

SIDES = ("BUY", "SELL")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("I", "D")
VALIDITIES = ("DAY", "IOC")

#: The spec's order types: entries are LIMIT (LTP +/- a buffer), exits are MARKET.
ENTRY_ORDER_TYPE = "LIMIT"
EXIT_ORDER_TYPE = "MARKET"

# ----------------------------------------------------------------------------- statuses

#: Upstox order status (lower case) -> Backtrader status name (see the module table).
UPSTOX_TO_BT: dict[str, str] = {
    "put order req received": "Submitted",
    "validation pending": "Submitted",
    "open pending": "Submitted",
    "after market order req received": "Accepted",
    "modify after market order req received": "Accepted",
    "trigger pending": "Accepted",
    "open": "Accepted",
    "modify validation pending": "Accepted",
    "modify pending": "Accepted",
    "modified": "Accepted",
    "not modified": "Accepted",
    "cancel pending": "Accepted",
    "not cancelled": "Accepted",
    "complete": "Completed",
    "cancelled": "Canceled",
    "cancelled after market order": "Canceled",
    "rejected": "Rejected",
}

#: Backtrader statuses after which an order can change no more.
BT_FINAL = ("Completed", "Canceled", "Rejected", "Expired", "Margin")


def bt_status(upstox_status: str | None, filled_quantity: float = 0) -> str:
    """The Backtrader status name of an Upstox order status (see the module table).

    A live order (``Accepted``) with ``filled_quantity > 0`` is ``Partial``; an unknown status
    is logged and treated as live (``Submitted``), never as final.
    """
    key = " ".join(str(upstox_status or "").lower().split())
    status = UPSTOX_TO_BT.get(key)
    if status is None:
        log.warning("unknown Upstox order status %r: treated as Submitted", upstox_status)
        status = "Submitted"
    if status == "Accepted" and (filled_quantity or 0) > 0:
        return "Partial"
    return status


def order_bt_status(order: Mapping[str, Any]) -> str:
    """:func:`bt_status` of an Upstox order dict (``status``, ``filled_quantity``)."""
    return bt_status(order.get("status"), float(order.get("filled_quantity") or 0))


def is_open(order: Mapping[str, Any]) -> bool:
    """True when an Upstox order dict is still live (may fill or be cancelled)."""
    return order_bt_status(order) not in BT_FINAL


# ----------------------------------------------------------------------------- hosts


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


# ----------------------------------------------------------------------------- results


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AuditStep:
    """One step of an order call, for the audit trail (``at`` is UTC ISO 8601)."""

    action: str
    detail: dict[str, Any]
    at: str = field(default_factory=_now_iso)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "at": self.at, **self.detail}


@dataclass
class PlaceResult:
    """What :meth:`OrderApi.place` did.

    Attributes:
        order_ids: Upstox order ids (several when the order was sliced).
        tag: the order's tag.
        recovered: the answer was lost and the order was found by its tag afterwards.
        attempts: requests sent (429-refused ones included).
        latency_ms: Upstox's ``metadata.latency``, when answered.
        steps: the audit trail.
    """

    order_ids: list[str]
    tag: str
    recovered: bool = False
    attempts: int = 1
    latency_ms: int | None = None
    steps: list[AuditStep] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        """The first order id."""
        return self.order_ids[0]


@dataclass
class OrderAck:
    """Answer of :meth:`OrderApi.modify` / :meth:`OrderApi.cancel`.

    ``already_final`` (cancel): Upstox refused the cancel because the order had already
    reached ``final_status`` (complete / cancelled / rejected): nothing is left to cancel.
    """

    order_id: str
    latency_ms: int | None = None
    already_final: bool = False
    final_status: str | None = None
    steps: list[AuditStep] = field(default_factory=list)


class OrderStateUnknownError(UpstoxError):
    """A place request may have reached Upstox and whether the order exists could not be
    established (look-ups failed, or it stayed absent after the allowed resends).

    Nothing more is sent: reconcile from the order book (the order has ``tag``) before acting.

    Attributes:
        tag: the order's tag. steps: the audit trail.
    """

    def __init__(self, message: str, *, tag: str, steps: list[AuditStep]) -> None:
        self.tag = tag
        self.steps = steps
        super().__init__(message, method="POST", path=PLACE_PATH)


# ----------------------------------------------------------------------------- order rules


def round_to_tick(price: float, tick: float, direction: str = "nearest") -> float:
    """``price`` on the ``tick`` grid: ``"up"``, ``"down"`` or ``"nearest"`` (exact decimals)."""
    if tick <= 0:
        raise ValueError(f"tick must be > 0, not {tick}")
    rounding = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}.get(direction)
    if rounding is None:
        raise ValueError(f"direction must be up, down or nearest, not {direction!r}")
    t = Decimal(str(tick))
    # 9 decimals first: float noise (0.1 + 0.2 = 0.30000000000000004) must not cost a tick
    steps = (Decimal(str(round(price, 9))) / t).to_integral_value(rounding=rounding)
    return float(steps * t)


def entry_limit_price(ltp: float, side: str, buffer_pct: float, tick: float) -> float:
    """The LIMIT price of an entry (spec: ``ENTRY_LIMIT_PRICE_BUFFER_PCT``).

    BUY: ``ltp * (1 + buffer_pct/100)`` rounded UP to the tick; SELL: ``ltp * (1 -
    buffer_pct/100)`` rounded DOWN (rounding always against us, to favour the fill).
    ``buffer_pct`` is a percent number (0.05 = 0.05 %).

    Raises:
        ValueError: ltp/tick not > 0, buffer_pct < 0, unknown side, or a SELL price below a tick.
    """
    side = side.upper()
    if side not in SIDES:
        raise ValueError(f"side must be BUY or SELL, not {side!r}")
    if not (ltp > 0 and math.isfinite(ltp)):
        raise ValueError(f"ltp must be > 0, not {ltp}")
    if buffer_pct < 0:
        raise ValueError(f"buffer_pct must be >= 0, not {buffer_pct}")
    factor = Decimal(1) + (Decimal(str(buffer_pct)) / 100) * (1 if side == "BUY" else -1)
    raw = float(Decimal(str(ltp)) * factor)
    price = round_to_tick(raw, tick, "up" if side == "BUY" else "down")
    if price < tick:
        raise ValueError(f"SELL limit price {raw} is below one tick ({tick})")
    return price


def exit_side(position_qty: float) -> str:
    """The side that closes a net position: SELL a long, BUY a short."""
    if position_qty == 0:
        raise ValueError("a flat position has no exit side")
    return "SELL" if position_qty > 0 else "BUY"


class StuckAction(enum.Enum):
    """What to do with a pending order (see :class:`StuckOrderPolicy`)."""

    WAIT = "wait"
    CANCEL = "cancel"
    CANCEL_AND_REPLACE_MARKET = "cancel_and_replace_market"


@dataclass(frozen=True)
class StuckDecision:
    """A :class:`StuckOrderPolicy` decision; ``replace_qty``: quantity of the MARKET
    replacement (the unfilled rest) for ``CANCEL_AND_REPLACE_MARKET``, else 0."""

    action: StuckAction
    reason: str
    replace_qty: int = 0


@dataclass(frozen=True)
class StuckOrderPolicy:
    """The spec's stuck-order rules.

    * an EXIT pending longer than ``exit_timeout_s`` -> cancel it and send the unfilled rest
      again at MARKET (the position must be closed);
    * an ENTRY pending longer than ``entry_timeout_s`` -> cancel it (a partial fill is kept;
      the missed entry is not chased).

    "Pending" = Backtrader status Submitted / Accepted / Partial (not final).
    """

    exit_timeout_s: float
    entry_timeout_s: float

    def __post_init__(self) -> None:
        if self.exit_timeout_s <= 0 or self.entry_timeout_s <= 0:
            raise ValueError("stuck-order timeouts must be > 0 seconds")

    def decide(
        self,
        *,
        role: str,
        status: str,
        age_s: float,
        qty: float = 0,
        filled_qty: float = 0,
    ) -> StuckDecision:
        """Decide for one order.

        Args:
            role: ``"entry"`` or ``"exit"`` (a stop-loss / take-profit / square-off is an exit).
            status: the order's Backtrader status (see :func:`bt_status`).
            age_s: seconds since the order was sent.
            qty, filled_qty: ordered and filled quantities (for the replacement size).
        """
        if role not in ("entry", "exit"):
            raise ValueError(f"role must be entry or exit, not {role!r}")
        if status in BT_FINAL:
            return StuckDecision(StuckAction.WAIT, f"order is {status}: nothing to do")
        timeout = self.exit_timeout_s if role == "exit" else self.entry_timeout_s
        if age_s <= timeout:
            return StuckDecision(StuckAction.WAIT, f"{role} pending {age_s:.0f}s <= {timeout:.0f}s")
        if role == "exit":
            rest = max(0, int(round(qty - filled_qty)))
            return StuckDecision(
                StuckAction.CANCEL_AND_REPLACE_MARKET,
                f"exit pending {age_s:.0f}s > {timeout:.0f}s: cancel, re-send {rest} at MARKET",
                replace_qty=rest,
            )
        return StuckDecision(
            StuckAction.CANCEL, f"entry pending {age_s:.0f}s > {timeout:.0f}s: cancel"
        )


# ----------------------------------------------------------------------------- the API


def _data(resp: Any) -> Any:
    if isinstance(resp, Mapping) and "data" in resp:
        return resp["data"]
    return resp


def _latency(resp: Any) -> int | None:
    meta = resp.get("metadata") if isinstance(resp, Mapping) else None
    value = meta.get("latency") if isinstance(meta, Mapping) else None
    return int(value) if isinstance(value, int | float) else None


def _order_ids(resp: Any) -> list[str]:
    data = _data(resp)
    if not isinstance(data, Mapping):
        return []
    ids = data.get("order_ids")
    if isinstance(ids, list):
        return [str(i) for i in ids if i]
    one = data.get("order_id")
    return [str(one)] if one else []


def _err(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, UpstoxError):
        out["status"] = exc.status
        out["error_code"] = exc.error_code
    return out


class OrderApi:
    """Upstox orders and portfolio over an :class:`UpstoxClient`.

    Args:
        client: the REST client (its base URL and token; reads use its retries).
        algo_name: value of the ``X-Algo-Name`` header on order calls (None: not sent).
        registered_algo: the algo is exchange-registered: 50 orders/s instead of 10 (needs
            ``algo_name``).
        sandbox: send place/modify/cancel to the sandbox host with the sandbox token.
        sandbox_token: the sandbox token; default ``$UPSTOX_SANDBOX_TOKEN``.
        limiter: order-call limiter (default: :func:`ratelimit.order_limiter`).
        recheck_attempts, recheck_delay: look-ups by tag (and seconds between them) that must
            ALL find nothing before a lost place is sent again.
        max_resends: resends after a provably lost place (default 1).
        max_rate_limited: 429 answers tolerated per call before giving up.
        max_unavailable: connect failures (or 5xx on modify/cancel) retried per call.
        backoff_initial, backoff_max: exponential backoff bounds, seconds (jitter added).
        sleep: the sleep used for backoff and re-checks (tests).
        on_step: called with every :class:`AuditStep` as it happens (e.g. to store events).
    """

    def __init__(
        self,
        client: UpstoxClient,
        *,
        algo_name: str | None = None,
        registered_algo: bool = False,
        sandbox: bool = False,
        sandbox_token: str | None = None,
        limiter: MultiWindowLimiter | None = None,
        recheck_attempts: int = 3,
        recheck_delay: float = 1.0,
        max_resends: int = 1,
        max_rate_limited: int = 5,
        max_unavailable: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        on_step: Callable[[AuditStep], None] | None = None,
    ) -> None:
        if registered_algo and not algo_name:
            raise ValueError("registered_algo needs algo_name (sent as the X-Algo-Name header)")
        self.client = client
        self.algo_name = algo_name or None
        self.registered_algo = bool(registered_algo)
        self.sandbox = bool(sandbox)
        self._sandbox_token = sandbox_token
        self.limiter = limiter or order_limiter(self.registered_algo, sleep=sleep)
        self.recheck_attempts = max(1, int(recheck_attempts))
        self.recheck_delay = float(recheck_delay)
        self.max_resends = max(0, int(max_resends))
        self.max_rate_limited = max(0, int(max_rate_limited))
        self.max_unavailable = max(0, int(max_unavailable))
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.on_step = on_step

    def __repr__(self) -> str:  # never show a token
        return f"OrderApi(order_base={self.order_base!r}, sandbox={self.sandbox})"

    @property
    def order_base(self) -> str:
        """Base URL of place/modify/cancel."""
        return sandbox_base() if self.sandbox else order_base(self.client.base_url)

    # ------------------------------------------------------------------ plumbing

    def _step(self, steps: list[AuditStep], action: str, **detail: Any) -> AuditStep:
        step = AuditStep(action, detail)
        steps.append(step)
        level = logging.WARNING if action in _WARN_STEPS else logging.INFO
        log.log(level, "order %s %s", action, detail)
        if self.on_step is not None:
            try:
                self.on_step(step)
            except Exception:  # an audit sink must never break order handling
                log.exception("on_step callback failed for %s", action)
        return step

    def _backoff(self, n: int, retry_after: float | None = None) -> float:
        base = min(self.backoff_max, self.backoff_initial * 2 ** max(0, n - 1))
        delay = base / 2 + random.uniform(0, base / 2)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        return delay

    def _sandbox_auth(self) -> str:
        token = self._sandbox_token or os.environ.get(SANDBOX_TOKEN_ENV, "").strip()
        if not token:
            raise TokenMissingError(
                f"sandbox orders need the Upstox sandbox token: set {SANDBOX_TOKEN_ENV} "
                "(broker.sandbox_token) from the sandbox app at account.upstox.com/developer/apps"
            )
        return token

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """ONE request to the order host, no retry (the client's single-attempt primitive),
        counted by the order limiter and the client's own limiter."""
        self.limiter.acquire()
        url = f"{self.order_base}{path}"
        extra: dict[str, str] = {}
        if self.algo_name:
            extra[ALGO_HEADER] = self.algo_name
        if self.sandbox:
            extra["Authorization"] = f"Bearer {self._sandbox_auth()}"
            auth = False
        else:
            auth = True
        headers = self.client._headers(url, auth, extra)
        kw: dict[str, Any] = {}
        if json is not None:
            kw["json"] = json
        if params is not None:
            kw["params"] = dict(params)
        return self.client._once(method, url, headers, False, True, **kw)

    def _with_retries(
        self,
        what: str,
        method: str,
        path: str,
        steps: list[AuditStep],
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """An order call whose repetition is harmless (modify, cancel): 429 and temporary
        failures are retried with backoff; 4xx are not."""
        limited = unavailable = 0
        while True:
            try:
                return self._send_once(method, path, json=json, params=params)
            except RateLimitedError as exc:
                limited += 1
                self._step(steps, "rate_limited", call=what, n=limited, **_err(exc))
                if limited > self.max_rate_limited:
                    raise
                self._sleep(self._backoff(limited, exc.retry_after))
            except UpstoxUnavailableError as exc:
                unavailable += 1
                self._step(steps, "unavailable", call=what, n=unavailable, **_err(exc))
                if unavailable > self.max_unavailable:
                    raise
                self._sleep(self._backoff(unavailable, exc.retry_after))

    # ------------------------------------------------------------------ place

    @staticmethod
    def place_body(
        *,
        instrument_key: str,
        side: str,
        qty: int,
        order_type: str,
        product: str,
        validity: str = "DAY",
        price: float = 0,
        trigger_price: float = 0,
        tag: str,
        slice: bool = False,
        market_protection: float | None = None,
        is_amo: bool = False,
    ) -> dict[str, Any]:
        """The JSON body of ``POST /v3/order/place`` (validated).

        Raises:
            ValueError: a field is missing or inconsistent (no request is sent).
        """
        side, order_type = side.upper(), order_type.upper()
        product, validity = product.upper(), validity.upper()
        problems = []
        if not instrument_key or "|" not in instrument_key:
            problems.append(f"instrument_key {instrument_key!r} is not like NSE_EQ|INE...")
        if side not in SIDES:
            problems.append(f"side {side!r} not in {SIDES}")
        if order_type not in ORDER_TYPES:
            problems.append(f"order_type {order_type!r} not in {ORDER_TYPES}")
        if product not in PRODUCTS:
            problems.append(f"product {product!r} not in {PRODUCTS}")
        if validity not in VALIDITIES:
            problems.append(f"validity {validity!r} not in {VALIDITIES}")
        if int(qty) != qty or qty <= 0:
            problems.append(f"qty must be a whole number > 0, not {qty}")
        if order_type in ("LIMIT", "SL") and not price > 0:
            problems.append(f"a {order_type} order needs price > 0")
        if order_type in ("MARKET", "SL-M") and price:
            problems.append(f"a {order_type} order takes price 0, not {price}")
        if order_type in ("SL", "SL-M") and not trigger_price > 0:
            problems.append(f"a {order_type} order needs trigger_price > 0")
        if order_type in ("MARKET", "LIMIT") and trigger_price:
            problems.append(f"a {order_type} order takes trigger_price 0, not {trigger_price}")
        if not tag or not str(tag).strip():
            problems.append("tag is required (it is how a lost order is found again)")
        if problems:
            raise ValueError("invalid order: " + "; ".join(problems))
        body: dict[str, Any] = {
            "quantity": int(qty),
            "product": product,
            "validity": validity,
            "price": float(price),
            "tag": str(tag),
            "instrument_token": instrument_key,
            "order_type": order_type,
            "transaction_type": side,
            "disclosed_quantity": 0,
            "trigger_price": float(trigger_price),
            "is_amo": bool(is_amo),
            "slice": bool(slice),
        }
        if market_protection is not None:
            body["market_protection"] = market_protection
        return body

    def place(
        self,
        *,
        instrument_key: str,
        side: str,
        qty: int,
        order_type: str,
        product: str,
        validity: str = "DAY",
        price: float = 0,
        trigger_price: float = 0,
        tag: str,
        slice: bool = False,
        market_protection: float | None = None,
        is_amo: bool = False,
    ) -> PlaceResult:
        """Place an order (``POST /v3/order/place``), at most once (see the module doc).

        Returns:
            the order ids; ``recovered=True`` when found by tag after a lost answer.

        Raises:
            ValueError: invalid arguments (nothing sent).
            UpstoxError: refused (4xx, never retried); TokenExpiredError: token dead.
            RateLimitedError: still 429 after ``max_rate_limited`` backoffs (not placed).
            UpstoxUnavailableError: could not connect ``max_unavailable`` + 1 times (not placed).
            OrderStateUnknownError: the request may have arrived and the order could not be
                found nor proven absent (reconcile by tag before doing anything else).
        """
        body = self.place_body(
            instrument_key=instrument_key,
            side=side,
            qty=qty,
            order_type=order_type,
            product=product,
            validity=validity,
            price=price,
            trigger_price=trigger_price,
            tag=tag,
            slice=slice,
            market_protection=market_protection,
            is_amo=is_amo,
        )
        steps: list[AuditStep] = []
        attempts = limited = not_sent = resends = 0
        while True:
            attempts += 1
            self._step(
                steps,
                "send",
                tag=tag,
                attempt=attempts,
                url=f"{self.order_base}{PLACE_PATH}",
                body=body,
            )
            try:
                resp = self._send_once("POST", PLACE_PATH, json=body)
            except RateLimitedError as exc:
                limited += 1
                self._step(steps, "rate_limited", tag=tag, n=limited, **_err(exc))
                if limited > self.max_rate_limited:
                    self._step(steps, "give_up", tag=tag, why="still rate limited")
                    raise
                self._sleep(self._backoff(limited, exc.retry_after))
                continue
            except UpstoxUnavailableError as exc:
                if not exc.request_sent:
                    not_sent += 1
                    self._step(steps, "not_sent", tag=tag, n=not_sent, **_err(exc))
                    if not_sent > self.max_unavailable:
                        self._step(steps, "give_up", tag=tag, why="cannot connect")
                        raise
                    self._sleep(self._backoff(not_sent, exc.retry_after))
                    continue
                self._step(steps, "ambiguous", tag=tag, **_err(exc))
            except UpstoxError as exc:
                self._step(steps, "refused", tag=tag, **_err(exc))
                raise
            else:
                ids = _order_ids(resp)
                if ids:
                    latency = _latency(resp)
                    self._step(steps, "accepted", tag=tag, order_ids=ids, latency_ms=latency)
                    return PlaceResult(ids, tag, False, attempts, latency, steps)
                self._step(steps, "ambiguous", tag=tag, error="no order ids in the answer")
            # the request may have reached Upstox: find it by tag, never resend blindly
            found = self._recover(tag, steps)
            if found:
                self._step(steps, "recovered", tag=tag, order_ids=found)
                return PlaceResult(found, tag, True, attempts, None, steps)
            if resends >= self.max_resends:
                self._step(steps, "give_up", tag=tag, why="not found and no resend left")
                raise OrderStateUnknownError(
                    f"order {tag!r}: the answer was lost, the order is not in the order book and "
                    f"{resends} resend(s) are used up; nothing more is sent",
                    tag=tag,
                    steps=steps,
                )
            resends += 1
            self._step(steps, "resend", tag=tag, n=resends, why="provably not received")

    def find_by_tag(self, tag: str) -> list[dict[str, Any]]:
        """Today's orders carrying ``tag``: order history by tag, else the order book.

        A 4xx answer of the history call is taken as "no such tag" (the order book, which
        must answer, then decides); any failure of the order book call propagates.
        """
        orders: list[dict[str, Any]] = []
        try:
            history = self.order_history(tag=tag)
        except (TokenExpiredError, TokenMissingError, RateLimitedError, UpstoxUnavailableError):
            raise
        except UpstoxError as exc:
            log.info("order history by tag %r: %s; checking the order book", tag, exc)
            history = []
        for entry in history:
            if str(entry.get("tag") or tag) == tag and entry.get("order_id"):
                orders.append(entry)
        if not orders:
            orders = [o for o in self.order_book() if str(o.get("tag") or "") == tag]
        latest: dict[str, dict[str, Any]] = {}
        for o in orders:  # history lists every status change: keep each order's last row
            latest[str(o["order_id"])] = o
        return list(latest.values())

    def _recover(self, tag: str, steps: list[AuditStep]) -> list[str]:
        """Order ids found by ``tag`` (recovered), or [] when PROVEN absent.

        Raises:
            OrderStateUnknownError: look-ups failed too often to prove anything.
        """
        clean = failures = 0
        while clean < self.recheck_attempts:
            if clean or failures:
                self._sleep(self.recheck_delay)
            try:
                found = self.find_by_tag(tag)
            except UpstoxError as exc:
                failures += 1
                self._step(steps, "lookup_failed", tag=tag, n=failures, **_err(exc))
                if isinstance(exc, TokenExpiredError | TokenMissingError) or (
                    failures > self.recheck_attempts
                ):
                    self._step(steps, "give_up", tag=tag, why="cannot look the order up")
                    raise OrderStateUnknownError(
                        f"order {tag!r}: the answer was lost and the order book cannot be read "
                        f"({exc}); nothing more is sent: check the order book",
                        tag=tag,
                        steps=steps,
                    ) from exc
                continue
            if found:
                statuses = {str(o["order_id"]): o.get("status") for o in found}
                self._step(steps, "found", tag=tag, orders=statuses)
                return list(statuses)
            clean += 1
            self._step(steps, "not_found", tag=tag, check=clean, of=self.recheck_attempts)
        return []

    # ------------------------------------------------------------------ modify / cancel

    def modify(
        self,
        order_id: str,
        *,
        order_type: str,
        price: float = 0,
        trigger_price: float = 0,
        validity: str = "DAY",
        qty: int | None = None,
        market_protection: float | None = None,
    ) -> OrderAck:
        """Modify an open order (``PUT /v3/order/modify``); retried on 429 / temporary failures
        (setting the same values twice is harmless).

        Raises:
            ValueError: invalid arguments. UpstoxError: refused (e.g. the order is complete).
        """
        order_type, validity = order_type.upper(), validity.upper()
        if order_type not in ORDER_TYPES:
            raise ValueError(f"order_type {order_type!r} not in {ORDER_TYPES}")
        if validity not in VALIDITIES:
            raise ValueError(f"validity {validity!r} not in {VALIDITIES}")
        if not order_id:
            raise ValueError("order_id is required")
        body: dict[str, Any] = {
            "order_id": str(order_id),
            "order_type": order_type,
            "validity": validity,
            "price": float(price),
            "trigger_price": float(trigger_price),
            "disclosed_quantity": 0,
        }
        if qty is not None:
            body["quantity"] = int(qty)
        if market_protection is not None:
            body["market_protection"] = market_protection
        steps: list[AuditStep] = []
        self._step(steps, "modify", order_id=order_id, body=body)
        try:
            resp = self._with_retries("modify", "PUT", MODIFY_PATH, steps, json=body)
        except UpstoxError as exc:
            self._step(steps, "modify_failed", order_id=order_id, **_err(exc))
            raise
        self._step(steps, "modified", order_id=order_id, latency_ms=_latency(resp))
        return OrderAck(str(order_id), _latency(resp), steps=steps)

    def cancel(self, order_id: str) -> OrderAck:
        """Cancel an order (``DELETE /v3/order/cancel``); retried on 429 / temporary failures.

        When Upstox refuses because the order already reached a final status (complete,
        cancelled, rejected: checked with :meth:`order_details`), returns
        ``already_final=True`` instead of raising.
        """
        if not order_id:
            raise ValueError("order_id is required")
        steps: list[AuditStep] = []
        self._step(steps, "cancel", order_id=order_id)
        try:
            resp = self._with_retries(
                "cancel", "DELETE", CANCEL_PATH, steps, params={"order_id": str(order_id)}
            )
        except (TokenExpiredError, TokenMissingError, RateLimitedError, UpstoxUnavailableError):
            raise
        except UpstoxError as exc:
            try:
                details = self.order_details(order_id)
            except UpstoxError:
                details = None
            status = order_bt_status(details) if isinstance(details, Mapping) else None
            if status in BT_FINAL:
                self._step(steps, "already_final", order_id=order_id, bt_status=status, **_err(exc))
                return OrderAck(str(order_id), None, True, status, steps)
            self._step(steps, "cancel_failed", order_id=order_id, **_err(exc))
            raise
        self._step(steps, "cancelled", order_id=order_id, latency_ms=_latency(resp))
        return OrderAck(str(order_id), _latency(resp), steps=steps)

    # ------------------------------------------------------------------ reads (normal host)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return _data(self.client.get(path, params=params))

    def order_book(self) -> list[dict[str, Any]]:
        """Today's orders (``GET /v2/order/retrieve-all``), latest status of each."""
        return list(self._get(ORDER_BOOK_PATH) or [])

    def order_history(
        self, order_id: str | None = None, tag: str | None = None
    ) -> list[dict[str, Any]]:
        """Status progression of an order by id and/or of every order with ``tag``
        (``GET /v2/order/history``)."""
        if not order_id and not tag:
            raise ValueError("order_history needs order_id or tag")
        params: dict[str, str] = {}
        if order_id:
            params["order_id"] = str(order_id)
        if tag:
            params["tag"] = str(tag)
        return list(self._get(ORDER_HISTORY_PATH, params) or [])

    def order_details(self, order_id: str) -> dict[str, Any]:
        """Latest status of one order (``GET /v2/order/details``)."""
        data = self._get(ORDER_DETAILS_PATH, {"order_id": str(order_id)})
        return dict(data or {})

    def trades_for_day(self) -> list[dict[str, Any]]:
        """Today's fills (``GET /v2/order/trades/get-trades-for-day``)."""
        return list(self._get(TRADES_PATH) or [])

    def positions(self) -> list[dict[str, Any]]:
        """Short-term (intraday + today's delivery) positions
        (``GET /v2/portfolio/short-term-positions``); ``quantity`` is the net quantity."""
        return list(self._get(POSITIONS_PATH) or [])

    def holdings(self) -> list[dict[str, Any]]:
        """Long-term holdings (``GET /v2/portfolio/long-term-holdings``)."""
        return list(self._get(HOLDINGS_PATH) or [])

    def funds(self, segment: str | None = None) -> dict[str, Any]:
        """Funds and margin (``GET /v2/user/get-funds-and-margin``; ``segment`` SEC or COM)."""
        params = {"segment": segment} if segment else None
        return dict(self._get(FUNDS_PATH, params) or {})


_WARN_STEPS = frozenset(
    {
        "rate_limited",
        "unavailable",
        "not_sent",
        "ambiguous",
        "lookup_failed",
        "resend",
        "give_up",
        "refused",
        "modify_failed",
        "cancel_failed",
    }
)

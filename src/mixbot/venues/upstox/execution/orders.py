"""The Upstox order REST API: place / modify / cancel (v3), order book, history, trades,
positions, holdings, funds; idempotent placement; order rules of the spec.

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

The code is split by topic; this module re-exports every name: endpoints, hosts and
headers (:mod:`~mixbot.venues.upstox.http.order_endpoints`, with the endpoint table), statuses
(:mod:`~mixbot.venues.upstox.execution.order_status`, with the Upstox -> Backtrader status table), results
(:mod:`~mixbot.venues.upstox.execution.order_results`), order rules
(:mod:`~mixbot.venues.upstox.execution.order_rules`), request plumbing
(:mod:`~mixbot.venues.upstox.http.order_transport`) and reads
(:mod:`~mixbot.venues.upstox.execution.order_reads`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mixbot.venues.upstox.execution.order_reads import OrderReads
from mixbot.venues.upstox.execution.order_results import (
    AuditStep,
    OrderAck,
    OrderStateUnknownError,
    PlaceResult,
)
from mixbot.venues.upstox.execution.order_rules import (
    ENTRY_ORDER_TYPE,
    EXIT_ORDER_TYPE,
    ORDER_TYPES,
    PRODUCTS,
    SIDES,
    VALIDITIES,
    StuckAction,
    StuckDecision,
    StuckOrderPolicy,
    entry_limit_price,
    exit_side,
    round_to_tick,
)
from mixbot.venues.upstox.execution.order_status import (
    BT_FINAL,
    UPSTOX_TO_BT,
    bt_status,
    is_open,
    order_bt_status,
)
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.errors import (
    RateLimitedError,
    TokenExpiredError,
    TokenMissingError,
    UpstoxError,
    UpstoxUnavailableError,
)
from mixbot.venues.upstox.http.order_endpoints import (
    ALGO_HEADER,
    CANCEL_PATH,
    DEFAULT_ORDER_API,
    DEFAULT_SANDBOX_API,
    FUNDS_PATH,
    HOLDINGS_PATH,
    MODIFY_PATH,
    ORDER_API_ENV,
    ORDER_BOOK_PATH,
    ORDER_DETAILS_PATH,
    ORDER_HISTORY_PATH,
    ORDER_TRADES_PATH,
    PLACE_PATH,
    POSITIONS_PATH,
    PRODUCTION_API_HOST,
    SANDBOX_ENV,
    SANDBOX_TOKEN_ENV,
    TRADES_PATH,
    order_base,
    sandbox_base,
)
from mixbot.venues.upstox.http.order_transport import (
    OrderTransport,
    _err,
    _latency,
    _order_ids,
)
from mixbot.venues.upstox.http.ratelimit import MultiWindowLimiter, order_limiter
from mixbot.venues.upstox.order_tags import check_tag

__all__ = [
    "ALGO_HEADER",
    "BT_FINAL",
    "CANCEL_PATH",
    "DEFAULT_ORDER_API",
    "DEFAULT_SANDBOX_API",
    "ENTRY_ORDER_TYPE",
    "EXIT_ORDER_TYPE",
    "FUNDS_PATH",
    "HOLDINGS_PATH",
    "MODIFY_PATH",
    "ORDER_API_ENV",
    "ORDER_BOOK_PATH",
    "ORDER_DETAILS_PATH",
    "ORDER_HISTORY_PATH",
    "ORDER_TRADES_PATH",
    "ORDER_TYPES",
    "PLACE_PATH",
    "POSITIONS_PATH",
    "PRODUCTION_API_HOST",
    "PRODUCTS",
    "SANDBOX_ENV",
    "SANDBOX_TOKEN_ENV",
    "SIDES",
    "TRADES_PATH",
    "UPSTOX_TO_BT",
    "VALIDITIES",
    "AuditStep",
    "MultiWindowLimiter",
    "OrderAck",
    "OrderApi",
    "OrderReads",
    "OrderStateUnknownError",
    "OrderTransport",
    "PlaceResult",
    "StuckAction",
    "StuckDecision",
    "StuckOrderPolicy",
    "UpstoxClient",
    "bt_status",
    "entry_limit_price",
    "exit_side",
    "is_open",
    "order_base",
    "order_bt_status",
    "order_limiter",
    "round_to_tick",
    "sandbox_base",
]

log = logging.getLogger(__name__)


class OrderApi(OrderTransport, OrderReads):
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
        elif (why := check_tag(str(tag))) is not None:
            problems.append(why)
        # Upstox "Market Price Protection" (announcement, March 2026): MARKET and SL-M only;
        # -1 = automatic, 0 = none, 1-25 = percent
        if market_protection is not None:
            if order_type not in ("MARKET", "SL-M"):
                problems.append(f"market_protection applies to MARKET and SL-M, not {order_type}")
            elif not (market_protection == -1 or 0 <= market_protection <= 25):
                problems.append(
                    f"market_protection must be -1 (automatic) or 0-25 percent, not {market_protection}"
                )
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

"""``UpstoxBroker``: a Backtrader live broker that trades through the Upstox order API.

Shape of Backtrader's live brokers (``backtrader/brokers/ibbroker.py``): :meth:`buy` /
:meth:`sell` create the Backtrader order and send it to Upstox at once (``OrderApi.place``,
idempotent by tag); order updates arrive from another thread (the portfolio-stream
websocket, :mod:`mixbot.venues.upstox.portfolio`) into a queue, and :meth:`next` (called by
Cerebro every cycle) applies them: ``submit`` / ``accept`` / ``partial`` / ``completed`` /
``cancel`` / ``reject``, ``order.execute`` for each fill, the position update, and
``notify`` (the strategy gets the notifications through :meth:`get_notification`). While the
stream is down (and once after each reconnect), :meth:`next` polls the order book every
``poll_interval`` seconds instead.

Order mapping (spec ``upstox-ml-bot.md``):

==========================  ==============================================================
Backtrader order            Upstox order
==========================  ==============================================================
Market, opening/adding      ``LIMIT`` at LTP +/- ``entry_buffer_pct`` % (buy above, sell
(an ENTRY)                  below, rounded to the tick against us)
Market, reducing (an EXIT)  ``MARKET``
Stop (protective stop)      ``SL-M`` with ``trigger_price`` = the stop price
Limit (take profit)         ``LIMIT`` at the order's price
==========================  ==============================================================

The LTP is the feed's last trade price (``data.last_price``), else the last bar's close.
The client tag is the strategy's tag (``order.info.tag``, passed as ``tag=`` to
``buy``/``sell``), else ``mixbot-<ref>``.

Stuck orders (:class:`~mixbot.venues.upstox.execution.orders.StuckOrderPolicy`; ages on the feed's
exchange clock when it has one, else the wall clock): an entry pending longer than
``entry_timeout_seconds`` is cancelled; a MARKET exit pending longer than
``exit_timeout_seconds`` is cancelled and the unfilled rest re-sent at MARKET (tag
``<tag>:r<n>``). Protective stop/limit orders are meant to wait and are left alone.

Slices and fills: every order is placed with ``slice=true`` and each Upstox order of the
answer is one slice of the Backtrader order (:mod:`~mixbot.venues.upstox.execution.broker_slices`).
A slice's new fills are its new exchange trades, executed one by one at their price and
exchange time (:mod:`~mixbot.venues.upstox.execution.broker_fills`).

OCO (``oco=``; Upstox has none, :mod:`~mixbot.venues.upstox.execution.broker_oco` emulates it): the legs
(a protective stop and a take-profit of one position) must never sell more than the position
together. When a leg completes, the others are cancelled at Upstox. When a leg fills PARTLY,
each other leg is reduced at Upstox (``OrderApi.modify``) to what is still held: at most its
size minus the group's fills, and never more than the position it closes (0: cancelled). If
that modify fails, the leg is cancelled when it could otherwise over-sell the position, else
kept and the error logged. The reduced leg's Backtrader order keeps its created size; its
``executed.remsize`` follows what Upstox holds.

Cash and value: cash is Upstox's ``equity.available_margin`` (``funds()``, refreshed every
``funds_interval`` seconds and after fills); value is ``available_margin + used_margin`` plus
the unrealised PROFIT of the positions marked to the last price (Upstox already deducts
unrealised losses from the available margin, and does not credit profits). Positions are
reconciled from ``positions()`` at start, then follow the fills. Charges are estimated with
the same Indian charges model as the paper broker (Upstox's contract note is authoritative).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import queue
import time
from collections.abc import Callable, Mapping
from typing import Any

import backtrader as bt

from mixbot.venues.upstox.execution.broker_adopt import BrokerAdoption
from mixbot.venues.upstox.execution.broker_fills import BrokerFills
from mixbot.venues.upstox.execution.broker_oco import BrokerOco
from mixbot.venues.upstox.execution.broker_outside import BrokerOutside
from mixbot.venues.upstox.execution.broker_slices import BrokerSlices
from mixbot.venues.upstox.execution.broker_token import BrokerToken
from mixbot.venues.upstox.execution.broker_updates import BrokerUpdates, VenueOrder
from mixbot.venues.upstox.execution.orders import (
    BT_FINAL,
    OrderApi,
    OrderStateUnknownError,
    StuckAction,
    StuckOrderPolicy,
    entry_limit_price,
    order_bt_status,
    round_to_tick,
)
from mixbot.venues.upstox.http.errors import TokenExpiredError, UpstoxError

__all__ = [
    "BT_FINAL",
    "BrokerUpdates",
    "OrderApi",
    "OrderStateUnknownError",
    "StuckAction",
    "StuckOrderPolicy",
    "UpstoxBroker",
    "VenueOrder",
    "entry_limit_price",
    "order_bt_status",
    "round_to_tick",
]

log = logging.getLogger(__name__)


class UpstoxBroker(  # type: ignore[misc]
    bt.BrokerBase,
    BrokerUpdates,
    BrokerSlices,
    BrokerFills,
    BrokerAdoption,
    BrokerOco,
    BrokerOutside,
    BrokerToken,
):
    """Backtrader broker on the Upstox order API (see the module docstring).

    Params:
        order_api: the :class:`~mixbot.venues.upstox.execution.orders.OrderApi`.
        instrument_key: one Upstox key for every data, or a mapping data name -> key.
        product: ``"I"`` (intraday) or ``"D"`` (delivery).
        entry_buffer_pct: entry LIMIT buffer, percent number (0.05 = 0.05 %).
        tick_size: price tick, INR.
        exit_timeout_seconds, entry_timeout_seconds: stuck-order timeouts.
        poll_interval: seconds between order-book polls while the stream is down.
        funds_interval: seconds between ``funds()`` refreshes.
        stream: use the portfolio-stream websocket (False: poll only).
        stream_factory: ``(on_update) -> stream`` with ``start/stop/connected/connects``
            (default :class:`~mixbot.venues.upstox.portfolio.PortfolioStream`).
        clock: ``(data) -> seconds`` for order ages (default: the feed's exchange clock,
            else the wall clock).
        known_tags: tags an earlier process of this bot may have sent (the store's orders at
            start): an order with one of them is adopted from the venue, never placed blindly
            (:mod:`~mixbot.venues.upstox.execution.broker_adopt`).
        tag_prefix: the start of every tag of this bot (``"<bot_id>:"``): orders without it
            are not the bot's (:mod:`~mixbot.venues.upstox.execution.broker_outside`).
        outside_policy: ``"refuse"`` or ``"ignore"`` (``broker.outside_positions``).
        commission: Backtrader's (the charges model: ``addcommissioninfo``).
    """

    params = (
        ("order_api", None),
        ("instrument_key", None),
        ("product", "I"),
        ("entry_buffer_pct", 0.05),
        ("tick_size", 0.05),
        ("exit_timeout_seconds", 30.0),
        ("entry_timeout_seconds", 120.0),
        ("poll_interval", 2.0),
        ("funds_interval", 30.0),
        ("stream", True),
        ("stream_factory", None),
        ("clock", None),
        ("known_tags", ()),
        ("tag_prefix", ""),
        ("outside_policy", "refuse"),
    )

    #: cash and value come from the venue (``funds``): a restored checkpoint does not set them
    venue_cash = True
    #: orders of an earlier process are adopted by tag (``known_tags``), not re-sent
    adopts_orders = True
    #: ``order.executed.dt`` is the exchange's time of the last fill (broker_fills)
    exchange_fill_times = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        if self.p.order_api is None:
            raise ValueError("UpstoxBroker: order_api is required")
        if not self.p.instrument_key:
            raise ValueError("UpstoxBroker: instrument_key is required")
        self.api: OrderApi = self.p.order_api
        self.policy = StuckOrderPolicy(
            float(self.p.exit_timeout_seconds), float(self.p.entry_timeout_seconds)
        )
        self.notifs: collections.deque[bt.Order] = collections.deque()
        self.updates: queue.Queue[dict[str, Any]] = queue.Queue()
        self.positions: dict[Any, bt.Position] = {}
        self.by_tag: dict[str, VenueOrder] = {}
        self.by_id: dict[str, VenueOrder] = {}
        self.open_orders: dict[int, bt.Order] = {}  # ref -> live Backtrader order
        self.oco: dict[int, list[bt.Order]] = {}  # ref -> group
        self.cash = 0.0
        self.startingcash = 0.0
        self.used_margin = 0.0
        self.stream: Any = None
        self._stream_connects = 0
        self._resync = True
        self._last_poll = 0.0
        self._last_funds = 0.0
        self._funds_dirty = False
        self.fills: list[dict[str, Any]] = []
        self.known_tags: set[str] = set(self.p.known_tags or ())
        self.adopted: list[tuple[str, str]] = []
        self.waiting: dict[str, tuple[str, int, str, float, float]] = {}

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        super().start()
        self._refresh_funds(force=True)
        self.startingcash = self.cash  # Backtrader's writers/analyzers read it
        self._reconcile_positions()
        if self.p.stream:
            factory = self.p.stream_factory
            if factory is None:
                from mixbot.venues.upstox.portfolio import PortfolioStream

                api = self.api

                def factory(on_update: Callable[[dict[str, Any]], None]) -> Any:
                    from mixbot.venues.upstox.http.client import UpstoxClient

                    return PortfolioStream(
                        lambda: UpstoxClient(api.client._token, api.client.base_url), on_update
                    )

            self.stream = factory(self.updates.put)
            self.stream.start()

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.stop()
        # last chance to learn the outcome of what is still pending
        if any(not v.final for v in self.by_tag.values()):
            self._poll(force=True)
            self._drain()
        super().stop()

    # ------------------------------------------------------------------ accounting
    def _key(self, data: Any) -> str:
        key = self.p.instrument_key
        if isinstance(key, Mapping):
            return str(key[data._name])
        return str(key)

    def _refresh_funds(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self._funds_dirty and now - self._last_funds < self.p.funds_interval:
            return
        self._last_funds = now
        self._funds_dirty = False
        try:
            funds = self.api.funds("SEC")
        except UpstoxError as exc:
            log.warning("funds refresh failed: %s (keeping %.2f)", exc, self.cash)
            return
        equity = funds.get("equity") or {}
        self.cash = float(equity.get("available_margin") or 0.0)
        self.used_margin = float(equity.get("used_margin") or 0.0)

    def _reconcile_positions(self) -> None:
        """Log what Upstox holds at start for the bot's product. None of it is taken over:
        the bot's position comes from its restored checkpoint and its own orders' fills;
        anything beyond is OUTSIDE (:mod:`~mixbot.venues.upstox.execution.broker_outside`)."""
        try:
            rows = self.api.positions()
        except UpstoxError as exc:
            log.warning("positions at start could not be read: %s", exc)
            return
        product = str(self.p.product).upper()
        for row in rows:
            qty = int(row.get("quantity") or 0)
            if not qty or str(row.get("product", product)).upper() != product:
                continue
            token = str(row.get("instrument_token") or row.get("instrument_key") or "")
            avg = float(row.get("average_price") or 0.0)
            log.info("Upstox position at start: %s %d @ %.2f (not taken over)", token, qty, avg)

    def _pos(self, data: Any) -> bt.Position:
        pos = self.positions.get(data)
        if pos is None:
            pos = self.positions[data] = bt.Position(0, 0.0)
        return pos

    def getcash(self) -> float:
        return self.cash

    def getvalue(self, datas: Any = None) -> float:
        profit = 0.0
        for data, pos in self.positions.items():
            if pos.size and len(data):
                profit += max(0.0, (data.close[0] - pos.price) * pos.size)
        return self.cash + self.used_margin + profit

    def getposition(self, data: Any, clone: bool = True) -> bt.Position:
        pos = self._pos(data)
        return pos.clone() if clone else pos

    @property
    def pending(self) -> list[bt.Order]:
        """The live (not final) orders (read by the runner's status)."""
        return list(self.open_orders.values())

    def get_notification(self) -> bt.Order | None:
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    def notify(self, order: bt.Order) -> None:
        self.notifs.append(order.clone())

    # ------------------------------------------------------------------ orders
    def buy(
        self,
        owner: Any,
        data: Any,
        size: float,
        price: float | None = None,
        plimit: float | None = None,
        exectype: int | None = None,
        valid: Any = None,
        tradeid: int = 0,
        oco: bt.Order | None = None,
        trailamount: Any = None,
        trailpercent: Any = None,
        parent: Any = None,
        transmit: bool = True,
        **kwargs: Any,
    ) -> bt.Order:
        """Backtrader's broker ``buy``: build a BuyOrder and send it to Upstox (see :meth:`_submit`)."""
        return self._make(bt.BuyOrder, locals())

    def sell(
        self,
        owner: Any,
        data: Any,
        size: float,
        price: float | None = None,
        plimit: float | None = None,
        exectype: int | None = None,
        valid: Any = None,
        tradeid: int = 0,
        oco: bt.Order | None = None,
        trailamount: Any = None,
        trailpercent: Any = None,
        parent: Any = None,
        transmit: bool = True,
        **kwargs: Any,
    ) -> bt.Order:
        """Backtrader's broker ``sell``: build a SellOrder and send it to Upstox (see :meth:`_submit`)."""
        return self._make(bt.SellOrder, locals())

    def _make(self, cls: type, a: dict[str, Any]) -> bt.Order:
        order = cls(
            owner=a["owner"],
            data=a["data"],
            size=a["size"],
            price=a["price"],
            pricelimit=a["plimit"],
            exectype=a["exectype"],
            valid=a["valid"],
            tradeid=a["tradeid"],
            oco=a["oco"],
            trailamount=a["trailamount"],
            trailpercent=a["trailpercent"],
            parent=a["parent"],
            transmit=a["transmit"],
        )
        order.addinfo(**a["kwargs"])
        return self._submit(order, a["oco"])

    def _now(self, data: Any) -> float:
        if self.p.clock is not None:
            return float(self.p.clock(data))
        ex = getattr(data, "exchange_now", None)
        if isinstance(ex, dt.datetime):
            return ex.replace(tzinfo=dt.UTC).timestamp()
        return time.time()

    def _ltp(self, data: Any) -> float:
        ltp = getattr(data, "last_price", None)
        if isinstance(ltp, int | float) and ltp > 0:
            return float(ltp)
        return float(data.close[0])

    def _submit(self, order: bt.Order, oco: bt.Order | None) -> bt.Order:
        order.addcomminfo(self.getcommissioninfo(order.data))
        tag = str(order.info.get("tag") or f"mixbot-{order.ref}")
        pos = self._pos(order.data).size
        qty = int(round(abs(order.size)))
        side = "BUY" if order.isbuy() else "SELL"
        tick = float(self.p.tick_size)
        price = trigger = 0.0
        # protective prices come on the tick grid from the order manager (stop DOWN, target
        # UP): "nearest" only strips float noise, as Upstox rejects off-grid prices
        if order.exectype == bt.Order.Stop:
            kind, utype = "protect", "SL-M"
            trigger = round_to_tick(float(order.price), tick, "nearest")
        elif order.exectype == bt.Order.Limit:
            kind, utype = "protect", "LIMIT"
            price = round_to_tick(float(order.price), tick, "nearest")
        elif order.exectype in (None, bt.Order.Market, bt.Order.Close):
            entry = pos == 0 or (pos > 0) == order.isbuy()
            kind = "entry" if entry else "exit"
            if entry:
                utype = "LIMIT"
                price = entry_limit_price(
                    self._ltp(order.data), side, float(self.p.entry_buffer_pct), tick
                )
            else:
                utype = "MARKET"
        else:
            order.reject(self)
            self.notify(order)
            log.error("order %s: %s orders are not supported on Upstox", tag, order.getordername())
            return order
        if oco is not None:
            group = self.oco.setdefault(oco.ref, [oco])
            group.append(order)
            self.oco[order.ref] = group
        order.submit(self)
        self.notify(order)
        self.open_orders[order.ref] = order
        vo = VenueOrder(tag, order, kind, utype, qty, self._now(order.data), price, trigger)
        self.by_tag[tag] = vo
        if tag in self.known_tags:
            self._adopt(vo, side, qty, utype, price, trigger)
        else:
            self._place(vo, side, qty, utype, price, trigger)
        return order

    def _place(
        self, vo: VenueOrder, side: str, qty: int, utype: str, price: float, trigger: float
    ) -> None:
        if self.token_expired():
            self.hold(vo, (side, qty, utype, price, trigger))
            return
        try:
            res = self.api.place(
                instrument_key=self._key(vo.order.data),
                side=side,
                qty=qty,
                order_type=utype,
                product=str(self.p.product),
                price=price,
                trigger_price=trigger,
                tag=vo.tag,
                slice=True,  # above the freeze quantity: several orders (broker_slices)
            )
        except OrderStateUnknownError as exc:
            # it may exist: keep it pending, the order book (by tag) will tell
            log.error("order %s: state unknown (%s); reconciling by tag", vo.tag, exc)
            self._resync = True
            return
        except TokenExpiredError:  # refused before it was taken: send it with the next token
            self.hold(vo, (side, qty, utype, price, trigger))
            return
        except (UpstoxError, ValueError) as exc:
            log.error("order %s refused: %s", vo.tag, exc)
            vo.final = True
            self._finish(vo.order, "Rejected")
            return
        for oid in res.order_ids:  # one id, or one per slice
            self._attach(vo, oid, qty if len(res.order_ids) == 1 else 0)
        log.info("order %s placed: %s %d %s -> %s", vo.tag, side, qty, utype, res.order_ids)

    def cancel(self, order: bt.Order) -> bool:
        if order.ref not in self.open_orders or not order.alive():
            return False
        for vo in self.by_tag.values():
            if vo.order.ref == order.ref and not vo.final:
                vo.replace = False  # an explicit cancel also stops a stuck exit's re-send
                self._cancel_venue(vo)
        return True

    def _cancel_venue(self, vo: VenueOrder, replace: bool = False) -> None:
        """Cancel every open slice of ``vo`` (``replace``: re-send the rest at MARKET once
        cancelled: a stuck exit)."""
        if vo.cancel_sent or vo.final:
            return
        vo.replace = replace
        vo.cancel_wanted = True
        if not vo.slices:
            return  # no id known yet; the poll by tag attaches them, then cancel again
        self._cancel_slices(vo)

    def _finish(self, order: bt.Order, status: str) -> None:
        if not order.alive():
            return
        if status == "Completed":
            order.completed()
        elif status == "Canceled":
            order.cancel()
        else:
            order.reject(self)
        self.notify(order)
        self.open_orders.pop(order.ref, None)
        if status == "Completed":
            for other in self.oco.get(order.ref, []):
                if other.ref != order.ref and other.alive():
                    self.cancel(other)

    # ------------------------------------------------------------------ updates
    def next(self) -> None:
        self.token_tick()
        if self.stream is not None and self.stream.connects != self._stream_connects:
            self._stream_connects = self.stream.connects
            self._resync = True  # (re)connected: updates may have been missed meanwhile
            self.outside_due = True  # and trades made outside the bot
        self._drain()
        streaming = self.stream is not None and self.stream.connected
        pending = any(not v.final for v in self.by_tag.values())
        if pending and (self._resync or not streaming):
            self._poll()
        self._drain()
        self._check_stuck()
        self._oco_retry()
        self._refresh_funds()

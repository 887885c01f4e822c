"""Positions, funds and the portfolio stream websocket of the simulated exchange.

Positions (``GET /v2/portfolio/short-term-positions``) follow the fills, one per
(instrument, product), with the field names of Upstox's ``PositionData`` (SDK model):
net ``quantity``, ``average_price`` (average cost of the open quantity), ``realised``
(closed quantity x (exit - average)), ``unrealised`` ((last price - average) x net),
``pnl`` = both, day and overnight buy/sell aggregates. At each session open the net
quantity rolls to ``overnight_quantity`` and the day aggregates restart.

Funds (``GET /v2/user/get-funds-and-margin``): ``available_margin = cash + realised PnL +
unrealised losses - used_margin``; ``used_margin`` blocks a fraction of the notional of
every open position and of every open order (:func:`margin_rate`: F&O 15%, intraday equity
20%, delivery 100%; a simplification of SPAN/VAR, best guess).

Portfolio stream: ``GET /v2/feed/portfolio-stream-feed/authorize[?update_types=order,position]``
answers ``{"status":"success","data":{"authorized_redirect_uri": URI, "authorizedRedirectUri":
URI}}`` with ``URI = wss://127.0.0.1:PORT/upstox-developer-api/order-updates/feed?requestId=..
&code=..`` (single-use code; the path of the real sample). The SDK's direct
``wss://HOST/v2/feed/portfolio-stream-feed`` with ``Authorization: Bearer`` works too. The
server sends TEXT frames, one JSON object per update, no request needed: order updates are
the order-book row plus ``update_type: "order"``, ``user_id``, ``userId``,
``instrument_key`` (as Upstox's webhook/portfolio-stream sample); with ``position`` in
``update_types`` position rows with ``update_type: "position"`` follow each fill (shape:
best guess). Default ``update_types``: ``order``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from mixbot.simulators.upstox.instruments import Instrument

USER_ID = "SIM001"


def margin_rate(inst: Instrument, product: str) -> float:
    """Fraction of the notional blocked as margin (best guess, see the module docstring)."""
    if inst.segment.endswith("_FO"):
        return 0.15
    return 0.2 if product == "I" else 1.0


def exchange_name(inst: Instrument) -> str:
    """Upstox's ``exchange`` field: ``NFO`` for NSE F&O, ``NSE`` for NSE equity."""
    return "NFO" if inst.segment == "NSE_FO" else "NSE"


def _r(x: float) -> float:
    return round(x, 4)


@dataclass
class Position:
    """One (instrument, product) position; see the module docstring."""

    inst: Instrument
    product: str
    net: int = 0
    avg: float = 0.0
    realised: float = 0.0
    day_buy_qty: int = 0
    day_buy_value: float = 0.0
    day_sell_qty: int = 0
    day_sell_value: float = 0.0
    on_qty: int = 0
    on_buy_qty: int = 0
    on_buy_amount: float = 0.0
    on_sell_qty: int = 0
    on_sell_amount: float = 0.0

    def apply(self, side: str, qty: int, price: float) -> float:
        """Book a fill; returns the PnL it realised."""
        signed = qty if side == "BUY" else -qty
        if side == "BUY":
            self.day_buy_qty += qty
            self.day_buy_value += qty * price
        else:
            self.day_sell_qty += qty
            self.day_sell_value += qty * price
        realised = 0.0
        if self.net == 0 or (self.net > 0) == (signed > 0):
            size = abs(self.net)
            self.avg = (self.avg * size + price * qty) / (size + qty)
        else:
            closing = min(qty, abs(self.net))
            realised = closing * (price - self.avg) * (1 if self.net > 0 else -1)
            if qty > closing:  # flipped: the rest opens at this price
                self.avg = price
        self.net += signed
        if self.net == 0:
            self.avg = 0.0
        self.realised += realised
        return realised

    def roll(self) -> None:
        """New session: the net quantity becomes overnight, day aggregates restart."""
        self.on_qty = self.net
        self.on_buy_qty = max(self.net, 0)
        self.on_sell_qty = max(-self.net, 0)
        self.on_buy_amount = self.on_buy_qty * self.avg
        self.on_sell_amount = self.on_sell_qty * self.avg
        self.day_buy_qty = self.day_sell_qty = 0
        self.day_buy_value = self.day_sell_value = 0.0
        self.realised = 0.0

    def row(self, ltp: float, close: float) -> dict[str, Any]:
        """This position as Upstox's ``PositionData`` JSON."""
        buy_qty = self.day_buy_qty + self.on_buy_qty
        sell_qty = self.day_sell_qty + self.on_sell_qty
        buy_value = self.day_buy_value + self.on_buy_amount
        sell_value = self.day_sell_value + self.on_sell_amount
        unrealised = (ltp - self.avg) * self.net if self.net else 0.0

        def avg(v: float, q: int) -> float:
            return _r(v / q) if q else 0.0

        return {
            "exchange": exchange_name(self.inst),
            "multiplier": 1.0,
            "value": _r(sell_value - buy_value),  # best guess (Kite convention)
            "pnl": _r(self.realised + unrealised),
            "product": self.product,
            "instrument_token": self.inst.key,
            "average_price": _r(self.avg),
            "buy_value": _r(buy_value),
            "overnight_quantity": self.on_qty,
            "day_buy_value": _r(self.day_buy_value),
            "day_buy_price": avg(self.day_buy_value, self.day_buy_qty),
            "overnight_buy_amount": _r(self.on_buy_amount),
            "overnight_buy_quantity": self.on_buy_qty,
            "day_buy_quantity": self.day_buy_qty,
            "day_sell_value": _r(self.day_sell_value),
            "day_sell_price": avg(self.day_sell_value, self.day_sell_qty),
            "overnight_sell_amount": _r(self.on_sell_amount),
            "overnight_sell_quantity": self.on_sell_qty,
            "day_sell_quantity": self.day_sell_qty,
            "quantity": self.net,
            "last_price": ltp,
            "unrealised": _r(unrealised),
            "realised": _r(self.realised),
            "sell_value": _r(sell_value),
            "trading_symbol": self.inst.trading_symbol,
            "tradingsymbol": self.inst.trading_symbol,
            "close_price": close,
            "buy_price": avg(buy_value, buy_qty),
            "sell_price": avg(sell_value, sell_qty),
        }


class Book:
    """Cash, positions and realised PnL of the (single) simulated account."""

    def __init__(self, cash: float) -> None:
        self.cash = float(cash)
        self.positions: dict[tuple[str, str], Position] = {}
        self.realised_total = 0.0

    def apply(self, inst: Instrument, product: str, side: str, qty: int, price: float) -> Position:
        pos = self.positions.get((inst.key, product))
        if pos is None:
            pos = self.positions[(inst.key, product)] = Position(inst, product)
        self.realised_total += pos.apply(side, qty, price)
        return pos

    def roll(self) -> None:
        for key, pos in list(self.positions.items()):
            if pos.net == 0:
                del self.positions[key]
            else:
                pos.roll()

    def net(self, key: str, product: str) -> int:
        pos = self.positions.get((key, product))
        return pos.net if pos else 0

    def position_margin(self) -> tuple[float, float]:
        """(margin blocked by positions, of which F&O)."""
        total = fo = 0.0
        for pos in self.positions.values():
            m = abs(pos.net) * pos.avg * margin_rate(pos.inst, pos.product)
            total += m
            if pos.inst.segment.endswith("_FO"):
                fo += m
        return total, fo

    def unrealised(self, ltps: dict[str, float]) -> float:
        return sum((ltps.get(p.inst.key, p.avg) - p.avg) * p.net for p in self.positions.values())

    def funds(self, order_margin: float, ltps: dict[str, float]) -> dict[str, Any]:
        """The ``equity`` object of the funds answer (``UserFundMarginData``)."""
        pos_margin, fo = self.position_margin()
        used = pos_margin + order_margin
        available = self.cash + self.realised_total + min(0.0, self.unrealised(ltps)) - used
        return {
            "used_margin": round(used, 2),
            "payin_amount": 0.0,
            "span_margin": round(fo, 2),
            "adhoc_margin": 0.0,
            "notional_cash": 0.0,
            "available_margin": round(available, 2),
            "exposure_margin": 0.0,
        }


ZERO_FUNDS = dict.fromkeys(
    ("used_margin", "payin_amount", "span_margin", "adhoc_margin", "notional_cash",
     "available_margin", "exposure_margin"),
    0.0,
)  # fmt: skip


# ------------------------------------------------------------------ stream


def update_types(raw: str | None) -> set[str]:
    """The ``update_types`` query value as a set (default ``{"order"}``)."""
    types = {t.strip() for t in (raw or "").replace("%2C", ",").split(",") if t.strip()}
    return types or {"order"}


class StreamClient:
    """One portfolio-stream websocket: a queue of JSON texts filtered by update type."""

    def __init__(self, ws: web.WebSocketResponse, types: set[str]) -> None:
        self.ws = ws
        self.types = types
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(10_000)

    def push(self, update_type: str, payload: dict[str, Any]) -> None:
        """Queue one update (called in the server's loop; dropped when far behind)."""
        if update_type in self.types:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(json.dumps(payload))

    async def run(self) -> None:
        async def sender() -> None:
            while True:
                text = await self.queue.get()
                if text is None:
                    await self.ws.close(code=1001, message=b"simulator stopped")
                    return
                await self.ws.send_str(text)

        async def receiver() -> None:
            async for msg in self.ws:  # nothing is expected from the client
                if msg.type == WSMsgType.ERROR:
                    return

        tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

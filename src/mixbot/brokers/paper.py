"""The paper broker: Backtrader's BackBroker plus slippage in bps, tick rounding and Indian charges.

Fill model (Backtrader's ``BackBroker`` rules, documented in the README):
market orders fill at the NEXT bar's open; stop orders trigger when the bar's range reaches
the stop and fill at the stop price (or the open when the bar gaps through it); limit orders
fill at the limit (or the open when it gaps better). Slippage moves every fill price
``slippage_bps`` against the order's side, never outside the bar's high-low range, and the
slipped price is rounded to the tick AGAINST the trader (buys up, sells down).
Cash is checked at submission (``checksubmit``): an order the cash cannot pay is rejected
with status Margin. Cancelling works on orders placed in the same bar too (BackBroker
ignores those, see :meth:`PaperBroker.cancel`).
"""

from __future__ import annotations

from typing import Any

import backtrader as bt

from mixbot.brokers.charges import IndianEquityCharges
from mixbot.brokers.comminfo import IndianEquityCommInfo
from mixbot.orders.ticks import Direction
from mixbot.orders.ticks import round_to_tick as _round_to_tick


def round_to_tick(price: float, tick: float, direction: Direction = "nearest") -> float:
    """``price`` (INR) on the ``tick`` grid: :func:`mixbot.orders.ticks.round_to_tick` (the one
    implementation, exact decimals; "nearest" is half-up). Kept for old imports."""
    return _round_to_tick(price, tick, direction)


class PaperBroker(bt.brokers.BackBroker):  # type: ignore[misc]
    """BackBroker with tick-size rounding of slipped fill prices, gap fills of sell limits
    kept inside the bar, and cancellation of orders placed in the same bar.

    Params (besides BackBroker's): ``tick_size`` in INR (0.05 for NSE equities).
    """

    params = (("tick_size", 0.05),)

    def _slip_up(self, pmax: float, price: float, doslip: bool = True, lim: bool = False) -> Any:
        p = super()._slip_up(pmax, price, doslip, lim)
        if p is None or not doslip or not self.p.slip_perc:
            return p
        # a buy's slipped fill: rounded UP (against the buyer, as a venue would fill at a
        # tick no better than the slipped price), but never above the bar's high: then DOWN
        r = _round_to_tick(p, self.p.tick_size, "up")
        return r if r <= pmax else _round_to_tick(pmax, self.p.tick_size, "down")

    def cancel(self, order: Any, bracket: bool = False) -> bool:
        """Cancel ``order``, also when it is still in the submission queue.

        With ``checksubmit`` an order waits in ``submitted`` until the broker's next bar;
        BackBroker.cancel only looks at accepted (``pending``) orders, so cancelling an
        order in the bar it was placed silently did nothing and it could fill later
        (e.g. a protective stop after the position was already closed).
        """
        try:
            self.submitted.remove(order)
        except ValueError:
            return bool(super().cancel(order, bracket))
        order.cancel()
        self.notify(order)
        self._ococheck(order)
        if not bracket:
            self._bracketize(order, cancel=True)
        return True

    def _ococheck(self, order: Any) -> None:
        # BackBroker cancels the one-cancels-other siblings found in ``pending`` only;
        # cancel those still waiting in ``submitted`` as well.
        group = list(self._ocol.get(self._ocos.get(self._ocos[order.ref]), []))
        super()._ococheck(order)
        for o in list(self.submitted):
            if o.ref in group and o.ref != order.ref and o.alive():
                self.submitted.remove(o)
                o.cancel()
                self.notify(o)

    def _try_exec_limit(
        self, order: Any, popen: float, phigh: float, plow: float, plimit: float
    ) -> None:
        if not order.isbuy() and plimit <= popen:
            # A sell limit the open gaps through fills at the slipped open. BackBroker bounds
            # that slip by the limit only (it computes max(low, limit) but does not use it),
            # which can fill below the bar's low: bound it by both.
            p = self._slip_down(max(plow, plimit), popen, doslip=self.p.slip_open, lim=True)
            self._execute(order, ago=0, price=p)
            return
        super()._try_exec_limit(order, popen, phigh, plow, plimit)

    def _slip_down(self, pmin: float, price: float, doslip: bool = True, lim: bool = False) -> Any:
        p = super()._slip_down(pmin, price, doslip, lim)
        if p is None or not doslip or not self.p.slip_perc:
            return p
        # a sell's slipped fill: rounded DOWN (against the seller), but never below the bar's
        # low: then UP
        r = _round_to_tick(p, self.p.tick_size, "down")
        return r if r >= pmin else _round_to_tick(pmin, self.p.tick_size, "up")


def make_broker(
    kind: str,
    cash: float,
    commission: float | None,
    slippage_bps: float,
    tick_size: float,
    product: str,
) -> bt.brokers.BackBroker:
    """Build the broker for ``broker.type`` paper or mock.

    paper: :class:`PaperBroker` with slippage (bps of price) and the Indian charges model
    (or the flat ``commission`` fraction when given). mock: zero charges, no slippage,
    fills at the signal bar's close (Backtrader cheat-on-close), for tests.
    """
    if kind == "mock":
        broker = PaperBroker(cash=cash, coc=True, checksubmit=True)  # no slip, no rounding
        broker.addcommissioninfo(
            bt.CommInfoBase(commission=0.0, stocklike=True, commtype=bt.CommInfoBase.COMM_PERC)
        )
        return broker
    broker = PaperBroker(
        cash=cash,
        slip_perc=slippage_bps / 10_000.0,
        slip_open=True,
        slip_match=True,
        slip_limit=True,
        slip_out=False,
        checksubmit=True,
        tick_size=tick_size,
    )
    broker.addcommissioninfo(
        IndianEquityCommInfo(  # type: ignore[call-arg]  # Backtrader params: metaclass kwargs
            charges=IndianEquityCharges.from_config(commission, product), product=product
        )
    )
    return broker

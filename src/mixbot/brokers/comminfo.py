"""Backtrader commission scheme that charges the Indian equity schedule of :mod:`.charges`.

Usage::

    cerebro.broker.addcommissioninfo(
        IndianEquityCommInfo(charges=IndianEquityCharges(), product="intraday")
    )

Backtrader asks a ``CommInfoBase`` for the commission of each executed part of an order
through ``getcommission(size, price)`` / ``confirmexec(size, price)``, both of which call
``_getcommission(size, price, pseudoexec)`` (backtrader ``comminfo.py``; the broker calls them
from ``BackBroker._execute``). ``size`` is signed: > 0 for a buy, < 0 for a sell. This class
overrides that hook to return the INR total of :meth:`IndianEquityCharges.compute`.

Caveat: when one order both closes a position and opens the opposite one (a reversal),
Backtrader asks for the commission of the closing and the opening parts separately, so the
per-order brokerage cap is applied to each part.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import backtrader as bt

from mixbot.brokers.charges import PRODUCTS, IndianEquityCharges


class IndianEquityCommInfo(bt.CommInfoBase):  # type: ignore[misc]
    """Stock-like commission scheme returning Indian equity charges in INR per fill.

    Params:
        charges: an :class:`IndianEquityCharges`, or None for the published schedule
            (``IndianEquityCharges()``).
        product: ``"intraday"`` or ``"delivery"``; None uses ``charges.product``.
        flat_commission: None, or an all-in fraction of turnover (``0.001`` = 0.1 %) that
            replaces the schedule (see :class:`IndianEquityCharges`).

    ``stocklike`` is True (cash is debited by the full value, no margin) and ``commtype`` is
    ``COMM_FIXED`` so Backtrader does not rescale the (unused) ``commission`` param.

    Raises:
        ValueError: at construction, for an unknown product or an invalid flat_commission.
    """

    params: Any = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
        ("percabs", True),
        ("charges", None),
        ("product", None),
        ("flat_commission", None),
    )

    def __init__(self) -> None:
        super().__init__()
        charges = self.p.charges if self.p.charges is not None else IndianEquityCharges()
        if not isinstance(charges, IndianEquityCharges):
            raise ValueError(f"charges must be an IndianEquityCharges, got {charges!r}")
        if self.p.flat_commission is not None:
            charges = dataclasses.replace(charges, flat_commission=float(self.p.flat_commission))
        product = self.p.product if self.p.product is not None else charges.product
        if product not in PRODUCTS:
            raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")
        self.charges: IndianEquityCharges = charges
        self.product: str = product

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        """INR charges for a fill of ``size`` shares (> 0 buy, < 0 sell) at ``price`` INR.

        Returns 0.0 for a zero size. Raises ValueError for a non-positive or non-finite price.
        """
        if size == 0:
            return 0.0
        side = "buy" if size > 0 else "sell"
        return self.charges.compute(side, abs(size), price, self.product).total

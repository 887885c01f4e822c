"""Charges on an NSE cash-equity order placed through Upstox, as on a contract note.

All money is in INR. Every rate below is a *fraction* of the order's turnover
(``quantity * price``): ``0.001`` means 0.1 %. The components, the side they apply to
and where each figure was taken from. The figures were checked (2025) against public copies of
the Upstox charges page and press reports of the NSE circular, not the live pages; the
exchange and statutory rates are those in force since 1 October 2024:

==================  ======================================  =====================================
component           rate (intraday / delivery)              source
==================  ======================================  =====================================
brokerage           min(₹20, 0.1 %) / min(₹20, 2.5 %)       Upstox brokerage page
                    per executed order                      (upstox.com/brokerage-charges)
STT                 0.025 % sell only / 0.1 % buy and sell  Finance (No. 2) Act 2004, Chapter VII
                                                            (s. 98), as amended; as listed on the
                                                            Upstox page
exchange txn        0.00297 % both sides (₹2.97 per lakh)   NSE circular of 27 Sep 2024, cash
                                                            market, effective 1 Oct 2024
SEBI turnover fee   0.0001 % both sides (₹10 per crore)     SEBI turnover fee schedule, as listed
                                                            on brokers' charges pages
stamp duty          0.003 % / 0.015 %, buy side only        Indian Stamp Act 1899 as amended by
                                                            the Finance Act 2019, in force 1 Jul 2020
GST                 18 % of (brokerage + exchange txn +     CGST/IGST Acts 2017 (financial
                    SEBI fee)                               services rate)
==================  ======================================  =====================================

Notes and limits:

* Upstox brokerage: third-party copies of Upstox's page disagree on the intraday percentage
  (older snapshots show 0.05 %, the 2024-25 page shows 0.1 %); 0.1 % is used. For any order
  above ₹20,000 (intraday) or ₹800 (delivery) brokerage is the flat ₹20 either way. The
  brokerage is *per executed order*: a backtest that splits one order into several fills pays
  it on each fill.
* Not modelled: DP (depository) charges on delivery sells (Upstox charges a fixed amount per
  scrip per day, not per order), the NSE IPFT levy, auto square-off / call-and-trade fees.
* Rounding (``round_like_contract_note=True``, the default): STT and stamp duty are rounded to
  the nearest whole rupee, every other component to the paisa, half up, and GST is computed on
  the already rounded brokerage, exchange and SEBI amounts. This is how the widely copied
  Zerodha/Upstox public brokerage calculators round. A real contract note aggregates all orders
  in a scrip for the day before rounding, so a per-order figure can differ from it by under
  ₹1 per component.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, cast, get_args

#: Product type: ``"intraday"`` (Upstox "I", squared off the same day) or ``"delivery"`` ("D").
Product = Literal["intraday", "delivery"]
#: Side of one order.
Side = Literal["buy", "sell"]

PRODUCTS: tuple[str, ...] = get_args(Product)
SIDES: tuple[str, ...] = get_args(Side)

_PAISA = Decimal("0.01")
_RUPEE = Decimal("1")


def _dec(x: float) -> Decimal:
    """Exact decimal of the shortest repr of ``x`` (so 0.1 is 0.1, not 0.1000000000000000055)."""
    return Decimal(repr(float(x)))


def _round(x: Decimal, step: Decimal) -> Decimal:
    return x.quantize(step, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ChargeBreakdown:
    """Charges on one executed order, in INR, each component rounded as described in the module.

    ``total`` is the sum of the six components; ``turnover`` is ``quantity * price`` in INR.
    """

    brokerage: float
    stt: float
    exchange_txn: float
    sebi: float
    stamp_duty: float
    gst: float
    total: float
    turnover: float


@dataclass(frozen=True)
class IndianEquityCharges:
    """Rates of the Indian cash-equity charge schedule (Upstox broker, NSE exchange).

    Rates are fractions of turnover (``0.001`` = 0.1 %), flat amounts are INR. Defaults are
    the published rates listed in the module docstring, with their sources.

    ``flat_commission``: when not None, a single all-in fraction of turnover that *replaces the
    whole schedule* (brokerage and every statutory charge): ``compute`` then reports
    ``flat_commission * turnover`` as ``brokerage``, every other component 0, and does not
    round (it matches Backtrader's ``COMM_PERC`` commission exactly). Use it to reproduce a
    paper's "0.1 % per side" cost assumption.

    ``product``: the product used by :meth:`compute` when it is not given one.
    """

    #: Upstox intraday brokerage cap per executed order, INR (Upstox brokerage page).
    brokerage_intraday_max_inr: float = 20.0
    #: Upstox intraday brokerage as a fraction of turnover when lower than the cap: 0.1 %.
    brokerage_intraday_rate: float = 0.001
    #: Upstox delivery brokerage cap per executed order, INR (Upstox brokerage page).
    brokerage_delivery_max_inr: float = 20.0
    #: Upstox delivery brokerage as a fraction of turnover when lower than the cap: 2.5 %.
    brokerage_delivery_rate: float = 0.025
    #: STT, delivery, buy and sell: 0.1 % (Finance (No. 2) Act 2004, s. 98, as amended).
    stt_delivery_rate: float = 0.001
    #: STT, intraday (non-delivery), sell side only: 0.025 % (same Act).
    stt_intraday_sell_rate: float = 0.00025
    #: NSE cash-market transaction charge, both sides: ₹2.97 per lakh = 0.00297 %
    #: (NSE circular of 27 Sep 2024, effective 1 Oct 2024).
    exchange_txn_rate: float = 0.0000297
    #: SEBI turnover fee, both sides: ₹10 per crore = 0.0001 %.
    sebi_rate: float = 0.000001
    #: Stamp duty, delivery, buy side only: 0.015 % (₹1,500 per crore), Indian Stamp Act
    #: 1899 as amended by the Finance Act 2019, in force from 1 July 2020.
    stamp_delivery_buy_rate: float = 0.00015
    #: Stamp duty, intraday, buy side only: 0.003 % (₹300 per crore), same amendment.
    stamp_intraday_buy_rate: float = 0.00003
    #: GST on brokerage + exchange transaction charge + SEBI fee: 18 %.
    gst_rate: float = 0.18
    #: All-in fraction of turnover replacing the schedule, or None (see class docstring).
    flat_commission: float | None = None
    #: Default product for :meth:`compute`.
    product: Product = "intraday"
    #: Round each component as a contract note does (see module docstring); False keeps
    #: unrounded floats.
    round_like_contract_note: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("product", "round_like_contract_note") or value is None:
                continue
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0, got {value!r}")
        if self.flat_commission is not None and self.flat_commission >= 1:
            raise ValueError(
                f"flat_commission is a fraction of turnover (0.001 = 0.1 %), got "
                f"{self.flat_commission!r}"
            )
        if self.product not in PRODUCTS:
            raise ValueError(f"product must be one of {PRODUCTS}, got {self.product!r}")

    @classmethod
    def zero(cls) -> IndianEquityCharges:
        """A schedule that charges nothing (every rate 0): for frictionless backtests."""
        zeros: dict[str, Any] = {
            f.name: 0.0 for f in fields(cls) if f.name.endswith(("_rate", "_inr"))
        }
        return cls(**zeros)

    @classmethod
    def from_config(cls, commission: float | None, product: str) -> IndianEquityCharges:
        """Build the charges a bot config asks for.

        Args:
            commission: None for the published schedule (the class defaults), or a flat
                all-in fraction of turnover per order (``0.001`` = 0.1 %) that replaces the
                whole schedule, statutory charges included.
            product: ``"intraday"`` or ``"delivery"``.

        Raises:
            ValueError: unknown product, or a commission that is negative, not finite or >= 1.
        """
        if product not in PRODUCTS:
            raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")
        if commission is not None:
            commission = float(commission)
        return cls(flat_commission=commission, product=cast(Product, product))

    def compute(
        self,
        side: str,
        quantity: float,
        price: float,
        product: str | None = None,
    ) -> ChargeBreakdown:
        """Charges on one executed order, in INR.

        Args:
            side: ``"buy"`` or ``"sell"``.
            quantity: shares, > 0.
            price: execution price per share, INR, > 0.
            product: ``"intraday"`` or ``"delivery"``; None uses ``self.product``.

        Returns:
            The breakdown, rounded as described in the module docstring.

        Raises:
            ValueError: unknown side or product, or a quantity/price that is not a finite
                positive number.
        """
        product = self.product if product is None else product
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        if product not in PRODUCTS:
            raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")
        for name, v in (("quantity", quantity), ("price", price)):
            if not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")

        turnover = _dec(quantity) * _dec(price)
        if self.flat_commission is not None:
            comm = float(quantity) * float(price) * self.flat_commission
            return ChargeBreakdown(comm, 0.0, 0.0, 0.0, 0.0, 0.0, comm, float(turnover))

        buy = side == "buy"
        if product == "intraday":
            brokerage = min(
                _dec(self.brokerage_intraday_max_inr), _dec(self.brokerage_intraday_rate) * turnover
            )
            stt = Decimal(0) if buy else _dec(self.stt_intraday_sell_rate) * turnover
            stamp = _dec(self.stamp_intraday_buy_rate) * turnover if buy else Decimal(0)
        else:
            brokerage = min(
                _dec(self.brokerage_delivery_max_inr), _dec(self.brokerage_delivery_rate) * turnover
            )
            stt = _dec(self.stt_delivery_rate) * turnover
            stamp = _dec(self.stamp_delivery_buy_rate) * turnover if buy else Decimal(0)
        exchange = _dec(self.exchange_txn_rate) * turnover
        sebi = _dec(self.sebi_rate) * turnover

        if self.round_like_contract_note:
            brokerage, exchange, sebi = (_round(x, _PAISA) for x in (brokerage, exchange, sebi))
            stt, stamp = _round(stt, _RUPEE), _round(stamp, _RUPEE)
            gst = _round(_dec(self.gst_rate) * (brokerage + exchange + sebi), _PAISA)
        else:
            gst = _dec(self.gst_rate) * (brokerage + exchange + sebi)
        total = brokerage + stt + exchange + sebi + stamp + gst
        return ChargeBreakdown(
            brokerage=float(brokerage),
            stt=float(stt),
            exchange_txn=float(exchange),
            sebi=float(sebi),
            stamp_duty=float(stamp),
            gst=float(gst),
            total=float(total),
            turnover=float(turnover),
        )

"""Indian equity charges: hand-worked contract-note examples and the Backtrader hook."""

from __future__ import annotations

import math
from pathlib import Path

import backtrader as bt
import pandas as pd
import pytest

from mixbot.brokers.charges import ChargeBreakdown, IndianEquityCharges
from mixbot.brokers.comminfo import IndianEquityCommInfo

# --- worked examples -------------------------------------------------------------------
# 100 RELIANCE at ₹2,500: turnover = 100 * 2,500 = ₹2,50,000 on each side.
# Rates: brokerage min(₹20, 0.1 %) intraday / min(₹20, 2.5 %) delivery; STT 0.025 % sell
# (intraday) / 0.1 % both (delivery); NSE txn 0.00297 %; SEBI 0.0001 %; stamp 0.003 % /
# 0.015 % buy only; GST 18 % of (brokerage + txn + SEBI). STT and stamp rounded to the rupee,
# the rest to the paisa, half up.
TURNOVER = 100 * 2500.0
BROKERAGE = 20.0  # min(20, 0.001 * 250000 = 250) and min(20, 0.025 * 250000 = 6250)
EXCH = 7.43  # 0.0000297 * 250000 = 7.425 -> 7.43
SEBI = 0.25  # 0.000001 * 250000 = 0.25
GST = 4.98  # 0.18 * (20 + 7.43 + 0.25) = 0.18 * 27.68 = 4.9824 -> 4.98


def test_intraday_round_trip_100_reliance_at_2500() -> None:
    ch = IndianEquityCharges()
    buy = ch.compute(side="buy", quantity=100, price=2500.0, product="intraday")
    sell = ch.compute(side="sell", quantity=100, price=2500.0, product="intraday")
    # stamp 0.00003 * 250000 = 7.5 -> 8 on the buy; STT 0.00025 * 250000 = 62.5 -> 63 on the sell
    assert buy == ChargeBreakdown(BROKERAGE, 0.0, EXCH, SEBI, 8.0, GST, 40.66, TURNOVER)
    assert sell == ChargeBreakdown(BROKERAGE, 63.0, EXCH, SEBI, 0.0, GST, 95.66, TURNOVER)
    assert buy.total + sell.total == pytest.approx(136.32)


def test_delivery_round_trip_100_reliance_at_2500() -> None:
    ch = IndianEquityCharges()
    buy = ch.compute(side="buy", quantity=100, price=2500.0, product="delivery")
    sell = ch.compute(side="sell", quantity=100, price=2500.0, product="delivery")
    # STT 0.001 * 250000 = 250 both sides; stamp 0.00015 * 250000 = 37.5 -> 38 on the buy
    assert buy == ChargeBreakdown(BROKERAGE, 250.0, EXCH, SEBI, 38.0, GST, 320.66, TURNOVER)
    assert sell == ChargeBreakdown(BROKERAGE, 250.0, EXCH, SEBI, 0.0, GST, 282.66, TURNOVER)


def test_components_sum_to_total() -> None:
    b = IndianEquityCharges().compute("sell", 37, 1234.55, "delivery")
    parts = b.brokerage + b.stt + b.exchange_txn + b.sebi + b.stamp_duty + b.gst
    assert b.total == pytest.approx(parts, abs=1e-9)


def test_intraday_brokerage_percentage_below_cap() -> None:
    # 10 shares at ₹500: turnover 5,000; 0.1 % = ₹5 < ₹20
    b = IndianEquityCharges().compute("buy", 10, 500.0, "intraday")
    assert b.brokerage == 5.0
    assert b.gst == pytest.approx(round(0.18 * (5.0 + 0.15 + 0.01), 2))  # txn 0.1485 -> 0.15
    # turnover exactly 20,000: 0.1 % = ₹20 = cap
    assert IndianEquityCharges().compute("buy", 8, 2500.0, "intraday").brokerage == 20.0
    # turnover 1,00,000: 0.1 % = ₹100, capped at ₹20
    assert IndianEquityCharges().compute("buy", 40, 2500.0, "intraday").brokerage == 20.0


def test_delivery_brokerage_percentage_below_cap() -> None:
    # 1 share at ₹400: 2.5 % = ₹10 < ₹20; 1 share at ₹2,500: 2.5 % = ₹62.5, capped at ₹20
    assert IndianEquityCharges().compute("buy", 1, 400.0, "delivery").brokerage == 10.0
    assert IndianEquityCharges().compute("buy", 1, 2500.0, "delivery").brokerage == 20.0


@pytest.mark.parametrize("product", ["intraday", "delivery"])
def test_stamp_duty_only_on_buys(product: str) -> None:
    ch = IndianEquityCharges()
    assert ch.compute("buy", 1000, 1000.0, product).stamp_duty > 0
    assert ch.compute("sell", 1000, 1000.0, product).stamp_duty == 0.0


def test_stt_sell_only_for_intraday_both_sides_for_delivery() -> None:
    ch = IndianEquityCharges()
    # turnover 10,00,000
    assert ch.compute("buy", 1000, 1000.0, "intraday").stt == 0.0
    assert ch.compute("sell", 1000, 1000.0, "intraday").stt == 250.0  # 0.025 %
    assert ch.compute("buy", 1000, 1000.0, "delivery").stt == 1000.0  # 0.1 %
    assert ch.compute("sell", 1000, 1000.0, "delivery").stt == 1000.0


def test_unrounded_mode_keeps_exact_rates() -> None:
    b = IndianEquityCharges(round_like_contract_note=False).compute("sell", 100, 2500.0)
    assert b.stt == pytest.approx(62.5)
    assert b.exchange_txn == pytest.approx(7.425)
    assert b.gst == pytest.approx(0.18 * (20 + 7.425 + 0.25))


def test_default_product_is_used_when_not_given() -> None:
    ch = IndianEquityCharges(product="delivery")
    assert ch.compute("buy", 100, 2500.0) == ch.compute("buy", 100, 2500.0, "delivery")


def test_zero_schedule_charges_nothing() -> None:
    b = IndianEquityCharges.zero().compute("sell", 100, 2500.0, "delivery")
    assert b.total == 0.0
    assert b.turnover == TURNOVER


def test_flat_commission_override_replaces_the_schedule() -> None:
    ch = IndianEquityCharges.from_config(0.001, "delivery")
    b = ch.compute("sell", 100, 2500.0)
    assert b.total == pytest.approx(0.001 * 250000) == pytest.approx(250.0)
    assert (b.stt, b.stamp_duty, b.gst, b.exchange_txn, b.sebi) == (0.0,) * 5
    # None keeps the published schedule
    sched = IndianEquityCharges.from_config(None, "intraday")
    assert sched == IndianEquityCharges()
    assert sched.compute("sell", 100, 2500.0).total == 95.66


@pytest.mark.parametrize(
    "kwargs",
    [
        {"side": "hold", "quantity": 1, "price": 1.0},
        {"side": "buy", "quantity": 0, "price": 1.0},
        {"side": "buy", "quantity": 1, "price": -5.0},
        {"side": "buy", "quantity": 1, "price": math.nan},
        {"side": "buy", "quantity": 1, "price": 1.0, "product": "mtf"},
    ],
)
def test_compute_rejects_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        IndianEquityCharges().compute(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("commission", [-0.001, 1.5, math.inf])
def test_from_config_rejects_bad_commission(commission: float) -> None:
    with pytest.raises(ValueError):
        IndianEquityCharges.from_config(commission, "intraday")


def test_from_config_rejects_bad_product() -> None:
    with pytest.raises(ValueError, match="product"):
        IndianEquityCharges.from_config(None, "futures")


# --- Backtrader hook ---------------------------------------------------------------------


def _reliance_bars(data_dir: Path, start: str, n: int) -> pd.DataFrame:
    f = data_dir / "nse_daily" / "RELIANCE.csv"
    df = pd.read_csv(f, header=0, skiprows=[1, 2]).rename(columns={"Price": "Date"})
    df["Date"] = pd.to_datetime(df["Date"])
    df = df[df["Date"] >= start].head(n).set_index("Date")
    return df[["Open", "High", "Low", "Close", "Volume"]].rename(columns=str.lower)


class _RoundTrip(bt.Strategy):  # type: ignore[misc]
    """Buy ``qty`` on bar 2, sell it on bar 6 (market orders fill at the next open)."""

    params = (("qty", 10),)

    def __init__(self) -> None:
        self.fills: list[tuple[float, float, float]] = []  # (signed size, price, comm)

    def next(self) -> None:
        if len(self) == 2:
            self.buy(size=self.p.qty)
        elif len(self) == 6:
            self.sell(size=self.p.qty)

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            ex = order.executed
            self.fills.append((ex.size, ex.price, ex.comm))


def _run(bars: pd.DataFrame, comminfo: bt.CommInfoBase, qty: int) -> tuple[_RoundTrip, float]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=bars))
    cerebro.broker.setcash(1_000_000.0)
    cerebro.broker.addcommissioninfo(comminfo)
    cerebro.addstrategy(_RoundTrip, qty=qty)
    strat = cerebro.run()[0]
    return strat, cerebro.broker.getcash()


@pytest.mark.parametrize("product", ["intraday", "delivery"])
def test_comminfo_matches_compute_in_a_real_backtrader_run(data_dir: Path, product: str) -> None:
    bars = _reliance_bars(data_dir, "2024-10-01", 10)
    ch = IndianEquityCharges()
    strat, cash = _run(bars, IndianEquityCommInfo(charges=ch, product=product), qty=50)
    assert len(strat.fills) == 2
    (bsize, bprice, bcomm), (ssize, sprice, scomm) = strat.fills
    assert (bsize, ssize) == (50, -50)
    # market orders fill at the next bar's open (bars 3 and 7)
    assert bprice == pytest.approx(bars["open"].iloc[2])
    assert sprice == pytest.approx(bars["open"].iloc[6])
    expect_buy = ch.compute("buy", 50, bprice, product).total
    expect_sell = ch.compute("sell", 50, sprice, product).total
    assert bcomm == pytest.approx(expect_buy, abs=1e-9)
    assert scomm == pytest.approx(expect_sell, abs=1e-9)
    assert bcomm > 0 and scomm > 0
    # the broker debited exactly these charges from cash
    expect_cash = 1_000_000.0 - 50 * bprice - expect_buy + 50 * sprice - expect_sell
    assert cash == pytest.approx(expect_cash, abs=1e-6)


def test_comminfo_flat_commission_equals_backtrader_percentage(data_dir: Path) -> None:
    bars = _reliance_bars(data_dir, "2024-10-01", 10)
    ours, cash_ours = _run(bars, IndianEquityCommInfo(flat_commission=0.001), qty=50)
    ref_info = bt.CommInfoBase(
        commission=0.001, stocklike=True, commtype=bt.CommInfoBase.COMM_PERC, percabs=True
    )
    ref, cash_ref = _run(bars, ref_info, qty=50)
    assert [f[2] for f in ours.fills] == pytest.approx([f[2] for f in ref.fills])
    assert cash_ours == pytest.approx(cash_ref)


def test_comminfo_rejects_unknown_product() -> None:
    with pytest.raises(ValueError, match="product"):
        IndianEquityCommInfo(product="futures")


def test_comminfo_zero_size_costs_nothing() -> None:
    assert IndianEquityCommInfo().getcommission(0, 100.0) == 0.0

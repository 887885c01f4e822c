"""Trade simulation: hand-built price paths whose trades are known by construction.

Expected prices, quantities and charges are worked out here from the rules (module docstring
of mixbot.ml.simulate) and from IndianEquityCharges called directly, never from simulate.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.backtest.metrics import compute_metrics
from mixbot.brokers.charges import IndianEquityCharges
from mixbot.ml.labels import BUY, HOLD, SELL
from mixbot.ml.simulate import (
    TOO_FEW_TRADES_SCORE,
    SimConfig,
    SimResult,
    day_index,
    objective_score,
    simulate,
    to_trade_records,
)

CHARGES = IndianEquityCharges()


def _bars(rows: list[tuple[float, float, float, float]]) -> dict[str, np.ndarray]:
    a = np.array(rows, dtype=np.float64)
    return {"open": a[:, 0], "high": a[:, 1], "low": a[:, 2], "close": a[:, 3]}


def _proba(n: int, buy: tuple[int, ...] = (), sell: tuple[int, ...] = ()) -> np.ndarray:
    p = np.zeros((n, 3))
    p[:, HOLD] = 1.0
    for i in buy:
        p[i] = 0.0
        p[i, BUY] = 0.95
    for i in sell:
        p[i] = 0.0
        p[i, SELL] = 0.95
    return p


def _run(
    rows: list[tuple[float, float, float, float]],
    buy: tuple[int, ...] = (0,),
    sell: tuple[int, ...] = (),
    day: list[int] | None = None,
    **kw: float,
) -> SimResult:
    b = _bars(rows)
    n = len(rows)
    cfg = SimConfig(**{"threshold": 0.9, "sl_mult": 2.0, "tp_mult": 3.0, "horizon": 10, **kw})  # type: ignore[arg-type]
    atr = np.full(n, 1.0)
    return simulate(b["open"], b["high"], b["low"], b["close"], atr, _proba(n, buy, sell), day, cfg)


FLAT = (100.0, 100.5, 99.5, 100.0)


def _one(res: SimResult) -> dict[str, object]:
    assert res.n_trades == 1, res.trades
    return res.trades[0]


def _expected_qty(cash: float, fill: float) -> int:
    q = math.floor(cash / fill)
    while q * fill + CHARGES.compute("buy", q, fill, "intraday").total > cash:
        q -= 1
    return q


def test_stop_hit_prices_qty_charges_and_equity() -> None:
    # signal at bar 0 close (ATR 1) -> buy at open[1] = 100; stop 98, target 103
    rows = [FLAT, FLAT, (100.0, 100.2, 97.5, 98.0), FLAT]
    res = _run(rows)
    t = _one(res)
    # 1,000 shares cost 100,000 + charges > cash: 999 shares
    assert _expected_qty(100_000.0, 100.0) == 999
    ce = CHARGES.compute("buy", 999, 100.0, "intraday").total
    cx = CHARGES.compute("sell", 999, 98.0, "intraday").total
    assert t["qty"] == 999 and t["signal_i"] == 0 and t["entry_i"] == 1 and t["exit_i"] == 2
    assert t["entry_price"] == 100.0 and t["exit_price"] == 98.0
    assert (t["stop"], t["target"]) == (98.0, 103.0)
    assert t["reason"] == "stop_loss"
    assert t["charges"] == pytest.approx(ce + cx)
    assert t["pnl_gross"] == pytest.approx(-2.0 * 999)
    assert t["pnl_net"] == pytest.approx(-2.0 * 999 - ce - cx)
    cash_in = 100_000.0 - 999 * 100.0 - ce
    assert res.equity[0] == 100_000.0
    assert res.equity[1] == pytest.approx(cash_in + 999 * 100.0)
    assert res.equity[2] == pytest.approx(cash_in + 999 * 98.0 - cx)
    assert res.equity[3] == res.equity[2]
    assert res.in_market.tolist() == [False, True, False, False]
    assert res.charges_paid == pytest.approx(ce + cx)


def test_target_hit() -> None:
    rows = [FLAT, FLAT, (100.0, 103.5, 99.9, 103.2), FLAT]
    t = _one(_run(rows))
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("take_profit", 2, 103.0)


def test_stop_and_target_in_one_bar_stop_first() -> None:
    rows = [FLAT, FLAT, (100.0, 104.0, 97.0, 103.5), FLAT]
    t = _one(_run(rows))
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("stop_loss", 2, 98.0)


def test_barriers_checked_on_the_fill_bar() -> None:
    rows = [FLAT, (100.0, 103.1, 99.0, 101.0), FLAT]
    t = _one(_run(rows))
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("take_profit", 1, 103.0)
    assert t["bars_held"] == 0


def test_gap_through_stop_fills_at_open_and_gap_over_target_at_open() -> None:
    t = _one(_run([FLAT, FLAT, (97.0, 97.5, 96.0, 97.0), FLAT]))
    assert (t["reason"], t["exit_price"]) == ("stop_loss", 97.0)
    t = _one(_run([FLAT, FLAT, (104.0, 104.5, 103.5, 104.0), FLAT]))
    assert (t["reason"], t["exit_price"]) == ("take_profit", 104.0)


def test_horizon_exit_at_next_open() -> None:
    rows = [FLAT] * 4 + [(100.3, 100.5, 99.5, 100.0), FLAT]
    t = _one(_run(rows, horizon=3))
    # signal bar 0, horizon 3: held through the close of bar 3, sold at open[4]
    assert (t["reason"], t["entry_i"], t["exit_i"], t["exit_price"]) == ("horizon", 1, 4, 100.3)


def test_sell_signal_exit_at_next_open() -> None:
    rows = [FLAT, FLAT, FLAT, (100.2, 100.5, 99.5, 100.0), FLAT]
    t = _one(_run(rows, sell=(2,)))
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("signal", 3, 100.2)


def test_square_off_at_day_end_close_and_no_entry_on_last_bar() -> None:
    rows = [FLAT, FLAT, (100.0, 100.5, 99.5, 100.35), FLAT, FLAT, FLAT]
    day = [0, 0, 0, 1, 1, 1]
    t = _one(_run(rows, day=day))
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("square_off", 2, 100.35)
    # a BUY on the last bar of a day (2) or of the data (5) is not taken
    res = _run(rows, buy=(2, 5), day=day)
    assert res.n_trades == 0 and np.all(res.equity == 100_000.0)
    # a SELL at the day's last close does not delay the square-off to the next open
    t = _one(_run(rows, sell=(2,), day=day))
    assert (t["reason"], t["exit_i"]) == ("square_off", 2)


def test_end_of_data_and_next_entry_after_exit() -> None:
    rows = [FLAT, FLAT, (100.0, 100.2, 97.5, 98.0), FLAT, FLAT]
    res = _run(rows, buy=(0, 1, 2))  # bar 1's BUY comes while long: ignored
    assert [(t["signal_i"], t["reason"]) for t in res.trades] == [
        (0, "stop_loss"),
        (2, "end_of_data"),
    ]
    assert res.trades[1]["exit_i"] == 4 and res.trades[1]["exit_price"] == 100.0


def test_slippage_and_ticks() -> None:
    # 10 bps: buy at min(100 * 1.001, high) = 100.1 (on the 0.05 grid); stop 98.1 - 2 * 1
    # rounded down = 98.1; the stop fill slips to 98.1 * 0.999 = 98.0019 -> 98.0 (down)
    rows = [FLAT, FLAT, (100.0, 100.2, 97.5, 98.0), FLAT]
    t = _one(_run(rows, slippage_bps=10.0))
    assert t["entry_price"] == 100.1 and t["stop"] == 98.1 and t["target"] == 103.1
    assert t["exit_price"] == 98.0
    # buy slip capped at the bar's high (100.05), exit at the open slipped but not below low
    rows = [FLAT, (100.0, 100.05, 99.5, 100.0), (100.0, 100.2, 99.99, 100.0), FLAT]
    t = _one(_run(rows, slippage_bps=10.0, sell=(1,)))
    assert t["entry_price"] == 100.05
    assert t["exit_price"] == 100.0  # 99.9 is below the low 99.99: the low, rounded UP


def test_flat_commission_and_position_size() -> None:
    rows = [FLAT, FLAT, (100.0, 103.5, 99.9, 103.2), FLAT]
    cfg_kw = {"position_size": 0.5, "charges": IndianEquityCharges(flat_commission=0.001)}
    t = _one(_run(rows, **cfg_kw))  # type: ignore[arg-type]
    assert t["qty"] == 500
    assert t["charges"] == pytest.approx(500 * 100 * 0.001 + 500 * 103 * 0.001)


def test_config_validation_and_short() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SimConfig(threshold=1.5)
    with pytest.raises(ValueError, match="product"):
        SimConfig(product="futures")
    with pytest.raises(NotImplementedError):
        _run([FLAT, FLAT], allow_short=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="proba"):
        b = _bars([FLAT, FLAT])
        simulate(
            b["open"],
            b["high"],
            b["low"],
            b["close"],
            np.ones(2),
            np.ones((2, 2)),
            None,
            SimConfig(),
        )


def test_nan_proba_and_nan_atr_do_not_trade() -> None:
    rows = [FLAT] * 4
    b = _bars(rows)
    p = _proba(4, buy=(0, 1))
    p[0] = np.nan
    atr = np.array([1.0, np.nan, 1.0, 1.0])
    res = simulate(b["open"], b["high"], b["low"], b["close"], atr, p, None, SimConfig())
    assert res.n_trades == 0


def test_objective_score_too_few_trades() -> None:
    rows = [FLAT, FLAT, (100.0, 103.5, 99.9, 103.2), FLAT]
    res = _run(rows)
    score, reason = objective_score(res)
    assert score == TOO_FEW_TRADES_SCORE == -10.0
    assert reason == "1 trades < 5: too few for a Sharpe"
    score, reason = objective_score(res, min_trades=1)  # one trade, daily bars: 3 returns
    assert score == res.sharpe and reason.startswith("sharpe ")
    flat = _run([FLAT] * 3, buy=())
    assert flat.sharpe is None
    assert objective_score(flat, min_trades=0)[0] == TOO_FEW_TRADES_SCORE
    assert "undefined" in objective_score(flat, min_trades=0)[1]


def _minute_bars(data_dir: Path, n_days: int = 40) -> pd.DataFrame:
    path = data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"
    if not path.is_file():
        pytest.skip(f"missing {path}")
    names = ["symbol", "date", "time", "open", "high", "low", "close", "volume", "oi"]
    df = pd.read_csv(path, header=None, names=names)
    ist = pd.to_datetime(df["date"].astype(str) + " " + df["time"], format="%Y%m%d %H:%M")
    df.index = ist.dt.tz_localize("Asia/Kolkata").dt.tz_convert("UTC").dt.tz_localize(None)
    days = df.index.normalize().unique()[:n_days]
    return df[df.index.normalize().isin(days)]


def test_sharpe_agrees_with_compute_metrics_on_real_minute_data(data_dir: Path) -> None:
    df = _minute_bars(data_dir)
    n = len(df)
    rng = np.random.default_rng(7)
    p = rng.dirichlet([1.0, 1.0, 1.0], n)
    close = df["close"].to_numpy()
    atr = pd.Series(df["high"] - df["low"]).rolling(14).mean().to_numpy()
    day = day_index(df.index.to_numpy())
    cfg = SimConfig(threshold=0.7, horizon=15, capital=1_000_000.0, slippage_bps=1.0)
    res = simulate(df["open"], df["high"], df["low"], close, atr, p, day, cfg)
    assert res.n_trades > 20
    m = compute_metrics(pd.Series(res.equity, index=df.index), to_trade_records(res, df.index))
    assert res.sharpe is not None and m.sharpe is not None
    assert res.sharpe == pytest.approx(m.sharpe, rel=1e-9)
    assert m.n_trades == res.n_trades
    assert m.charges_paid == pytest.approx(res.charges_paid)
    assert m.total_return_pct == pytest.approx(res.net_return_pct)
    assert len(res.daily_returns) == len(np.unique(day))
    # every trade is squared off the same (IST) day it was entered
    assert all(day[t["entry_i"]] == day[t["exit_i"]] for t in res.trades)
    # the equity identity: capital + sum of net P&L = final equity
    assert res.equity[-1] == pytest.approx(cfg.capital + sum(t["pnl_net"] for t in res.trades))


def test_sharpe_agrees_with_compute_metrics_on_daily_bars() -> None:
    rng = np.random.default_rng(3)
    n = 300
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high, low = np.maximum(open_, close) * 1.005, np.minimum(open_, close) * 0.995
    p = rng.dirichlet([1.0, 1.0, 1.0], n)
    when = pd.date_range("2020-01-01 10:00", periods=n, freq="D")
    res = simulate(open_, high, low, close, np.full(n, 1.5), p, None, SimConfig(threshold=0.6))
    m = compute_metrics(pd.Series(res.equity, index=when), [])
    assert res.n_trades > 5 and res.sharpe == pytest.approx(m.sharpe, rel=1e-9)


def test_day_index_uses_ist_calendar_days() -> None:
    # 18:29 UTC is 23:59 IST; 18:30 UTC is 00:00 IST of the next day
    when = np.array(["2019-01-01T03:46", "2019-01-01T18:29", "2019-01-01T18:30"], "datetime64[m]")
    d = day_index(when)
    assert d[0] == d[1] and d[2] == d[1] + 1
    assert d[0] == np.datetime64("2019-01-01", "D").astype(np.int64)


def test_close_barriers_like_the_engine_exit_mixin() -> None:
    # intrabar the stop (98) is touched in bar 2, but bar 2 closes at 98.5: no close-based
    # exit; bar 3 closes at 97.9 <= 98 -> stop_loss at open[4]
    rows = [FLAT, FLAT, (100.0, 100.2, 97.5, 98.5), (98.5, 98.6, 97.8, 97.9), (97.7, 98, 97, 97.5)]
    assert _one(_run(rows))["reason"] == "stop_loss" and _one(_run(rows))["exit_i"] == 2
    t = _one(_run(rows, barriers="close"))  # type: ignore[arg-type]
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("stop_loss", 4, 97.7)
    # a close at/above the target -> take_profit at the next open; a SELL the same way
    rows = [FLAT, FLAT, (100.0, 103.5, 99.9, 103.2), (103.1, 103.5, 103, 103.2), FLAT]
    t = _one(_run(rows, barriers="close"))  # type: ignore[arg-type]
    assert (t["reason"], t["exit_i"], t["exit_price"]) == ("take_profit", 3, 103.1)
    t = _one(_run([FLAT] * 5, sell=(2,), barriers="close"))  # type: ignore[arg-type]
    assert (t["reason"], t["exit_i"]) == ("signal", 3)
    with pytest.raises(ValueError, match="barriers"):
        SimConfig(barriers="open")

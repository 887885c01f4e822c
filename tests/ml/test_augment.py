"""Trade-log augmentation on a fixture trade log of real RELIANCE daily bars read back from
a real store: signal-bar mapping, labels, weights, counts, the leak guard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.ml.trade_log_fixture import RealBars, make_trade, pick_trades, real_bars, write_store

from mixbot.ml.augment import OUTCOMES, augment, describe, signal_bars
from mixbot.ml.labels import BUY, SELL

WARMUP = 60  # windows start here (bars before it have no window, as in training)
BIG = 2.0  # big_loss_pct of the tests: a net loss above 2 % of notional


@pytest.fixture(scope="module")
def bars(data_dir: Path) -> RealBars:
    return real_bars(data_dir, "RELIANCE")


Rows = list[dict[str, Any]]


@pytest.fixture()
def stored(bars: RealBars, tmp_path: Path) -> tuple[Rows, Rows]:
    """(fixture trades with their bar bookkeeping, the same trades as the store returns them):
    3 winners, 3 losers of >= 3 % (big), 3 losers that are small (picked below 2 %)."""
    wins_big = pick_trades(bars, 3000, 3, 3, "take_profit", "stop_loss", min_loss_pct=3.0)
    small = [
        t
        for t in pick_trades(bars, 4000, 0, 12, "", "stop_loss")
        if -t["pnl_net"] / (t["entry_price"] * t["qty"]) * 100 < BIG
    ][:3]
    assert len(small) == 3
    trades = sorted(wins_big + small, key=lambda t: t["exit_time"])
    store = write_store(f"sqlite:///{tmp_path / 's.sqlite'}", "aug", trades)
    rows = store.trades()
    assert [r["entry_tag"] for r in rows] == [t["entry_tag"] for t in trades]
    return trades, rows


def _windows(bars: RealBars) -> np.ndarray:
    return np.arange(WARMUP, len(bars.end), dtype=np.int64)


def test_winners_duplicated_big_losers_contrary_small_ignored(
    bars: RealBars, stored: tuple[Rows, Rows]
) -> None:
    trades, rows = stored
    sample_bar = _windows(bars)
    aug = augment(sample_bar, bars.end, rows, big_loss_pct=BIG, win_weight=3.0, loss_weight=1.5)
    expect = []
    for t in trades:
        loss_pct = -t["pnl_net"] / (t["entry_price"] * t["qty"]) * 100
        if t["pnl_net"] > 0:
            expect.append((t["signal_bar"], BUY, 3.0))
        elif loss_pct > BIG:
            expect.append((t["signal_bar"], SELL, 1.5))
    assert [e[1] for e in expect].count(BUY) == 3 and [e[1] for e in expect].count(SELL) == 3
    assert aug.extra_bar.tolist() == [e[0] for e in expect]
    assert sample_bar[aug.extra_index].tolist() == [e[0] for e in expect]
    assert aug.extra_label.tolist() == [e[1] for e in expect]
    assert aug.extra_weight.tolist() == [e[2] for e in expect]
    r = aug.report
    assert (r["trades"], r["winners"], r["big_losers"], r["small"], r["extra"]) == (9, 3, 3, 3, 6)
    assert r["extra_weight_total"] == 3 * 3.0 + 3 * 1.5
    assert sum(r[k] for k in OUTCOMES) == r["trades"]
    assert "6 extra samples" in describe(r) and "3 small" in describe(r)


def test_signal_bar_is_the_bar_before_the_fill(bars: RealBars) -> None:
    s = 5000
    paper = bars.end[s + 1]  # a paper fill is stamped with the fill bar's END time
    live = bars.end[s] + np.timedelta64(17, "h") + np.timedelta64(45, "m")  # next day 09:15 IST
    during_s = bars.end[s]  # a fill stamped at bar s's end filled during bar s
    before, after = bars.end[0] - np.timedelta64(1, "D"), bars.end[-1] + np.timedelta64(1, "h")
    got = signal_bars(bars.end, [paper, live, during_s, before, after])
    assert got.tolist() == [s, s, s - 1, -1, -1]
    assert signal_bars(bars.end, [_py_dt(paper)]).tolist() == [s]  # a datetime works too


def _py_dt(t: np.datetime64) -> dt.datetime:
    return t.astype("datetime64[us]").item()


def test_short_trades_mirror_the_labels(bars: RealBars) -> None:
    shorts = [make_trade(bars, s, 5, "signal", side="short") for s in range(3000, 3400, 7)]
    win = next(t for t in shorts if t["pnl_net"] > 0)
    loss = next(t for t in shorts if -t["pnl_net"] / (t["entry_price"] * t["qty"]) > 0.03)
    aug = augment(_windows(bars), bars.end, [win, loss], big_loss_pct=3.0)
    assert aug.extra_label.tolist() == [SELL, BUY]
    assert aug.extra_bar.tolist() == [win["signal_bar"], loss["signal_bar"]]


def test_trades_without_a_window_or_bar_are_counted(bars: RealBars) -> None:
    early = make_trade(bars, WARMUP - 10, 3, "take_profit")  # in the warm-up: no window
    late = make_trade(bars, len(bars.end) - 6, 3, "take_profit")
    late = {**late, "entry_time": _py_dt(bars.end[-1] + np.timedelta64(1, "D"))}
    bad = {**make_trade(bars, 3000, 3, "signal"), "qty": 0.0}
    other = {**make_trade(bars, 3100, 3, "signal"), "symbol": "TCS"}
    aug = augment(_windows(bars), bars.end, [early, late, bad, other], symbol="RELIANCE")
    r = aug.report
    assert (r["no_window"], r["no_signal_bar"], r["invalid"], r["other_symbol"]) == (1, 1, 1, 1)
    assert r["extra"] == 0 and aug.extra_index.size == 0
    assert r["examples"]["no_window"] == [str(early["entry_time"])]


def test_allowed_mask_keeps_out_of_sample_trades_out(
    bars: RealBars, stored: tuple[Rows, Rows]
) -> None:
    trades, rows = stored
    used = [t for t in trades if t["pnl_net"] > 0]
    # the training portion ends inside the second winner's holding period: its signal bar is
    # in training but its outcome (the exit) is in the test part
    cut = used[1]["signal_bar"] + 2
    assert used[1]["exit_bar"] >= cut
    mask = np.arange(len(bars.end)) < cut
    for allowed in (mask, (0, cut)):
        aug = augment(_windows(bars), bars.end, rows, big_loss_pct=BIG, allowed=allowed)
        inside = [t for t in trades if t["exit_bar"] < cut]
        outside = [t for t in trades if t["exit_bar"] >= cut]
        assert aug.report["not_allowed"] == len(outside) > 1
        expected_bars = [
            t["signal_bar"]
            for t in inside
            if t["pnl_net"] > 0 or -t["pnl_net"] / (t["entry_price"] * t["qty"]) * 100 > BIG
        ]
        assert aug.extra_bar.tolist() == expected_bars
        assert used[1]["signal_bar"] not in aug.extra_bar.tolist()
        assert all(b < cut for b in aug.extra_bar.tolist())


def test_bad_arguments(bars: RealBars) -> None:
    with pytest.raises(ValueError, match="allowed mask"):
        augment(_windows(bars), bars.end, [], allowed=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match=">= 0"):
        augment(_windows(bars), bars.end, [], win_weight=-1.0)
    empty = augment(_windows(bars), bars.end, [])
    assert empty.report["trades"] == 0 and empty.extra_label.dtype == np.int8

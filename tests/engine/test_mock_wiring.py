"""The mock broker end to end: ``config/trading/mock_wiring_check.json`` runs as a replayed
session, and every trade's entry and exit price is the close of the bar it was signalled on
in the real BANKNIFTY file (no slippage, no charges). The fill is reported, and the trade's
time recorded, on the next bar (Backtrader's cheat-on-close executes at the next broker
turn at the order's creation close), as in a backtest of the same config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.engine.test_parity import key, make_cfg

from mixbot.engine.backtest import run_backtest
from mixbot.engine.runner import Bot
from mixbot.feeds.series import prepare_series


def test_mock_session_fills_at_the_signal_bars_close(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'mock.sqlite'}")
    cfg = make_cfg("mock_wiring_check.json", tmp_path)
    bot = Bot(cfg, fresh=True)
    result = bot.run()
    assert bot.state == "finished"
    assert len(result.trades) >= 3
    bars = prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt",
        interval_minutes=1,
        tz="Asia/Kolkata",
        date_from="2019-01-01",
        date_to="2019-01-03",
    )
    ends = bars.end.astype("datetime64[s]")
    for t in result.trades:
        for when, price in ((t.entry_time, t.entry_price), (t.exit_time, t.exit_price)):
            (i,) = np.flatnonzero(ends == np.datetime64(when.replace(tzinfo=None), "s"))
            assert price == float(bars.close[i - 1]), (when, price)  # the signal bar's close
        assert t.charges == 0.0
    backtest = run_backtest(cfg, progress=False)
    assert [key(t) for t in result.trades] == [key(t) for t in backtest.trades]

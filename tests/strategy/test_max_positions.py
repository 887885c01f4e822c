"""``trading.max_positions`` (schema: the maximum number of open positions at once, across
symbols) refuses a new entry while the bot's broker already holds that many positions.

Real data: the RELIANCE daily bot of ``config/trading/0001.json`` runs on an account that also
holds one TCS share, bought on the first bar by a second strategy on the same broker (a
position of another symbol). With ``max_positions`` 1 every RELIANCE entry is refused for
it; with 2 the bot enters on the same bars as the same bot on an account holding nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pytest

from mixbot.config.model import BotConfig
from mixbot.config.model import build as build_config
from mixbot.config.validate import validate_file
from mixbot.engine.backtest import RunResult, collect
from mixbot.engine.build import build, make_feed
from mixbot.paths import REPO_ROOT


class _HoldOne(bt.Strategy):  # type: ignore[misc]  # Backtrader's metaclass base is untyped
    """Buys one share of ``data1`` (TCS) on the first bar and keeps it."""

    def next(self) -> None:
        if not self.getposition(self.datas[1]).size and not getattr(self, "sent", False):
            self.sent = True
            self.buy(data=self.datas[1], size=1)


def _cfg(tmp_path: Path, data_dir: Path, max_positions: int, symbol: str = "RELIANCE") -> BotConfig:
    doc = json.loads((REPO_ROOT / "config" / "trading" / "0001.json").read_text())
    doc["trading"]["max_positions"] = max_positions
    doc["trading"]["symbol"] = doc["data"]["symbol"] = symbol
    doc["data"]["path"] = str(data_dir / "nse_daily" / f"{symbol}.csv")
    doc["data"]["to"] = "2012-12-31"
    doc["logging"]["log_file"] = str(tmp_path / "logs" / "bot.log")
    path = tmp_path / f"{symbol}_{max_positions}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc))
    assert report.ok, [p.render() for p in report.errors]
    return build_config(report.effective, path)


def _run(tmp_path: Path, data_dir: Path, max_positions: int, hold_tcs: bool) -> RunResult:
    cfg = _cfg(tmp_path, data_dir, max_positions)
    built = build(cfg, "backtest", logs_root=tmp_path / "logs")
    if hold_tcs:
        other, series = make_feed(_cfg(tmp_path, data_dir, max_positions, "TCS"), "backtest")
        assert series is not None and built.series is not None
        # same bar times, so both feeds advance together (one next() per bar)
        assert np.array_equal(series.end, built.series.end)
        built.cerebro.adddata(other)
        built.cerebro.addstrategy(_HoldOne)
    try:
        built.cerebro.run()
        held: Any = built.cerebro.broker.getposition(built.cerebro.datas[-1]).size
        assert held == (1 if hold_tcs else 0)
        return collect(built)
    finally:
        built.runtime.journal.close()


def test_max_positions_refuses_entries_while_another_position_is_held(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    alone = _run(tmp_path, data_dir, 1, hold_tcs=False)
    assert len(alone.trades) >= 3  # the rule has entries to refuse
    assert "max_positions 1 reached" not in alone.refusals

    full = _run(tmp_path, data_dir, 1, hold_tcs=True)
    assert full.trades == []
    # every entry signal after TCS was bought is refused for max_positions
    assert full.refusals.get("max_positions 1 reached", 0) >= len(alone.trades)

    room = _run(tmp_path, data_dir, 2, hold_tcs=True)
    assert "max_positions 2 reached" not in room.refusals
    assert [t.entry_time for t in room.trades] == [t.entry_time for t in alone.trades]

"""A session on the Yahoo feed (through the simulator, paper broker) trades exactly like the
same config replaying the file the simulator serves (``data_source: replay``): same bars,
same trades. The simulator's clock moves one step per poll of the feed (no wall time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from yahoo_rig import DAILY, MINUTE, SimDrivenClock

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.engine.runner import Bot
from mixbot.paths import REPO_ROOT
from mixbot.venues.yahoo import wiring
from mixbot.venues.yahoo.client import ChartClient

CFG_DIR = REPO_ROOT / "config" / "trading"


def make_cfg(name: str, base: str, tmp_path: Path, **sections: dict[str, Any]) -> BotConfig:
    doc = json.loads((CFG_DIR / base).read_text())
    for sec, fields in sections.items():
        doc.setdefault(sec, {}).update(fields)
        for k in [k for k, v in fields.items() if v is None]:  # None: leave the key out
            del doc[sec][k]
    doc["bot_id"] = name
    doc.setdefault("logging", {})["log_file"] = f"logs/{name}/bot.log"
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text())
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def key(t: Any) -> tuple[Any, ...]:
    return (t.entry_time, t.exit_time, t.size, t.entry_price, t.exit_price, t.exit_reason,
            round(t.charges, 6), t.bars_held)  # fmt: skip


def run_both(
    monkeypatch: pytest.MonkeyPatch, sim: Any, step: float, replay: BotConfig, yahoo: BotConfig
) -> tuple[Any, Any, Any]:
    clock = SimDrivenClock(sim, step)
    made: list[Any] = []
    original = wiring.yahoo_feed

    def feed(cfg: Any, **kw: Any) -> Any:
        kw.setdefault("clock", clock)
        kw.setdefault("client_factory", lambda sleep: ChartClient(sleep=sleep))
        made.append(original(cfg, **kw))
        return made[-1]

    monkeypatch.setattr(wiring, "yahoo_feed", feed)
    by_file = Bot(replay).run()
    bot = Bot(yahoo)
    on_yahoo = bot.run()
    assert bot.state == "finished"
    return by_file, on_yahoo, made[0]


def assert_same(by_file: Any, on_yahoo: Any, min_trades: int) -> None:
    assert len(by_file.trades) >= min_trades
    assert on_yahoo.bars == by_file.bars
    assert (on_yahoo.equity.index == by_file.equity.index).all()
    assert [key(t) for t in on_yahoo.trades] == [key(t) for t in by_file.trades]
    assert on_yahoo.bars == by_file.bars
    assert on_yahoo.final_value == pytest.approx(by_file.final_value, abs=1e-6)
    assert (on_yahoo.equity.index == by_file.equity.index).all()


def test_intraday_5m_session_trades_like_the_replay(
    make_sim: Any, data_dir: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim("2019-01-01", "2019-01-18", daily=False)
    common = {"interval": "5m", "from": "2019-01-01", "to": "2019-01-18", "lookback_bars": 0}
    strategy = {"entry_logic": {"name": "RSIBBEntryMixin",
                                "params": {"e_rsi_oversold": 30, "e_bb_dev": 2.0}},
                "exit_logic": {"name": "ATRExitMixin", "params": {"x_trailing": True}}}  # fmt: skip
    replay = make_cfg("replay5m", "0003.json", in_tmp, strategy=strategy, data={
        **common, "data_source": "replay", "path": str(data_dir / MINUTE), "speed": 0,
        "replay_as": "bars"})  # fmt: skip
    yahoo = make_cfg("yahoo5m", "0003.json", in_tmp, strategy=strategy,
                     data={**common, "data_source": "yahoo", "symbol": "BANKNIFTY.NS",
                           "path": None},
                     trading={"symbol": "BANKNIFTY.NS"}, yahoo={"poll_seconds": 5})  # fmt: skip
    by_file, on_yahoo, feed = run_both(monkeypatch, sim, 1500.0, replay, yahoo)
    assert_same(by_file, on_yahoo, 3)
    assert feed.polls > 50 and feed.failed_polls == 0
    assert all(c[1] == "1m" for c in sim.chart_requests())  # 1-minute source bars


def test_daily_session_trades_like_the_replay(
    make_sim: Any, data_dir: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim("2016-01-01", "2019-12-31", minute=False)
    common = {"interval": "1d", "from": "2016-01-01", "to": "2019-12-31"}
    replay = make_cfg("replay1d", "0001.json", in_tmp, data={
        **common, "data_source": "replay", "path": str(data_dir / DAILY), "speed": 0})  # fmt: skip
    yahoo = make_cfg("yahoo1d", "0001.json", in_tmp,
                     data={**common, "data_source": "yahoo", "symbol": "RELIANCE.NS",
                           "path": None},
                     trading={"symbol": "RELIANCE.NS"})  # fmt: skip
    by_file, on_yahoo, _ = run_both(monkeypatch, sim, 3 * 23700.0, replay, yahoo)
    assert_same(by_file, on_yahoo, 3)


def test_live_example_runs_to_the_end(
    make_sim: Any, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """config/trading/live/yahoo_paper_reliance.json against the simulator of its
    description: the paper broker trades on the polled bars and the run finishes after the
    close of data.to."""
    from mixbot.config.load import load_config

    sim = make_sim("2019-01-01", "2019-12-31", minute=False)
    cfg = load_config(CFG_DIR / "live" / "yahoo_paper_reliance.json")
    clock = SimDrivenClock(sim, 5 * 23700.0)
    original = wiring.yahoo_feed
    monkeypatch.setattr(
        wiring,
        "yahoo_feed",
        lambda c, **kw: original(
            c, clock=clock, client_factory=lambda sleep: ChartClient(sleep=sleep), **kw
        ),
    )
    bot = Bot(cfg)
    result = bot.run()
    assert bot.state == "finished"
    assert len(result.trades) >= 1 and result.open_position == 0
    assert result.bars == 243  # every trading day of 2019

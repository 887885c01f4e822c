"""Parity: a config run as a backtest and as a replayed paper session (speed 0) trades
identically: same entries, exits, sizes, prices, reasons and final value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.engine.backtest import run_backtest
from mixbot.engine.runner import Bot
from mixbot.paths import REPO_ROOT

CFG_DIR = REPO_ROOT / "config" / "trading"


def make_cfg(name: str, tmp_path: Path, **sections: dict) -> BotConfig:  # type: ignore[type-arg]
    doc = json.loads((CFG_DIR / name).read_text())
    for sec, fields in sections.items():
        doc.setdefault(sec, {}).update(fields)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc))
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def key(t) -> tuple:  # type: ignore[no-untyped-def,type-arg]
    return (
        t.entry_time,
        t.exit_time,
        t.size,
        t.entry_price,
        t.exit_price,
        t.exit_reason,
        round(t.charges, 6),
        t.bars_held,
    )


def both(cfg: BotConfig):  # type: ignore[no-untyped-def]
    bt_res = run_backtest(cfg, progress=False)
    bot = Bot(cfg)
    live = bot.run()
    assert bot.state == "finished"
    return bt_res, live


def assert_parity(bt_res, live, min_trades: int) -> None:  # type: ignore[no-untyped-def]
    assert len(bt_res.trades) >= min_trades
    assert [key(t) for t in live.trades] == [key(t) for t in bt_res.trades]
    assert live.final_value == pytest.approx(bt_res.final_value, abs=1e-6)
    assert live.final_cash == pytest.approx(bt_res.final_cash, abs=1e-6)
    assert live.bars == bt_res.bars
    assert live.refusals == bt_res.refusals
    assert live.equity.to_numpy() == pytest.approx(bt_res.equity.to_numpy(), abs=1e-6)
    assert (live.equity.index == bt_res.equity.index).all()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_parity_banknifty_1m_bars(data_dir: Path, in_tmp: Path) -> None:
    cfg = make_cfg(
        "0003.json",
        in_tmp,
        data={
            "path": str(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"),
            "data_source": "replay",
            "interval": "1m",
            "replay_as": "bars",
            "speed": 0,
            "from": "2019-01-01",
            "to": "2019-01-25",
        },
    )
    bt_res, live = both(cfg)
    assert_parity(bt_res, live, 8)
    reasons = {t.exit_reason for t in bt_res.trades}
    assert len(reasons) >= 2


def test_parity_banknifty_5m_ticks(data_dir: Path, in_tmp: Path) -> None:
    cfg = make_cfg(
        "0003.json",
        in_tmp,
        data={
            "path": str(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"),
            "data_source": "replay",
            "interval": "5m",
            "replay_as": "ticks",
            "speed": 0,
            "from": "2019-01-01",
            "to": "2019-02-28",
        },
        strategy={
            "entry_logic": {
                "name": "RSIBBEntryMixin",
                "params": {"e_rsi_oversold": 30, "e_bb_dev": 2.0},
            },
            "exit_logic": {"name": "ATRExitMixin", "params": {"x_trailing": True}},
        },
    )
    bt_res, live = both(cfg)
    assert_parity(bt_res, live, 5)
    # 5-minute bars ending on the 5-minute grid from 09:15 IST (post-close prints dropped)
    ends = bt_res.equity.index.round("s")
    assert (ends.minute % 5 == 0).all() and (ends.second == 0).all()
    assert ends.is_unique
    # long-only: a same-bar exit cancels the just-placed stop/target, nothing goes short
    assert bt_res.open_position >= 0
    assert all(t.size > 0 for t in bt_res.trades)


def test_parity_daily(data_dir: Path, in_tmp: Path) -> None:
    cfg = make_cfg(
        "0001.json",
        in_tmp,
        data={
            "path": str(data_dir / "nse_daily/RELIANCE.csv"),
            "data_source": "replay",
            "speed": 0,
            "from": "2012-01-01",
            "to": "2020-12-31",
        },
    )
    bt_res, live = both(cfg)
    assert_parity(bt_res, live, 10)

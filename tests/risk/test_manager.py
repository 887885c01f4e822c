"""RiskManager unit tests: session rules, daily limits, exposure, sizing and the drawdown halt."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT
from mixbot.risk.manager import RiskManager

CFG = REPO_ROOT / "config" / "trading" / "0003.json"


def make(**sections: dict) -> RiskManager:  # type: ignore[type-arg]
    doc = json.loads(CFG.read_text())
    doc = copy.deepcopy(doc)
    # no data file needed: these tests never read bars (and must run without ../shared/data)
    doc["data"]["data_source"] = "yahoo"
    doc["data"].pop("path", None)
    for sec, fields in sections.items():
        doc.setdefault(sec, {}).update(fields)
    report = validate_file(CFG, text=json.dumps(doc))
    assert report.ok, [p.render() for p in report.errors]
    cfg = build(report.effective, Path(CFG))
    return RiskManager(
        cfg.trading, cfg.risk, cfg.market, intraday_bars=cfg.data.interval_minutes < 1440
    )


def hm(t: str) -> int:
    return int(t[:2]) * 60 + int(t[3:])


D1, D2 = dt.date(2019, 1, 1), dt.date(2019, 1, 2)
EQ = 2_000_000.0


def test_session_window_and_no_new_entry_after() -> None:
    rm = make()
    rm.new_bar(D1)
    # bar END times: 09:15 is the open itself (no bar ends there), 09:16 is the first bar
    assert rm.check_entry(hm("09:15"), 0, EQ, 0) == "outside the session"
    assert rm.check_entry(hm("09:00"), 0, EQ, 0) == "outside the session"
    assert rm.check_entry(hm("09:16"), 0, EQ, 0) is None
    assert rm.check_entry(hm("15:00"), 0, EQ, 0) is None
    assert rm.check_entry(hm("15:01"), 0, EQ, 0).startswith("after no_new_entry_after (15:00)")
    assert rm.check_entry(hm("15:31"), 0, EQ, 0) == "outside the session"


def test_square_off_time_blocks_entries_without_no_new_entry_after() -> None:
    rm = make(market={"no_new_entry_after": None, "square_off_at": "15:15"})
    rm.new_bar(D1)
    assert rm.check_entry(hm("15:14"), 0, EQ, 0) is None
    assert rm.check_entry(hm("15:15"), 0, EQ, 0) == "at or after the square-off time"
    # delivery product: no square-off rule
    rm = make(
        market={"no_new_entry_after": None, "square_off_at": "15:15"},
        trading={"product": "delivery"},
    )
    rm.new_bar(D1)
    assert rm.check_entry(hm("15:20"), 0, EQ, 0) is None


def test_daily_bars_skip_session_rules() -> None:
    rm = make()
    rm.intraday_bars = False
    rm.new_bar(D1)
    assert rm.check_entry(hm("15:30"), 0, EQ, 0) is None


def test_max_positions() -> None:
    rm = make(trading={"max_positions": 2, "max_exposure": 5.0})
    rm.new_bar(D1)
    assert rm.check_entry(600, 1, EQ, 0) is None
    assert rm.check_entry(600, 2, EQ, 0) == "max_positions 2 reached"


def test_max_daily_trades_resets_next_day() -> None:
    rm = make(risk_management={"max_daily_trades": 3})
    rm.new_bar(D1)
    for _ in range(3):
        assert rm.check_entry(600, 0, EQ, 0) is None
        rm.on_entry()
    assert rm.check_entry(600, 0, EQ, 0) == "max_daily_trades 3 reached today"
    rm.new_bar(D1)  # same day: still blocked
    assert rm.check_entry(700, 0, EQ, 0) is not None
    rm.new_bar(D2)
    assert rm.check_entry(600, 0, EQ, 0) is None


def test_max_daily_loss_blocks_rest_of_day_only() -> None:
    rm = make(risk_management={"max_daily_loss": 1000.0, "max_daily_trades": None})
    rm.new_bar(D1)
    rm.on_entry()
    rm.on_trade_closed(-600.0)
    assert rm.check_entry(600, 0, EQ, 0) is None  # -600 > -1000
    rm.on_entry()
    rm.on_trade_closed(250.0)
    rm.on_entry()
    rm.on_trade_closed(-650.0)  # day total -1000: the limit is reached
    reason = rm.check_entry(601, 0, EQ, 0)
    assert reason is not None and reason.startswith("max_daily_loss 1000.00 INR reached today")
    assert "(-1000.00)" in reason
    for minute in (700, 800, 900):
        assert rm.check_entry(minute, 0, EQ, 0) is not None
    rm.new_bar(D2)
    assert rm.check_entry(600, 0, EQ, 0) is None
    assert rm.state.today.realized_pnl == 0.0 and rm.state.today.entries == 0


def test_max_exposure() -> None:
    rm = make(trading={"position_size": 0.4, "max_exposure": 1.0, "max_positions": 5})
    rm.new_bar(D1)
    assert rm.check_entry(600, 1, EQ, 0.6 * EQ) is None  # 0.6 + 0.4 = 1.0: allowed
    assert rm.check_entry(600, 1, EQ, 0.61 * EQ) == "max_exposure 1.00 would be exceeded"
    # equity has fallen so that an existing position is a bigger share of it
    assert rm.check_entry(600, 1, 0.5 * EQ, 0.6 * EQ) is not None


@pytest.mark.parametrize(
    ("lot", "frac", "equity", "price", "cash", "want"),
    [
        (1, 0.5, 100_000.0, 2_345.65, 100_000.0, 21),  # floor(50000 / 2345.65) = 21
        (1, 0.5, 100_000.0, 2_345.65, 10_000.0, 4),  # cash-capped: floor(10000 / 2345.65)
        (20, 0.4, 2_000_000.0, 27_180.45, 2_000_000.0, 20),  # 29.4 -> one lot of 20
        (20, 0.4, 2_000_000.0, 20_000.0, 2_000_000.0, 40),  # exactly 40
        (25, 0.4, 2_000_000.0, 27_180.45, 500_000.0, 0),  # 18.4 < one lot
        (1, 0.5, 100_000.0, 0.0, 100_000.0, 0),
        (1, 0.5, -5.0, 100.0, 100_000.0, 0),
    ],
)
def test_size_whole_shares_and_lots(lot, frac, equity, price, cash, want) -> None:  # type: ignore[no-untyped-def]
    rm = make(trading={"lot_size": lot, "position_size": frac})
    got = rm.size(equity, price, cash)
    assert got == want
    assert isinstance(got, int) and got % lot == 0
    if got:
        assert got * price <= min(cash, equity * frac) + 1e-9
        assert (got + lot) * price > min(cash, equity * frac)


def test_drawdown_halt_threshold() -> None:
    rm = make(trading={"max_drawdown_pct": 10.0})
    assert rm.check_drawdown(100_000.0) is None
    assert rm.check_drawdown(120_000.0) is None  # new peak
    assert rm.check_drawdown(108_001.0) is None  # 9.999 % below the peak
    dd = rm.check_drawdown(108_000.0)  # exactly 10 %
    assert dd == pytest.approx(10.0)
    rm.halt("max_drawdown_pct 10.0 reached")
    assert rm.check_drawdown(50_000.0) is None  # already halted: reported once
    reason = rm.check_entry(600, 0, EQ, 0)
    assert reason == "bot halted: max_drawdown_pct 10.0 reached"
    rm.new_bar(D2)  # the halt survives day changes
    assert rm.check_entry(600, 0, EQ, 0) is not None


def test_stale_live_data_blocks_entries() -> None:
    rm = make()
    rm.new_bar(D1)
    assert rm.check_entry(hm("10:00"), 0, EQ, 0) is None
    why = rm.check_entry(hm("10:00"), 0, EQ, 0, "no tick for 125 s")
    assert why == "data stale: no tick for 125 s"

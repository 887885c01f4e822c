"""End-to-end backtests on real data: trade bookkeeping, equity and metrics cross-checks,
report files, and the intraday session / daily-limit / drawdown-halt rules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.engine.backtest import run_backtest
from mixbot.paths import REPO_ROOT

CFG_DIR = REPO_ROOT / "config" / "trading"
IST = "Asia/Kolkata"
REASONS = {"signal", "stop_loss", "take_profit", "trailing_stop", "time", "eod_square_off", "halt"}


def make_cfg(name: str, tmp_path: Path, **sections: dict) -> BotConfig:  # type: ignore[type-arg]
    src = CFG_DIR / name
    doc = json.loads(src.read_text())
    for sec, fields in sections.items():
        doc.setdefault(sec, {}).update(fields)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc))
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ist(ts) -> pd.Timestamp:  # type: ignore[no-untyped-def]
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(IST)


def test_daily_backtest_bookkeeping_metrics_and_reports(data_dir: Path, in_tmp: Path) -> None:
    cfg = make_cfg("0001.json", in_tmp, data={"path": str(data_dir / "nse_daily/RELIANCE.csv")})
    res = run_backtest(cfg, report_dir=in_tmp / "report", progress=False)
    assert len(res.trades) > 10
    for t in res.trades:
        assert t.size == int(t.size) and t.size > 0
        assert t.exit_reason in REASONS
        assert t.pnl_gross == pytest.approx((t.exit_price - t.entry_price) * t.size, abs=1e-6)
        assert t.pnl_net == pytest.approx(t.pnl_gross - t.charges, abs=1e-9)
        assert t.charges > 0 and t.exit_time > t.entry_time
    assert {t.exit_reason for t in res.trades} <= {"stop_loss", "take_profit", "signal"}

    eq = res.equity
    assert eq.iloc[-1] == pytest.approx(res.final_value, abs=1e-6)
    v = eq.to_numpy()
    # independent metrics from the equity curve
    total = (v[-1] / v[0] - 1) * 100
    peak = np.maximum.accumulate(v)
    mdd = float(np.max(1 - v / peak) * 100)
    r = v[1:] / v[:-1] - 1
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(252)
    m = res.metrics
    assert m.total_return_pct == pytest.approx(total, rel=1e-9)
    assert m.max_drawdown_pct == pytest.approx(mdd, rel=1e-9)
    assert m.sharpe == pytest.approx(sharpe, rel=1e-9)
    assert m.n_trades == len(res.trades)
    assert m.initial_value == pytest.approx(cfg.broker.initial_balance)
    # closed-trade PnL explains the equity change when flat at the end
    if res.open_position == 0:
        pnl = sum(t.pnl_net for t in res.trades)
        assert res.final_value - cfg.broker.initial_balance == pytest.approx(pnl, abs=0.01)

    files = res.files
    trades_csv = pd.read_csv(files["trades"])
    assert len(trades_csv) == len(res.trades)
    assert files["equity_png"].stat().st_size > 1000
    assert files["equity_png"].read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads(files["metrics"].read_text())
    assert json.dumps(metrics)
    lines = (in_tmp / "logs/0001/json/trades.json").read_text().splitlines()
    assert len(lines) == len(res.trades)
    rec = json.loads(lines[0])
    assert rec["exit_reason"] == res.trades[0].exit_reason
    assert rec["size"] == res.trades[0].size


def intraday(data_dir: Path, tmp: Path, to: str = "2019-01-31", **sections: dict):  # type: ignore[no-untyped-def,type-arg]
    data = {
        "path": str(data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt"),
        "data_source": "csv",
        "to": to,
        **sections.pop("data", {}),
    }
    cfg = make_cfg("0003.json", tmp, data=data, **sections)
    return cfg, run_backtest(cfg, progress=False)


def pos(idx: pd.DatetimeIndex, when) -> int:  # type: ignore[no-untyped-def]
    """Position of the bar ending at ``when`` (equity times are float day numbers: allow 1 ms)."""
    k = int(idx.get_indexer([pd.Timestamp(when)], method="nearest")[0])
    assert abs(idx[k] - pd.Timestamp(when)) < pd.Timedelta(milliseconds=1)
    return k


def signal_bars(res) -> list[pd.Timestamp]:  # type: ignore[no-untyped-def]
    """IST end time of the bar whose close triggered each entry (the bar before the fill)."""
    idx = res.equity.index
    return [ist(idx[pos(idx, t.entry_time) - 1]) for t in res.trades]


def test_intraday_session_rules(data_dir: Path, in_tmp: Path) -> None:
    cfg, res = intraday(data_dir, in_tmp, risk_management={"max_daily_trades": 2})
    trades = res.trades
    assert len(trades) > 10
    reasons = {t.exit_reason for t in trades}
    assert "eod_square_off" in reasons
    for t in trades:
        ent, ex = ist(t.entry_time), ist(t.exit_time)
        assert ent.date() == ex.date(), "position held across days"
        assert t.size % cfg.trading.lot_size == 0
        if t.exit_reason == "eod_square_off":
            # filled at the open of the bar after the >= 15:15 signal bar
            k = pos(res.equity.index, t.exit_time)
            sig = ist(res.equity.index[k - 1])
            assert sig.hour * 60 + sig.minute >= 15 * 60 + 15
    for s in signal_bars(res):
        assert s.hour * 60 + s.minute <= 15 * 60
    # flat at the last bar of every day
    days = res.in_market.index.tz_localize("UTC").tz_convert(IST).date
    last_of_day = res.in_market.groupby(days).last()
    assert not last_of_day.any()
    per_day = pd.Series([ist(t.entry_time).date() for t in trades]).value_counts()
    assert per_day.max() <= 2
    assert (per_day == 2).any()
    assert res.refusals.get("max_daily_trades 2 reached today", 0) > 0


@pytest.mark.parametrize(("limit", "in_position"), [(0.5, True), (0.1, False)])
def test_drawdown_halt(data_dir: Path, in_tmp: Path, limit: float, in_position: bool) -> None:
    """0.5 %: the guard fires while long (a 'halt' exit); 0.1 %: it fires on the bar where
    a trailing-stop exit filled, when already flat (no halt trade)."""
    cfg, res = intraday(data_dir, in_tmp, trading={"max_drawdown_pct": limit})
    halts = [e for e in res.events if e["event"] == "halt"]
    assert len(halts) == 1
    halt_time = pd.Timestamp(halts[0]["bar_time"])
    reasons = [t.exit_reason for t in res.trades]
    assert res.trades
    assert reasons.count("halt") == (1 if in_position else 0)
    if in_position:
        assert reasons[-1] == "halt"
        assert ist(res.trades[-1].exit_time) > halt_time
    assert all(ist(t.entry_time) <= halt_time for t in res.trades)
    entries = [e for e in res.events if e["event"] == "trade_entry"]
    assert all(pd.Timestamp(e["bar_time"]) <= halt_time for e in entries)
    # the equity when the guard fired was at least 0.1 % under its running peak
    eq = res.equity
    v = eq.to_numpy()
    k = pos(eq.index, halt_time.tz_convert("UTC").tz_localize(None))
    assert 1 - v[k] / v[: k + 1].max() >= limit / 100
    assert (1 - v[:k] / np.maximum.accumulate(v[:k])).max() < limit / 100
    assert res.open_position == 0
    refused = [k for k in res.refusals if k.startswith("bot halted")]
    assert refused and res.refusals[refused[0]] > 0
    log = (in_tmp / "logs/0003/bot.log").read_text()
    assert "HALT: max_drawdown_pct" in log
    assert "entry refused" in log and "bot halted" in log


def test_max_daily_loss_blocks_rest_of_day(data_dir: Path, in_tmp: Path) -> None:
    limit = 1500.0
    cfg, res = intraday(
        data_dir,
        in_tmp,
        risk_management={"max_daily_loss": limit, "max_daily_trades": None},
        data={"to": "2019-02-28"},
    )
    key = f"max_daily_loss {limit:.2f} INR reached today"
    assert res.refusals.get(key, 0) > 0
    by_day: dict = {}
    for t in sorted(res.trades, key=lambda t: t.entry_time):
        by_day.setdefault(ist(t.entry_time).date(), []).append(t)
    blocked_days = []
    for day, ts in by_day.items():
        pnl = 0.0
        hit_at = None
        for t in ts:
            if hit_at is not None:
                assert t.entry_time <= hit_at, f"entry on {day} after the daily loss limit"
            pnl += t.pnl_net
            if pnl <= -limit and hit_at is None:
                hit_at = t.exit_time
        if hit_at is not None:
            blocked_days.append(day)
    assert blocked_days
    later = [d for d in by_day if d > blocked_days[0]]
    assert later, "trading resumes on the next day"


def test_orders_never_leave_a_short_position(data_dir: Path, in_tmp: Path) -> None:
    """5-minute ATR exits can fire on the entry's fill bar, in the bar the stop-loss and
    take-profit orders were placed: those must be cancelled, never filled afterwards."""
    cfg, res = intraday(
        data_dir,
        in_tmp,
        to="2019-02-28",
        data={"interval": "5m"},
        strategy={
            "entry_logic": {"name": "RSIBBEntryMixin", "params": {"e_rsi_oversold": 30}},
            "exit_logic": {"name": "ATRExitMixin", "params": {"x_trailing": True}},
        },
    )
    held = 0
    roles: dict[str, int] = {}
    for line in (in_tmp / "logs/0003/json/orders.json").read_text().splitlines():
        rec = json.loads(line)
        if rec["status"] == "Completed":
            held += rec["size"]
            assert held in (0, res.trades[0].size), rec
            roles[rec["role"]] = roles.get(rec["role"], 0) + 1
    assert held == res.open_position
    exits = sum(n for r, n in roles.items() if r != "entry")
    assert exits == len(res.trades)
    assert roles["entry"] - exits in (0, 1)
    assert roles.get("trailing_stop", 0) > 0

"""The backtest job: run a config over its data file as fast as possible, then measure it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixbot.backtest.metrics import Metrics, TradeRecord, compute_metrics
from mixbot.config.model import BotConfig
from mixbot.engine.build import Built, build
from mixbot.market.registry import profile_for

_EPOCH = np.datetime64("0001-01-01T00:00:00", "us")


def num2datetime64(nums: list[float] | np.ndarray) -> np.ndarray:
    """Inverse of :func:`mixbot.feeds.series.date2num`: Backtrader day numbers -> datetime64[us] (UTC)."""
    a = np.asarray(nums, dtype=np.float64)
    # Backtrader's float day numbers carry ~1 us of noise: round to the millisecond
    us = (np.round((a - 1.0) * 86_400_000.0) * 1000).astype(np.int64)
    return _EPOCH + us.astype("timedelta64[us]")


@dataclass
class RunResult:
    """What a finished run leaves: metrics, closed trades, equity (INR, UTC index), refusals, files."""

    metrics: Metrics
    trades: list[TradeRecord]
    equity: pd.Series
    in_market: pd.Series
    refusals: dict[str, int]
    events: list[dict[str, Any]]
    bars: int
    files: dict[str, Path] = field(default_factory=dict)
    final_cash: float = 0.0
    final_value: float = 0.0
    open_position: float = 0.0


def trade_record(row: dict[str, Any]) -> TradeRecord:
    """A stored trade row as a :class:`TradeRecord`."""
    return TradeRecord(
        entry_time=row["entry_time"],
        exit_time=row["exit_time"],
        side=row["side"],
        size=row["qty"],
        entry_price=row["entry_price"],
        exit_price=row["exit_price"],
        pnl_gross=row["pnl_gross"],
        charges=row["charges"],
        pnl_net=row["pnl_net"],
        exit_reason=row["exit_reason"],
        bars_held=row["bars_held"],
    )


def collect(built: Built, store: Any = None) -> RunResult:
    """Turn a finished Cerebro run into a :class:`RunResult` with metrics.

    With a ``store`` the whole stored session is measured (equity and trades from before a
    restart included); without one, what this process saw.
    """
    rt = built.runtime
    cfg: BotConfig = rt.config
    trades = rt.trades
    if store is not None:
        rows = store.equity()
        idx = pd.DatetimeIndex([r["bar_time"] for r in rows], name="datetime")
        equity = pd.Series([r["value"] for r in rows], index=idx, dtype=float)
        in_mkt = pd.Series([bool(r["in_market"]) for r in rows], index=idx, dtype=bool)
        trades = [trade_record(t) for t in store.trades()]
    else:
        idx = pd.DatetimeIndex(num2datetime64(rt.equity_time), name="datetime")
        equity = pd.Series(rt.equity_value, index=idx, dtype=float)
        in_mkt = pd.Series(rt.in_market, index=idx, dtype=bool)
    if len(equity) == 0:
        from mixbot.errors import MixbotError

        raise MixbotError(
            f"{cfg.source_file}: the run produced no bars (check data.path and data.from/to)"
        )
    if len(equity) == 1:  # metrics need two points: add the start
        equity = pd.concat(
            [pd.Series([cfg.broker.initial_balance], index=idx - pd.Timedelta(seconds=1)), equity]
        )
        in_mkt = pd.concat([pd.Series([False], index=idx - pd.Timedelta(seconds=1)), in_mkt])
    # daily bars: the market's sessions a year (NSE 252); intraday equity is resampled to
    # daily returns in the market's time zone by compute_metrics
    market = profile_for(cfg)
    metrics = compute_metrics(
        equity,
        trades,
        periods_per_year=market.trading_days_per_year,
        in_market=in_mkt,
        market=market,
    )
    broker = built.cerebro.broker
    strat = rt.strategy
    return RunResult(
        metrics,
        trades,
        equity,
        in_mkt,
        dict(rt.refusals),
        list(rt.events),
        len(equity),
        final_cash=broker.getcash(),
        final_value=broker.getvalue(),
        open_position=strat.position.size if strat is not None else 0.0,
    )


def run_backtest(
    cfg: BotConfig,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    report_dir: Path | None = None,
    progress: bool = True,
    progress_to: Callable[[int], Callable[[int], None]] | None = None,
) -> RunResult:
    """Backtest ``cfg`` on its data file and (optionally) write a report folder.

    The report folder gets ``equity.png``, ``trades.csv``, ``equity.csv`` and ``metrics.json``.
    ``progress_to(total_bars)`` returns a second ``update(bars_done)`` to call as bars go by
    (background jobs: :func:`mixbot.service.jobs.progress_writer`).

    Raises:
        ConfigError / DataFileError: unusable config or data (message names file and fix).
    """
    from mixbot.engine.progress import bar_progress

    built = build(cfg, "backtest", date_from=date_from, date_to=date_to)
    n_bars = len(built.series) if built.series is not None else 0  # a backtest has a file series
    try:
        with bar_progress(n_bars, f"backtest {cfg.bot_id}", enabled=progress) as update:
            if progress_to is not None:
                extra, bar = progress_to(n_bars), update

                def update(n: int) -> None:
                    bar(n)
                    extra(n)

            built.runtime.progress = update
            built.cerebro.run()
            update(n_bars)
        result = collect(built)
    finally:
        built.runtime.journal.close()
    if report_dir is not None:
        result.files = write_report(cfg, result, report_dir)
    return result


def write_report(cfg: BotConfig, result: RunResult, report_dir: Path) -> dict[str, Path]:
    """Write the report files of a run into ``report_dir``."""
    from mixbot.backtest.report import write_equity_png, write_metrics_json
    from mixbot.service.trades import rows_from_records, write_trades_csv

    tz = cfg.market.timezone
    rows = rows_from_records(cfg.bot_id, cfg.data.symbol, result.trades, tz)
    files = {
        "trades": write_trades_csv(rows, report_dir / "trades.csv"),
        "metrics": write_metrics_json(
            result.metrics,
            report_dir / "metrics.json",
            {"bot_id": cfg.bot_id, "bars": result.bars, "refusals": result.refusals},
        ),
    }
    if cfg.logging.save_equity_curve:
        files["equity_png"] = write_equity_png(
            result.equity,
            result.metrics,
            report_dir / "equity.png",
            f"{cfg.bot_id}: {cfg.description}"[:110],
            tz,
        )
        eq = result.equity.copy()
        eq.index = eq.index.tz_localize("UTC").tz_convert(tz)
        eq.rename("equity_inr").to_csv(report_dir / "equity.csv")
        files["equity_csv"] = report_dir / "equity.csv"
    return files

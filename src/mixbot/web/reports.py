"""The result of a backtest job for the web: metrics, equity with drawdown, trades, and the
same instrument bought and held over the same bars.

Buy-and-hold: the config's initial balance invested at the first bar's close and held to
the last (no charges), on the bars :func:`mixbot.venues.files.file_series` gives the
backtest; its metrics come from :func:`mixbot.backtest.metrics.compute_metrics`, the same
function as the strategy's.
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path
from typing import Any

#: the equity curve sent to the browser is thinned to about this many points
MAX_POINTS = 2000


def _equity(path: Path) -> Any:
    import pandas as pd

    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    return frame.iloc[:, 0].astype(float)


def _thin(n: int) -> range:
    return range(0, n, max(1, n // MAX_POINTS))


def buy_and_hold(cfg: Any, equity: Any, date_from: str | None, date_to: str | None) -> Any:
    """The buy-and-hold equity (INR) of ``cfg``'s instrument on ``equity``'s bar times."""
    from mixbot.venues.files import file_series

    series = file_series(cfg, True, date_from, date_to)
    import pandas as pd

    close = pd.Series(series.close, index=pd.DatetimeIndex(series.end))
    when = pd.DatetimeIndex(equity.index)
    if when.tz is not None:  # the report's times carry the market's offset; bars: naive UTC
        when = when.tz_convert("UTC").tz_localize(None)
    close = close.reindex(when.astype(close.index.dtype), method="ffill").bfill()
    close.index = equity.index
    return cfg.broker.initial_balance * close / float(close.iloc[0])


def backtest_result(service: Any, job: Any) -> dict[str, Any]:
    """``{"job", "metrics", "buy_and_hold", "equity", "trades"}`` of a finished job.

    ``equity``: ``[{"time" (UTC), "value", "drawdown_pct", "buy_and_hold"}]`` (INR, 0-100).
    ``buy_and_hold``: total_return_pct, max_drawdown_pct, sharpe (None when unknown).

    Raises:
        ConfigError / DataFileError: the config or its data cannot be read any more.
    """
    from mixbot.backtest.metrics import compute_metrics
    from mixbot.config.load import load_config
    from mixbot.market.registry import profile_for

    report = service.backtest_report(job.id)
    out: dict[str, Any] = {"job": asdict(job), "metrics": report["metrics"], "trades": []}
    files = report["files"]
    if "trades" in files:
        with open(files["trades"], encoding="utf-8", newline="") as fh:
            out["trades"] = list(csv.DictReader(fh))
    out["equity"], out["buy_and_hold"] = [], {}
    if "equity_csv" not in files:
        return out
    eq = _equity(Path(files["equity_csv"]))
    cfg = load_config(job.config_file)
    meta = service.jobs.meta(job.id)
    bh = buy_and_hold(cfg, eq, meta.get("date_from"), meta.get("date_to"))
    market = profile_for(cfg)
    m = compute_metrics(bh, [], periods_per_year=market.trading_days_per_year, market=market)
    out["buy_and_hold"] = {
        "total_return_pct": round(m.total_return_pct, 4),
        "max_drawdown_pct": round(m.max_drawdown_pct, 4),
        "sharpe": m.sharpe,
        "final_value": round(float(bh.iloc[-1]), 2),
    }
    dd = (1.0 - eq / eq.cummax()) * 100.0
    out["equity"] = [
        {
            "time": eq.index[i].isoformat(),
            "value": round(float(eq.iloc[i]), 2),
            "drawdown_pct": round(float(dd.iloc[i]), 4),
            "buy_and_hold": round(float(bh.iloc[i]), 2),
        }
        for i in _thin(len(eq))
    ]
    return out

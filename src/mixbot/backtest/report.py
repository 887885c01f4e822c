"""Backtest reports: equity-curve PNG (matplotlib, Agg backend) and metrics JSON (the trades
CSV is written by :func:`mixbot.service.trades.write_trades_csv`).

Backtrader's own ``cerebro.plot()`` forces the TkAgg backend and fails on a headless
machine, so the plot is drawn here with matplotlib's Agg backend directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mixbot.backtest.metrics import Metrics


def write_equity_png(
    equity: pd.Series, metrics: Metrics, path: Path, title: str, tz: str = "Asia/Kolkata"
) -> Path:
    """Draw the equity curve (INR) and its drawdown (%) to a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    idx = equity.index.tz_localize("UTC").tz_convert(tz).tz_localize(None)
    eq = pd.Series(equity.to_numpy(), index=idx)
    dd = (eq / eq.cummax() - 1.0) * 100.0
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax1.plot(eq.index, eq.to_numpy(), lw=1.0, color="tab:blue")
    ax1.set_ylabel("equity (INR)")
    sharpe = "n/a" if metrics.sharpe is None else f"{metrics.sharpe:.2f}"
    ax1.set_title(
        f"{title}\nreturn {metrics.total_return_pct:.1f} %, max DD {metrics.max_drawdown_pct:.1f} %, "
        f"Sharpe {sharpe}, {metrics.n_trades} trades",
        fontsize=10,
    )
    ax1.grid(alpha=0.3)
    ax2.fill_between(dd.index, dd.to_numpy(), 0, color="tab:red", alpha=0.4)
    ax2.set_ylabel("drawdown (%)")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_metrics_json(
    metrics: Metrics, path: Path, extra: dict[str, object] | None = None
) -> Path:
    """Write the metrics (and ``extra`` fields) as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**metrics.to_dict(), **(extra or {})}, indent=2), encoding="utf-8")
    return path

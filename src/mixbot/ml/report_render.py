"""Rendering of the out-of-sample report (:mod:`mixbot.ml.report`): console text, JSON, PNG.

Only reads the report dict (as :func:`mixbot.ml.report.build_report` returns it or as it is
read back from ``report.json``), so a stored report renders the same way later (GUI, CLI).
Every figure that is not out-of-sample (tuner/validation scores, per-fold validation
columns, the ``in_sample`` section) is printed with the word "in-sample" next to it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

#: Fold columns whose name contains one of these are validation/training figures.
_IN_SAMPLE_KEYS = ("val", "train", "in_sample", "tune")


def _num(v: Any, fmt: str = "{:,.2f}") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        return fmt.format(v)
    return str(v)


def _dist(d: dict[str, Any] | None, fmt: str = "{:+.2f}") -> str:
    if not d:
        return "n/a"
    return f"{fmt.format(d['p50'])} [{fmt.format(d['p5'])}, {fmt.format(d['p95'])}]"


def _perf_table(r: dict[str, Any]) -> Any:
    from rich.table import Table

    m, bh, ns = r["model"], r["buy_and_hold"], r["no_skill"]
    t = Table(title="Out-of-sample performance, net of charges", title_justify="left")
    t.add_column("out-of-sample")
    t.add_column("model", justify="right")
    t.add_column("buy-and-hold", justify="right")
    t.add_column(f"no-skill median [5-95 %] ({ns.get('n_seeds', 0)} runs)", justify="right")
    t.add_row("Trades", str(m["n_trades"]), "1" if "qty" in bh else "n/a",
              _num(ns.get("mean_trades"), "{:.1f}"))  # fmt: skip
    t.add_row("Net return (%)", _num(m["total_return_pct"]), _num(bh.get("total_return_pct")),
              _dist(ns.get("net_return_pct")))  # fmt: skip
    t.add_row("Sharpe (annualised)", _num(m["sharpe"], "{:.3f}"), _num(bh.get("sharpe"), "{:.3f}"),
              _dist(ns.get("sharpe"), "{:+.3f}"))  # fmt: skip
    t.add_row("Max drawdown (%)", _num(m["max_drawdown_pct"]), _num(bh.get("max_drawdown_pct")), "")
    t.add_row("Win rate (%)", _num(m["win_rate_pct"]), "", "")
    t.add_row("Profit factor", _num(m["profit_factor"], "{:.3f}"), "", "")
    t.add_row("Charges paid (INR)", _num(m["charges_paid"]), _num(bh.get("charges_paid")), "")
    t.add_row("Exposure (% of bars)", _num(m["exposure_pct"]), "100.00" if "qty" in bh else "", "")
    t.add_row("Model percentile among no-skill runs", "", "",
              f"return {_num(ns.get('model_percentile_return'), '{:.0f}')}, "
              f"Sharpe {_num(ns.get('model_percentile_sharpe'), '{:.0f}')}")  # fmt: skip
    return t


def _class_tables(r: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    c, cal = r["classification"], r["calibration"]
    t = Table(title=f"Out-of-sample classification ({c['n_labelled']} labelled bars, accuracy "
                    f"{_num(c['accuracy'], '{:.3f}')})", title_justify="left")  # fmt: skip
    for col in ("class", "precision", "recall", "support", "predicted"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for row in c["per_class"]:
        t.add_row(row["class"], _num(row["precision"], "{:.3f}"), _num(row["recall"], "{:.3f}"),
                  str(row["support"]), str(row["predicted"]))  # fmt: skip
    cm = Table(title="Confusion matrix (rows = true, columns = predicted)", title_justify="left")
    names = [row["class"] for row in c["per_class"]]
    cm.add_column("true \\ predicted")
    for name in names:
        cm.add_column(name, justify="right")
    for name, row in zip(names, c["confusion"], strict=True):
        cm.add_row(name, *(str(v) for v in row))
    sig = c["signals"]
    cm.caption = (
        f"signals at threshold {sig['threshold']}: BUY {sig['BUY']['n']} (precision "
        f"{_num(sig['BUY']['precision'], '{:.3f}')}), SELL {sig['SELL']['n']} (precision "
        f"{_num(sig['SELL']['precision'], '{:.3f}')})"
    )
    ct = Table(title=f"Calibration of max(proba) (ECE {_num(cal['ece'], '{:.4f}')})",
               title_justify="left")  # fmt: skip
    for col in ("confidence bin", "count", "mean confidence", "accuracy"):
        ct.add_column(col, justify="right")
    for b in cal["bins"]:
        if b["count"]:
            ct.add_row(f"{b['lo']:.1f}-{b['hi']:.1f}", str(b["count"]),
                       _num(b["mean_confidence"], "{:.3f}"), _num(b["accuracy"], "{:.3f}"))  # fmt: skip
    return [t, cm, ct]


def _kv_table(title: str, d: dict[str, Any], prefix: str) -> Any:
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column("key")
    t.add_column("value", justify="right")
    for k, v in d.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                if not isinstance(v2, dict | list):
                    t.add_row(f"{prefix}{k}.{k2}", _num(v2, "{:.4g}"))
        elif not isinstance(v, list):
            t.add_row(f"{prefix}{k}", _num(v, "{:.4g}"))
    return t


def _folds_table(folds: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    keys: list[str] = []
    for f in folds:
        keys += [k for k, v in f.items() if k not in keys and not isinstance(v, dict | list)]
    t = Table(title="Walk-forward folds", title_justify="left")
    for k in keys:
        label = f"{k} (in-sample)" if any(s in k.lower() for s in _IN_SAMPLE_KEYS) else k
        t.add_column(label, justify="right")
    for f in folds:
        t.add_row(*(_num(f.get(k), "{:.4g}") for k in keys))
    return t


def render_text(report: dict[str, Any], width: int = 110) -> str:
    """The report as console text: a ``str`` (rich tables rendered without colour, ``width``
    columns), ready for ``print`` or ``rich.console.Console.print``."""
    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system=None, force_terminal=False)
    p = report["period"]
    con.print(
        f"Out-of-sample report{' of ' + report['instrument'] if report.get('instrument') else ''}"
        f": {p['start']} to {p['end']} UTC, {p['n_bars']} bars ({report['scope']})"
    )
    con.print(_perf_table(report))
    con.print(report["verdict"]["text"])
    for t in _class_tables(report):
        con.print(t)
    if report.get("tuner"):
        con.print(_kv_table("Tuner (validation folds: in-sample)", report["tuner"], "in-sample "))
    if report.get("folds"):
        con.print(_folds_table(report["folds"]))
    if report.get("in_sample"):
        ins = report["in_sample"]
        con.print(_kv_table(ins["label"], ins["metrics"], "in-sample "))
    return buf.getvalue()


def _plot_equity(ax: Any, r: dict[str, Any]) -> None:
    import pandas as pd

    c = r["curves"]
    x = pd.to_datetime(c["time"]).tz_localize("UTC").tz_convert("Asia/Kolkata").tz_localize(None)
    if c.get("no_skill_p25") is not None:
        ax.fill_between(x, c["no_skill_p25"], c["no_skill_p75"], color="grey", alpha=0.3,
                        label="no-skill 25-75 %")  # fmt: skip
        ax.plot(x, c["no_skill_p50"], color="grey", lw=1.0, label="no-skill median")
    if c.get("buy_and_hold") is not None:
        ax.plot(x, c["buy_and_hold"], color="tab:orange", lw=1.0, label="buy-and-hold")
    ax.plot(x, c["model"], color="tab:blue", lw=1.2, label="model")
    ax.set_ylabel("equity (INR)")
    ax.set_xlabel("bar end (IST)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(f"Out-of-sample equity ({r.get('instrument') or 'instrument'})", fontsize=10)


def _plot_confusion(ax: Any, r: dict[str, Any]) -> None:
    import numpy as np

    cm = np.asarray(r["classification"]["confusion"], dtype=float)
    names = [row["class"] for row in r["classification"]["per_class"]]
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Out-of-sample confusion matrix", fontsize=10)


def _plot_calibration(ax: Any, r: dict[str, Any]) -> None:
    cal = r["calibration"]
    bins = [b for b in cal["bins"] if b["count"]]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1.0, label="perfect")
    ax.plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], "o-",
            color="tab:blue", label="model")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence max(proba)")
    ax.set_ylabel("accuracy")
    ece = cal["ece"]
    ax.set_title(f"Out-of-sample calibration (ECE {_num(ece, '{:.3f}')})", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def write_png(report: dict[str, Any], path: Path) -> Path:
    """Draw the equity curves, the confusion matrix and the calibration plot to ``path``
    (matplotlib's Agg canvas: no display, the global backend is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8))
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 2, height_ratios=[3, 2])
    _plot_equity(fig.add_subplot(gs[0, :]), report)
    _plot_confusion(fig.add_subplot(gs[1, 0]), report)
    _plot_calibration(fig.add_subplot(gs[1, 1]), report)
    fig.suptitle(report["verdict"]["text"], fontsize=8, wrap=True)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=100)
    return path


def write_report(report: dict[str, Any], folder: str | Path) -> dict[str, Path]:
    """Write ``report.json`` (strict JSON: no NaN) and ``report.png`` into ``folder``
    (created when missing). Returns ``{"json": path, "png": path}``."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    js = d / "report.json"
    js.write_text(json.dumps(report, indent=2, allow_nan=False), encoding="utf-8")
    return {"json": js, "png": write_png(report, d / "report.png")}

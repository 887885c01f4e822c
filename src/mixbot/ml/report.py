"""The honest out-of-sample report of a trained model: JSON, PNG and console text.

Everything in the report's main sections is OUT-OF-SAMPLE: the walk-forward test folds
concatenated, each bar predicted by the model of its own fold. In-sample figures (training or
validation folds) appear only under the ``in_sample`` key, and wherever they are shown the
word "in-sample" is next to them; per-fold validation figures (used to select the model) are
shown as "in-sample" too.

Sections of :func:`build_report`'s dict (money INR, ``*_pct`` on a 0-100 scale, times ISO
naive UTC):

* ``model``: the simulated trades (:func:`mixbot.ml.simulate.simulate`, the paper broker's
  assumptions and charges) and their :func:`mixbot.backtest.metrics.compute_metrics`:
  trades, win rate, Sharpe (annualised), net return after charges, max drawdown.
* ``buy_and_hold``: the same instrument over the same bars, as the web report does
  (:mod:`mixbot.web.reports`: the capital invested at the first bar's close, held to the
  last, metrics by ``compute_metrics``), here in whole shares and net of one round trip of
  charges (``cfg.charges`` with the ``delivery`` product: a position held across days).
* ``no_skill``: random entries at the model's trade frequency: for each of ``n_seeds`` seeds
  (NumPy ``default_rng([seed, k])``, deterministic) as many entries as the model made, at
  bars drawn uniformly without replacement among the eligible ones (finite ATR, not the last
  bar of a day or of the data), topped up (at most 3 times) while more than 2 % of them fell inside
  an open trade; exits by the same rules, including the model's own SELL signals, so only the entry
  timing is random. The model's percentile (0-100: share of runs below it, ties half) for
  net return and Sharpe.
* ``classification``: per-class precision / recall / support of ``argmax(proba)`` on the
  labelled bars (label >= 0), the 3x3 confusion matrix (rows = true class, columns =
  predicted, order SELL, HOLD, BUY) and the precision of the trading signals
  (``proba >= threshold``).
* ``calibration``: 10 equal-width bins of the confidence ``max(proba)``: count, mean
  confidence, accuracy, and the expected calibration error
  ``ECE = sum_b n_b / N * |acc_b - conf_b|`` (Naeini, Cooper & Hauskrecht 2015, "Obtaining
  Well Calibrated Probabilities Using Bayesian Binning", AAAI; Guo et al. 2017, "On
  Calibration of Modern Neural Networks", ICML).
* ``summary``: the headline figures above in one flat dict (for the model registry).
* ``verdict``: ``beats_buy_and_hold`` (net return above buy-and-hold's), ``beats_no_skill``
  (net-return percentile >= 95, a one-sided 5 % test), and a plain ``text``.
* ``curves``: thinned (<= 2,000 points) equity curves of the model, buy-and-hold and the
  no-skill 25/50/75th percentiles, for the PNG and the GUI.
* ``folds``, ``tuner`` (passed through; e.g. the DSR dict of :mod:`mixbot.ml.dsr`),
  ``in_sample`` (optional, labelled), ``trades``, ``config``, ``period``.

No TensorFlow import here.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from mixbot.backtest.metrics import compute_metrics
from mixbot.market.profile import MarketProfile
from mixbot.market.registry import NSE
from mixbot.ml.labels import BUY, CLASS_NAMES, SELL
from mixbot.ml.report_render import render_text, write_report
from mixbot.ml.simulate import SimConfig, SimResult, Simulator, day_index, to_trade_records

__all__ = ["build_report", "render_text", "write_report", "jsonable"]

#: Default number of no-skill runs.
N_SEEDS = 200
#: The model beats the no-skill baseline when its net-return percentile is at least this.
SKILL_PERCENTILE = 95.0
#: A no-skill run is topped up with more random entries while it is short of the model's
#: trade count by more than this fraction of it (at most 3 times).
TOP_UP_TOLERANCE = 0.02
#: Curves in the report are thinned to about this many points.
MAX_POINTS = 2000
_REQUIRED = ("open", "high", "low", "close", "atr", "bar_end", "proba", "labels")


def jsonable(x: Any) -> Any:
    """``x`` with numpy scalars/arrays as Python numbers/lists, NaN as None, infinities as
    ``"inf"``/``"-inf"``, datetimes as ISO strings (recursively through dicts and lists)."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | np.ndarray):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool | int | str) or x is None:
        return x
    if isinstance(x, float):
        if math.isnan(x):
            return None
        return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, datetime | date | pd.Timestamp):
        return x.isoformat()
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return jsonable(dataclasses.asdict(x))
    return str(x)


def _arrays(oos: Mapping[str, Any], market: MarketProfile) -> dict[str, Any]:
    missing = [k for k in _REQUIRED if k not in oos]
    if missing:
        raise ValueError(f"oos lacks {missing}: needs {list(_REQUIRED)} (+ optional 'day')")
    a: dict[str, Any] = {
        k: np.asarray(oos[k], dtype=np.float64) for k in ("open", "high", "low", "close", "atr")
    }
    n = a["close"].shape[0]
    a["bar_end"] = np.asarray(oos["bar_end"]).astype("datetime64[ns]")
    a["proba"] = np.asarray(oos["proba"], dtype=np.float64)
    a["labels"] = np.asarray(oos["labels"]).astype(np.int64)
    for k, v in a.items():
        if v.shape[0] != n:
            raise ValueError(f"oos[{k!r}] has {v.shape[0]} rows, close has {n}")
    if n < 2:
        raise ValueError("the out-of-sample data needs at least 2 bars")
    # bar END minutes after local midnight, for SimConfig.session (the engine's intraday rules)
    a["minutes"] = None if oos.get("minutes") is None else np.asarray(oos["minutes"])
    if "day" in oos:
        a["day"] = None if oos["day"] is None else np.asarray(oos["day"])
    else:  # intraday when some market day holds several bars (compute_metrics' rule)
        d = day_index(a["bar_end"], market.timezone)
        a["day"] = d if np.any(d[1:] == d[:-1]) else None
    return a


def _metrics(
    equity: np.ndarray, a: dict[str, Any], cfg: SimConfig, market: MarketProfile, **kw: Any
) -> dict[str, Any]:
    idx = pd.DatetimeIndex(a["bar_end"])
    m = compute_metrics(
        pd.Series(equity, index=idx), periods_per_year=cfg.periods_per_year, market=market, **kw
    )
    return m.to_dict()


def _buy_and_hold(a: dict[str, Any], cfg: SimConfig, market: MarketProfile) -> dict[str, Any]:
    """Whole shares of the capital bought at the first close, sold at the last (module doc)."""
    close = a["close"]
    c0, c1 = float(close[0]), float(close[-1])
    qty = int(math.floor(cfg.capital / c0))
    buy = 0.0
    while qty > 0:
        buy = cfg.charges.compute("buy", qty, c0, "delivery").total
        if qty * c0 + buy <= cfg.capital:
            break
        qty -= 1
    if qty == 0:
        return {"reason": f"one share at {c0:.2f} INR costs more than the capital"}
    sell = cfg.charges.compute("sell", qty, c1, "delivery").total
    equity = cfg.capital - qty * c0 - buy + qty * close
    equity[0] = cfg.capital  # marked before the buy at that close, as the model's equity
    equity[-1] -= sell
    out = _metrics(equity, a, cfg, market, trades=[])
    out.update(qty=qty, charges_paid=buy + sell, product="delivery", equity=equity)
    return out


def _random_run(sim: Simulator, pool: np.ndarray, k: int, rng: Any) -> SimResult:
    """One no-skill run: ``k`` random entries from ``pool`` (bar indices), topped up."""
    chosen = np.zeros(pool.size, dtype=bool)
    chosen[rng.choice(pool.size, size=min(k, pool.size), replace=False)] = True
    buy = np.zeros(sim.n, dtype=bool)
    for _ in range(4):
        buy[pool[chosen]] = True
        res = sim.run(buy)
        free = np.flatnonzero(~chosen)
        short = k - res.n_trades
        if short <= TOP_UP_TOLERANCE * k or free.size == 0:
            break
        chosen[rng.choice(free, size=min(short, free.size), replace=False)] = True
    return res


def _percentile(value: float | None, sample: Sequence[float]) -> float | None:
    if value is None or not sample:
        return None
    s = np.asarray(sample, dtype=np.float64)
    return float(((s < value).sum() + 0.5 * (s == value).sum()) / s.size * 100.0)


def _dist(sample: Sequence[float]) -> dict[str, float] | None:
    if not sample:
        return None
    q = np.percentile(np.asarray(sample, dtype=np.float64), [5, 25, 50, 75, 95])
    return {
        "mean": float(np.mean(sample)),
        **{f"p{p}": float(v) for p, v in zip((5, 25, 50, 75, 95), q, strict=True)},
    }


def _no_skill(
    sim: Simulator, model: SimResult, n_seeds: int, seed: int, keep: np.ndarray
) -> dict[str, Any]:
    """The no-skill runs (module docstring) on ``sim`` (the model's own exit signals)."""
    k = model.n_trades
    out: dict[str, Any] = {"n_seeds": n_seeds, "seed": seed, "target_trades": k}
    if k == 0 or n_seeds <= 0:
        out["reason"] = "the model made no trade" if k == 0 else "no runs asked for"
        return out
    pool = np.flatnonzero(sim.eligible)
    rets: list[float] = []
    sharpes: list[float] = []
    trades: list[int] = []
    curves = np.empty((n_seeds, keep.size))
    for s in range(n_seeds):
        res = _random_run(sim, pool, k, np.random.default_rng([seed, s]))
        rets.append(res.net_return_pct)
        if res.sharpe is not None:
            sharpes.append(res.sharpe)
        trades.append(res.n_trades)
        curves[s] = res.equity[keep]
    out.update(
        mean_trades=float(np.mean(trades)),
        net_return_pct=_dist(rets),
        sharpe=_dist(sharpes),
        n_sharpe_undefined=n_seeds - len(sharpes),
        model_percentile_return=_percentile(model.net_return_pct, rets),
        model_percentile_sharpe=_percentile(model.sharpe, sharpes),
        curves=np.percentile(curves, [25, 50, 75], axis=0),
    )
    return out


def classification(proba: Any, labels: Any, threshold: float) -> dict[str, Any]:
    """Precision / recall / support per class, the confusion matrix (rows = true) and the
    precision of the BUY and SELL signals at ``threshold``, on rows with a label >= 0 and a
    finite probability row. ``proba``: (n, 3); ``labels``: (n,) int (-1 = undefined)."""
    p, y = np.asarray(proba, dtype=np.float64), np.asarray(labels).astype(np.int64)
    ok = (y >= 0) & np.all(np.isfinite(p), axis=1)
    p, y = p[ok], y[ok]
    pred = np.argmax(p, axis=1) if len(y) else np.zeros(0, dtype=np.int64)
    cm = np.zeros((3, 3), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    per_class = []
    for c, name in enumerate(CLASS_NAMES):
        col, row = int(cm[:, c].sum()), int(cm[c].sum())
        per_class.append(
            {
                "class": name,
                "precision": cm[c, c] / col if col else None,
                "recall": cm[c, c] / row if row else None,
                "support": row,
                "predicted": col,
            }
        )
    signals = {}
    for c, name in ((BUY, "BUY"), (SELL, "SELL")):
        hit = p[:, c] >= threshold
        signals[name] = {
            "n": int(hit.sum()),
            "precision": float((y[hit] == c).mean()) if hit.any() else None,
        }
    return {
        "n_labelled": int(len(y)),
        "accuracy": float((pred == y).mean()) if len(y) else None,
        "per_class": per_class,
        "confusion": cm.tolist(),
        "confusion_axes": "rows = true class, columns = predicted class (SELL, HOLD, BUY)",
        "signals": {"threshold": threshold, **signals},
    }


def calibration(proba: Any, labels: Any, n_bins: int = 10) -> dict[str, Any]:
    """Reliability of the confidence ``max(proba)`` in ``n_bins`` equal-width bins of [0, 1]
    (the last bin includes 1.0) and the expected calibration error (0-1), on labelled rows
    (sources: module docstring)."""
    p, y = np.asarray(proba, dtype=np.float64), np.asarray(labels).astype(np.int64)
    ok = (y >= 0) & np.all(np.isfinite(p), axis=1)
    p, y = p[ok], y[ok]
    conf = p.max(axis=1) if len(y) else np.zeros(0)
    correct = (np.argmax(p, axis=1) == y) if len(y) else np.zeros(0, dtype=bool)
    b = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    bins, ece = [], 0.0
    for i in range(n_bins):
        m = b == i
        cnt = int(m.sum())
        mc = float(conf[m].mean()) if cnt else None
        acc = float(correct[m].mean()) if cnt else None
        if cnt:
            ece += cnt / len(y) * abs(acc - mc)  # type: ignore[operator]
        bins.append({"lo": i / n_bins, "hi": (i + 1) / n_bins, "count": cnt,
                     "mean_confidence": mc, "accuracy": acc})  # fmt: skip
    return {"bins": bins, "ece": ece if len(y) else None, "n": int(len(y))}


def _fmt_pct(v: Any) -> str:
    return "n/a" if v is None else f"{v:+.2f} %"


def _ordinal(x: float) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``42nd`` of a percentile rounded to an integer."""
    n = int(round(x))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def verdict(model: dict[str, Any], bh: dict[str, Any], ns: dict[str, Any]) -> dict[str, Any]:
    """``beats_buy_and_hold``, ``beats_no_skill`` (None when not decidable) and ``text``."""
    n = model["n_trades"]
    bh_ret = bh.get("total_return_pct")
    if n == 0:
        text = (
            "Out-of-sample: the model made no trade, so it shows no skill; buy-and-hold "
            f"returned {_fmt_pct(bh_ret)} net."
        )
        return {"beats_buy_and_hold": False, "beats_no_skill": False, "text": text}
    ret = model["total_return_pct"]
    beats_bh = None if bh_ret is None else bool(ret > bh_ret)
    pr, ps = ns.get("model_percentile_return"), ns.get("model_percentile_sharpe")
    beats_ns = None if pr is None else bool(pr >= SKILL_PERCENTILE)
    vs = "n/a" if beats_bh is None else ("BEATS" if beats_bh else "does NOT beat")
    sharpe = "n/a" if model["sharpe"] is None else f"{model['sharpe']:.2f}"
    bh_sharpe = "n/a" if bh.get("sharpe") is None else f"{bh['sharpe']:.2f}"
    text = (
        f"Out-of-sample: {n} trades, net return {_fmt_pct(ret)} after charges, Sharpe {sharpe}; "
        f"the model {vs} buy-and-hold ({_fmt_pct(bh_ret)}, Sharpe {bh_sharpe})"
    )
    if pr is None:
        text += "; no-skill percentile n/a."
    else:
        pss = "n/a" if ps is None else f"{ps:.0f}"
        text += (
            f"; it ranks at the {_ordinal(pr)} percentile for net return (Sharpe: {pss}) among "
            f"{ns['n_seeds']} random-entry runs at its trade frequency: "
            + (
                "better than random entries (>= 95th)."
                if beats_ns
                else "WORSE than random entries (<= 5th)."
                if pr <= 100.0 - SKILL_PERCENTILE
                else "not distinguishable from random entries (< 95th)."
            )
        )
    return {"beats_buy_and_hold": beats_bh, "beats_no_skill": beats_ns, "text": text}


def _summary(model: dict[str, Any], bh: dict[str, Any], ns: dict[str, Any]) -> dict[str, Any]:
    """The headline out-of-sample figures (for the registry's metadata)."""
    v = verdict(model, bh, ns)
    return {
        **{k: model[k] for k in ("n_trades", "win_rate_pct", "sharpe", "total_return_pct",
                                 "max_drawdown_pct", "charges_paid")},
        "buy_and_hold_return_pct": bh.get("total_return_pct"),
        "buy_and_hold_sharpe": bh.get("sharpe"),
        "no_skill_percentile_return": ns.get("model_percentile_return"),
        "no_skill_percentile_sharpe": ns.get("model_percentile_sharpe"),
        "beats_buy_and_hold": v["beats_buy_and_hold"],
        "beats_no_skill": v["beats_no_skill"],
    }  # fmt: skip


def _config(cfg: SimConfig) -> dict[str, Any]:
    d = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "charges"}
    fc = cfg.charges.flat_commission
    d["charges"] = (
        "IndianEquityCharges (published schedule)"
        if fc is None
        else f"flat {fc * 100:.4g} % of turnover per order"
    )
    return d


def _curves(
    a: dict[str, Any], keep: np.ndarray, model: SimResult, bh: dict[str, Any], ns: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "time": [pd.Timestamp(t).isoformat() for t in a["bar_end"][keep]],
        "model": model.equity[keep],
        "buy_and_hold": bh["equity"][keep] if "equity" in bh else None,
    }
    band = ns.pop("curves", None)
    for name, row in zip(("no_skill_p25", "no_skill_p50", "no_skill_p75"), range(3), strict=True):
        out[name] = None if band is None else band[row]
    return out


def build_report(
    oos: Mapping[str, Any],
    cfg: SimConfig,
    *,
    folds: Sequence[Mapping[str, Any]] = (),
    tuner: Mapping[str, Any] | None = None,
    in_sample: Mapping[str, Any] | None = None,
    instrument: str | None = None,
    n_seeds: int = N_SEEDS,
    seed: int = 0,
    market: MarketProfile = NSE,
) -> dict[str, Any]:
    """The out-of-sample report (sections: module docstring), a JSON-able dict.

    Args:
        oos: the walk-forward test folds concatenated, time-ordered and contiguous: ``open``,
            ``high``, ``low``, ``close``, ``atr`` (INR, (n,)), ``bar_end`` ((n,) datetime64,
            naive UTC bar END times), ``proba`` ((n, 3) of each bar's fold model; NaN rows =
            no prediction), ``labels`` ((n,) int, -1 undefined); optional ``day`` ((n,)
            day ordinals for the intraday square-off, or None for daily bars; absent: the
            market's calendar days when some day holds several bars, else None).
        cfg: the simulation config (threshold, ATR multipliers, horizon, charges, ...).
        folds: per-fold metrics from the trainer (passed through; validation figures are
            shown as in-sample).
        tuner: tuner info (trials, best score, the DSR dict), passed through.
        in_sample: optional in-sample metrics; stored under ``in_sample`` with a label.
        instrument: name shown in the titles.
        n_seeds, seed: no-skill runs and their base seed.
        market: calendar days and trading days per year for the metrics (default NSE).

    Raises:
        ValueError: missing or mismatched arrays, fewer than 2 bars.
    """
    a = _arrays(oos, market)
    n = len(a["close"])
    with np.errstate(invalid="ignore"):  # NaN rows: no signal
        buy, sell = (a["proba"][:, c] >= cfg.threshold for c in (BUY, SELL))
    sim = Simulator(
        a["open"], a["high"], a["low"], a["close"], a["atr"], sell, a["day"], cfg, a["minutes"]
    )
    res = sim.run(buy)
    trades = to_trade_records(res, a["bar_end"])
    model = _metrics(res.equity, a, cfg, market, trades=trades, in_market=res.in_market)
    model.update(
        exit_reasons=dict(Counter(t["reason"] for t in res.trades)),
        n_skipped_unaffordable=res.n_skipped,
        avg_bars_held=float(np.mean([t["bars_held"] for t in res.trades])) if trades else None,
    )
    bh = _buy_and_hold(a, cfg, market)
    keep = np.unique(np.r_[np.arange(0, n, max(1, -(-n // MAX_POINTS))), n - 1])
    ns = _no_skill(sim, res, n_seeds, seed, keep)
    report: dict[str, Any] = {
        "kind": "mixbot.ml.report",
        "version": 1,
        "scope": "out-of-sample: the walk-forward test folds concatenated",
        "instrument": instrument,
        "period": {
            "start": pd.Timestamp(a["bar_end"][0]).isoformat(),
            "end": pd.Timestamp(a["bar_end"][-1]).isoformat(),
            "n_bars": n,
            "intraday": a["day"] is not None,
        },
        "config": _config(cfg),
        "model": model,
        "verdict": verdict(model, bh, ns),
        "summary": _summary(model, bh, ns),
        "curves": _curves(a, keep, res, bh, ns),
        "buy_and_hold": {k: v for k, v in bh.items() if k != "equity"},
        "no_skill": ns,
        "classification": classification(a["proba"], a["labels"], cfg.threshold),
        "calibration": calibration(a["proba"], a["labels"]),
        "folds": [dict(f) for f in folds],
        "tuner": None if tuner is None else dict(tuner),
        "in_sample": None
        if in_sample is None
        else {"label": "in-sample (NOT out-of-sample)", "metrics": dict(in_sample)},
        "trades": [dataclasses.asdict(t) for t in trades],
    }
    return jsonable(report)  # type: ignore[no-any-return]

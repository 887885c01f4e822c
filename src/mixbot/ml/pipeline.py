"""The ``mixbot train`` run: folds, tuner, ensembles, exports, report, registry (TensorFlow).

See :mod:`mixbot.ml.train` for the steps and their rules; this module drives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixbot.ml import registry
from mixbot.ml.dataset import Dataset, config_stops, load_dataset, ml_params
from mixbot.ml.progress import TrainProgress
from mixbot.ml.serve import Ensemble, Member, windows_at
from mixbot.ml.train import (
    FoldData,
    TrainOptions,
    block_proba,
    fold_data,
    folds_for,
    member_paths,
    now_utc,
    sim_config,
    simulate_block,
    time_of,
    trial_scorer,
    versions_info,
)
from mixbot.ml.tuner import SearchResult, SearchSpace, search


@dataclass
class TrainOutcome:
    """A finished training: the registered version, its folder and report (JSON-able)."""

    version: str
    path: Path
    report: dict[str, Any]
    meta: dict[str, Any]


def bot_trades(cfg: Any) -> list[dict[str, Any]]:
    """The bot's closed trades in its store (empty when it has none yet)."""
    from mixbot.service.bots import BotService

    svc = BotService()
    try:
        store = svc.store(svc.ref(cfg.source_file))
        return list(store.trades()) if store is not None else []
    finally:
        svc.close()


def adapted_stops(cfg: Any, trades: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The labels' ATR multipliers: the config's, moved by the bot's own trades when it has
    enough (:func:`mixbot.ml.adapt.adapt_per_symbol`); and the adaptation record."""
    from mixbot.ml.adapt import adapt_per_symbol

    stops = config_stops(cfg)
    if not trades:
        return stops, {"rule": "no_trades", "reason": "the bot has no closed trades yet"}
    res = adapt_per_symbol(
        trades, stops["sl_multiplier"], stops["tp_multiplier"], (cfg.data.symbol,)
    )[cfg.data.symbol]
    stops.update(sl_multiplier=res.sl, tp_multiplier=res.tp)
    return stops, res.to_dict()


def _fit_members(
    ds: Dataset, fd: FoldData, best: SearchResult, opts: TrainOptions, folder: Path, hooks: Any
) -> list[dict[str, Any]]:
    """Train, save and export the ensemble of one fold; returns its members' file names."""
    from mixbot.ml.fit import fit_model
    from mixbot.ml.model import export_litert
    from mixbot.ml.serve import BATCH

    folder.mkdir(parents=True, exist_ok=True)
    members = []
    for j in range(opts.ensemble):
        seed = opts.seed + 1000 * (fd.fold.index + 1) + j
        model = fit_model(
            best.best, fd.x, fd.train, fd.val, epochs=opts.epochs, seed=seed,
            on_epoch=hooks.epoch_start(opts.epochs, f"{folder.name} member {j + 1}"),
        )  # fmt: skip
        paths = member_paths(folder, j)
        model.save_weights(str(paths["weights"]))
        export_litert(model, str(paths["b1"]), 1, ds.window, len(ds.names))
        export_litert(model, str(paths["many"]), BATCH, ds.window, len(ds.names))
        check = _litert_check(model, fd, ds, paths)
        members.append({k: p.name for k, p in paths.items()} | {"seed": seed, **check})
        hooks.step("members", f"{folder.name} m{j}")
    return members


def _litert_check(model: Any, fd: FoldData, ds: Dataset, paths: dict[str, Path]) -> dict[str, Any]:
    """Largest absolute difference between Keras and each LiteRT flatbuffer on up to 64
    validation windows (they must agree to float32 precision: about 1e-7)."""
    from mixbot.ml.fit import predict

    idx = fd.val.index[:: max(1, len(fd.val) // 64)][:64]
    keras_p = predict(model, fd.x, idx, ds.window)
    member = Member(paths["b1"], paths["many"])
    w = windows_at(fd.x, idx, ds.window)
    many = member.predict_many(w)
    one = np.array([member.predict_one(w[k]) for k in range(min(8, len(idx)))])
    return {
        "litert_max_abs_diff_b1": float(np.abs(one - keras_p[: len(one)]).max()),
        "litert_max_abs_diff_b256": float(np.abs(many - keras_p).max()),
    }


def ensemble_of(folder: Path, members: list[dict[str, Any]]) -> Ensemble:
    """The LiteRT ensemble of ``members`` (file names in ``folder``)."""
    return Ensemble([Member(folder / m["b1"], folder / m["many"]) for m in members])


def _tune(ds: Dataset, fd: FoldData, sim: Any, opts: TrainOptions, hooks: Any) -> SearchResult:
    space = SearchSpace.quick() if opts.quick else SearchSpace()
    hooks.bar("trials", "tuner trials (fold 1 val)", opts.trials)

    def on_trial(t: Any) -> None:
        hooks.step("trials", f"best so far; last: {t.note}")

    return search(
        space, ds.window, len(ds.names), trial_scorer(ds, fd, sim, opts, hooks),
        trials=opts.trials, seed=opts.seed, on_trial=on_trial,
    )  # fmt: skip


def _fold_test(
    ds: Dataset, fd: FoldData, ens: Ensemble, sim: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-sample probabilities of the fold's test block (NaN where no window) and its
    metrics."""
    t0, t1 = fd.fold.test
    idx = np.flatnonzero(ds.predictable[t0:t1]) + t0
    p = ens.predict_many(windows_at(fd.x, idx, ds.window)) if len(idx) else np.empty((0, 3))
    proba = block_proba(ds, fd.fold.test, idx, p)
    res = simulate_block(ds, fd.fold.test, proba, sim)
    metrics = {
        "test_from": time_of(ds, t0),
        "test_to": time_of(ds, t1 - 1),
        "train_from": time_of(ds, fd.fold.train[0]),
        "train_to": time_of(ds, fd.fold.val[1] - 1),
        "n_train": len(fd.train),
        "n_val": len(fd.val),
        "n_test": int(len(idx)),
        "trades": res.n_trades,
        "net_return_pct": res.net_return_pct,
        "sharpe": res.sharpe,
    }
    return proba, metrics


def run(cfg: Any, opts: TrainOptions, progress: bool = True) -> TrainOutcome:
    """Train, evaluate out of sample and register a model for ``cfg`` (see module docstring).

    Raises:
        ConfigError / DataFileError / MixbotError: unusable config, data or search.
    """
    from mixbot.ml.features import FEATURE_SET_ID

    trades = bot_trades(cfg)
    stops, adaptation = adapted_stops(cfg, trades)
    ds = load_dataset(cfg, stops, opts.date_from, opts.date_to)
    folds, final = folds_for(ds, opts)
    sim = sim_config(cfg, ds)
    version, path = registry.new_version(cfg.bot_id)
    with TrainProgress(progress) as hooks:
        hooks.bar("stage", f"train {cfg.bot_id} {version}", len(folds) + 2)
        hooks.bar("members", "ensemble members", (len(folds) + 1) * opts.ensemble)
        fds = [fold_data(ds, f, trades, cfg.data.symbol) for f in folds]
        best = _tune(ds, fds[0], sim, opts, hooks)
        hooks.step("stage", f"tuned: {best.best_trial.note}")
        oos = np.full((len(ds), 3), np.nan)
        fold_meta = []
        for fd in fds:
            folder = path / f"fold{fd.fold.index}"
            members = _fit_members(ds, fd, best, opts, folder, hooks)
            proba, metrics = _fold_test(ds, fd, ensemble_of(folder, members), sim)
            oos[fd.fold.test[0] : fd.fold.test[1]] = proba
            fold_meta.append(
                fd.fold.as_dict() | {"folder": folder.name, "members": members,
                                     "normalizer": fd.norm, "metrics": metrics,
                                     "augmentation": fd.augmentation}
            )  # fmt: skip
            hooks.step("stage", f"fold {fd.fold.index + 1}: {metrics['trades']} trades")
        ffd = fold_data(ds, final, trades, cfg.data.symbol)
        final_members = _fit_members(ds, ffd, best, opts, path / "final", hooks)
        hooks.step("stage", "final model")
    report = _report(cfg, ds, folds, oos, sim, best, fold_meta, path)
    meta = {
        "bot_id": cfg.bot_id, "version": version, "created": now_utc(),
        "config": str(cfg.source_file), "symbol": cfg.data.symbol,
        "interval": cfg.data.interval, "interval_minutes": cfg.data.interval_minutes,
        "feature_set": FEATURE_SET_ID, "features": ds.names,
        "window": ds.window, "horizon": ds.horizon, "classes": ["SELL", "HOLD", "BUY"],
        "params": ml_params(cfg), "options": opts.__dict__,
        "stops": stops, "adaptation": adaptation,
        "data": {"files": ds.files, "from": time_of(ds, 0), "to": time_of(ds, len(ds) - 1),
                 "bars": len(ds)},
        "model": best.best.as_dict(),
        "tuner": {"trials": [t.__dict__ | {"daily_returns": None} for t in best.trials],
                  "best": best.best_trial.number, "objective": "val_sharpe",
                  "deflated_sharpe": report.get("tuner", {}).get("deflated_sharpe")},
        "folds": fold_meta,
        "final": {"folder": "final", "members": final_members, "normalizer": ffd.norm,
                  "trained_until": time_of(ds, len(ds) - 1)},
        "oos": report.get("summary", {}), "versions": versions_info(),
    }  # fmt: skip
    registry.write_meta(path, meta)
    return TrainOutcome(version, path, report, meta)


def _report(
    cfg: Any, ds: Dataset, folds: list[Any], oos: np.ndarray, sim: Any, best: SearchResult,
    fold_meta: list[dict[str, Any]], path: Path,
) -> dict[str, Any]:  # fmt: skip
    """Build and write the out-of-sample report (:mod:`mixbot.ml.report`): the test blocks
    of every fold, concatenated, with the tuner's deflated Sharpe ratio."""
    from mixbot.ml import report as rep
    from mixbot.ml.dsr import deflated_sharpe_of_trials
    from mixbot.ml.report_render import write_report

    t0, t1 = folds[0].test[0], folds[-1].test[1]
    b = ds.bars
    oos_arrays = {
        "open": b.open[t0:t1], "high": b.high[t0:t1], "low": b.low[t0:t1],
        "close": b.close[t0:t1], "atr": ds.atr[t0:t1], "bar_end": b.end[t0:t1],  # type: ignore[index]
        "proba": oos[t0:t1], "labels": ds.y[t0:t1],
        "day": ds.day[t0:t1] if ds.intraday else None, "minutes": b.minutes[t0:t1],
    }  # fmt: skip
    bt = best.best_trial
    dsr = deflated_sharpe_of_trials(
        bt.daily_returns, [t.sharpe for t in best.trials], 252.0, n_trials=len(best.trials)
    )
    tuner = {
        "method": "RandomSearch (KerasTuner)",
        "objective": "annualised Sharpe of the trades simulated on fold 1's validation part",
        "trials": len(best.trials),
        "best_score": bt.score,
        "best_note": bt.note,
        "scores": [t.score for t in best.trials],
        "deflated_sharpe": dsr,
    }
    doc = rep.build_report(
        oos_arrays, sim, folds=[f["metrics"] | {"index": f["index"]} for f in fold_meta],
        tuner=tuner, instrument=cfg.data.symbol,
    )  # fmt: skip
    write_report(doc, path)
    return doc

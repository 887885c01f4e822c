"""``mixbot train``: walk-forward training of the ML mixin's model, registered with its report.

Steps (``models/<bot_id>/<version>/``, see :mod:`mixbot.ml.registry`):

1. the config's bars, features, ATR and triple-barrier labels (:mod:`mixbot.ml.dataset`), the
   labels' ATR multipliers adapted from the bot's own trades (:mod:`mixbot.ml.adapt`);
2. walk-forward folds with a purge gap of the label horizon and an embargo
   (:mod:`mixbot.ml.folds`); each fold's normalisation statistics come from its training part;
3. KerasTuner on the FIRST fold's validation part, scored by the Sharpe ratio of simulated
   trades (:mod:`mixbot.ml.tuner`); its best sizes train every fold;
4. per fold, an ensemble of ``M`` members (seeds differ) trained on the fold's training part,
   augmented with the bot's own trades that fall in it (:mod:`mixbot.ml.augment`), predicting
   the fold's test block: these out-of-sample predictions, concatenated, are the report;
5. a final ensemble on every labelled bar, for live trading after the data;
6. every member exported to LiteRT (batch 1 and batch 256), the report written, meta.json last.
"""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mixbot.ml.dataset import Dataset, ml_params
from mixbot.ml.fit import Samples
from mixbot.ml.folds import Fold, final_fit, walk_forward
from mixbot.ml.tuner import TrialResult


@dataclass(frozen=True)
class TrainOptions:
    """What ``mixbot train`` was asked for (defaults: the full run, about 10-15 minutes for
    two years of 15-minute bars on 2 cores).

    Attributes:
        folds: walk-forward folds; ensemble: members per fold; trials: tuner trials;
        epochs: at most this many epochs per fit (early stopping usually ends sooner).
        mode: ``expanding`` or ``rolling`` training spans; embargo: bars between the purged
            training span and each test block (None: ``horizon`` bars).
        seed: every seed derives from it; date_from / date_to: ISO dates (market time).
    """

    folds: int = 3
    ensemble: int = 3
    trials: int = 6
    epochs: int = 12
    mode: str = "expanding"
    embargo: int | None = None
    seed: int = 7
    quick: bool = False
    date_from: str | None = None
    date_to: str | None = None

    @classmethod
    def quick_run(cls, **kw: Any) -> TrainOptions:
        """``--quick``: a tiny model, 1 fold, 1 member, 2 trials, 3 epochs (under a minute)."""
        base: dict[str, Any] = {"folds": 1, "ensemble": 1, "trials": 2, "epochs": 3}
        base.update({k: v for k, v in kw.items() if v is not None}, quick=True)
        return cls(**base)


@dataclass
class FoldData:
    """One fold's normalised features and samples (``x``: (n, F) float32, NaN rows zeroed)."""

    fold: Fold
    x: np.ndarray
    norm: dict[str, Any]
    train: Samples
    val: Samples
    augmentation: dict[str, Any] = field(default_factory=dict)


def _samples(ds: Dataset, rng: tuple[int, int]) -> Samples:
    idx = np.flatnonzero(ds.usable[rng[0] : rng[1]]) + rng[0]
    return Samples(idx, ds.y[idx].astype(np.int64), np.ones(len(idx), dtype=np.float32))


def fold_data(
    ds: Dataset, fold: Fold, trades: list[dict[str, Any]], symbol: str | None = None
) -> FoldData:
    """Normalise with the fold's training rows only; build its samples (augmented)."""
    from mixbot.ml.augment import augment
    from mixbot.ml.features import Normalizer

    lo = max(fold.train[0] - ds.window + 1, 0)
    norm = Normalizer(ds.names).fit(ds.x[lo : fold.train[1]])
    x = np.nan_to_num(norm.transform(ds.x), nan=0.0).astype(np.float32)
    train = _samples(ds, fold.train)
    report: dict[str, Any] = {}
    if trades:
        allowed = np.zeros(len(ds), dtype=bool)
        allowed[fold.train[0] : fold.train[1]] = True
        assert ds.bars.end is not None
        aug = augment(train.index, ds.bars.end, trades, allowed=allowed, symbol=symbol)
        report = aug.report
        if len(aug.extra_index):
            train = Samples(
                np.concatenate([train.index, aug.extra_bar]),
                np.concatenate([train.label, aug.extra_label.astype(np.int64)]),
                np.concatenate([train.weight, aug.extra_weight.astype(np.float32)]),
            )
    return FoldData(fold, x, norm.to_dict(), train, _samples(ds, fold.val), report)


def sim_config(cfg: Any, ds: Dataset) -> Any:
    """The :class:`~mixbot.ml.simulate.SimConfig` of ``cfg`` (its broker, size, product, the
    ML mixin's threshold, the labels' ATR multipliers and horizon)."""
    from mixbot.brokers.charges import IndianEquityCharges
    from mixbot.ml.simulate import SessionRules, SimConfig

    p = ml_params(cfg)
    product = cfg.trading.product
    m = cfg.market
    session = SessionRules(
        m.session_open_min,
        m.session_close_min,
        m.no_new_entry_after_min,
        m.square_off_at_min if product == "intraday" else None,
        cfg.risk.max_daily_trades,
    )
    return SimConfig(
        threshold=float(p["confidence_threshold"]),
        sl_mult=float(ds.stops["sl_multiplier"]),
        tp_mult=float(ds.stops["tp_multiplier"]),
        horizon=ds.horizon,
        capital=float(cfg.broker.initial_balance),
        position_size=float(cfg.trading.position_size),
        charges=IndianEquityCharges.from_config(cfg.broker.commission, product),
        product=product,
        slippage_bps=float(cfg.broker.slippage_bps or 0.0),
        tick_size=float(cfg.broker.tick_size or 0.0),
        # what the engine does with this config: exit mixins compare with closes and exit at
        # the next open (MLModelExitMixin), its session rules, its sizing
        barriers="close",
        session=session if ds.intraday else None,
        size_at_signal_close=True,
    )


def simulate_block(ds: Dataset, rng: tuple[int, int], proba: np.ndarray, sim: Any) -> Any:
    """Simulate the bars ``[rng)`` with ``proba`` ``(rng[1]-rng[0], 3)`` (NaN rows: none)."""
    from mixbot.ml.simulate import simulate

    a, b = rng
    b_ = ds.bars
    day = ds.day[a:b] if ds.intraday else None
    return simulate(
        b_.open[a:b], b_.high[a:b], b_.low[a:b], b_.close[a:b], ds.atr[a:b], proba, day, sim,
        b_.minutes[a:b],
    )  # fmt: skip


def block_proba(ds: Dataset, rng: tuple[int, int], index: np.ndarray, p: np.ndarray) -> np.ndarray:
    """A ``(rng[1]-rng[0], 3)`` array: ``p`` at bars ``index``, NaN elsewhere."""
    out = np.full((rng[1] - rng[0], 3), np.nan)
    out[index - rng[0]] = p
    return out


def trial_scorer(ds: Dataset, fd: FoldData, sim: Any, opts: TrainOptions, hooks: Any) -> Any:
    """The tuner's ``score(spec, n)``: fit on the fold's training part, simulate its validation."""
    from mixbot.ml.fit import fit_model, predict
    from mixbot.ml.simulate import objective_score

    def score(spec: Any, number: int) -> TrialResult:
        model = fit_model(
            spec,
            fd.x,
            fd.train,
            fd.val,
            epochs=opts.epochs,
            seed=opts.seed,
            on_epoch=hooks.epoch_start(opts.epochs, f"trial {number + 1}"),
        )
        idx = fd.val.index
        p = predict(model, fd.x, idx, ds.window)
        res = simulate_block(ds, fd.fold.val, block_proba(ds, fd.fold.val, idx, p), sim)
        value, note = objective_score(res)
        return TrialResult(
            number, {}, value, note, res.n_trades, [float(r) for r in res.daily_returns], res.sharpe
        )

    return score


def versions_info() -> dict[str, str]:
    """Library versions recorded with a model."""
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for pkg in ("mixbot", "tensorflow-cpu", "keras", "keras-tuner", "ai-edge-litert", "numpy"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing distribution is recorded as such
            out[pkg] = "not installed"
    return out


def now_utc() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def time_of(ds: Dataset, i: int) -> str:
    """ISO END time (naive UTC) of bar ``i``."""
    assert ds.bars.end is not None
    return str(np.datetime_as_string(ds.bars.end[i], unit="s"))


def member_paths(folder: Path, j: int) -> dict[str, Path]:
    """Files of ensemble member ``j`` in ``folder``."""
    return {
        "b1": folder / f"m{j}.b1.tflite",
        "many": folder / f"m{j}.b256.tflite",
        "weights": folder / f"m{j}.weights.h5",
    }


def folds_for(ds: Dataset, opts: TrainOptions) -> tuple[list[Fold], Fold]:
    """The walk-forward folds and the final split over the labelled bars of ``ds``."""
    idx = np.flatnonzero(ds.usable)
    if len(idx) == 0:
        from mixbot.errors import MixbotError

        raise MixbotError("no labelled bar with a full feature window: the data is too short")
    start, end = int(idx[0]), int(idx[-1]) + 1
    embargo = ds.horizon if opts.embargo is None else opts.embargo
    folds = walk_forward(
        start,
        end,
        opts.folds,
        ds.horizon,
        embargo=embargo,
        mode=opts.mode,  # type: ignore[arg-type]
    )
    return folds, replace(final_fit(start, end, ds.horizon), index=len(folds))

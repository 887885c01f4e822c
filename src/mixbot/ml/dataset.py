"""What ``mixbot train`` learns from: a config's bars, features, ATR and triple-barrier labels.

No TensorFlow here. The bars are the config's data file(s) aggregated to ``data.interval`` by
the same :func:`mixbot.venues.files.file_series` a backtest uses, so a model sees exactly the
bars its bot will trade.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixbot.errors import ConfigError
from mixbot.strategy.mixin import Bars

#: The mixin names that carry an ML model (entry and exit).
ML_ENTRY = "MLModelEntryMixin"
ML_EXIT = "MLModelExitMixin"

#: ATR barrier multipliers and period when the exit mixin has none (ATRs, bars).
DEFAULT_STOPS = {"atr_period": 14, "sl_multiplier": 2.0, "tp_multiplier": 3.0}


def ml_params(cfg: Any) -> dict[str, Any]:
    """The params of the config's ML mixin (the entry's when both are ML; they must agree on
    ``window`` and ``horizon``, which the validator checks).

    Raises:
        ConfigError: neither mixin is an ML mixin (the message says what to set).
    """
    if cfg.entry.name == ML_ENTRY:
        return dict(cfg.entry.params)
    if cfg.exit.name == ML_EXIT:
        return dict(cfg.exit.params)
    raise ConfigError(
        f"{cfg.source_file}: strategy.entry_logic.name is {cfg.entry.name!r} and "
        f"strategy.exit_logic.name is {cfg.exit.name!r}: `mixbot train` needs an ML mixin, "
        f"set one of them to {ML_ENTRY} / {ML_EXIT}"
    )


def config_stops(cfg: Any) -> dict[str, Any]:
    """ATR period and stop/target multipliers of the config's exit (``x_atr_period``,
    ``x_sl_multiplier``, ``x_tp_multiplier`` when it has them, else :data:`DEFAULT_STOPS`):
    the labels' barriers are the exit's, so the model learns the trades its bot makes."""
    p = cfg.exit.params
    return {
        "atr_period": int(p.get("x_atr_period", DEFAULT_STOPS["atr_period"])),
        "sl_multiplier": float(p.get("x_sl_multiplier", DEFAULT_STOPS["sl_multiplier"])),
        "tp_multiplier": float(p.get("x_tp_multiplier", DEFAULT_STOPS["tp_multiplier"])),
    }


@dataclass
class Dataset:
    """A config's bars with everything derived from them (arrays of shape (n,) unless said).

    Attributes:
        bars: the OHLCV bars (INR), ``bars.end`` their END times (naive UTC).
        x: features ``(n, F)`` float64 (:func:`mixbot.ml.features.compute_features`).
        names: the F feature names.
        atr: Wilder ATR of ``stops["atr_period"]`` bars, INR.
        y: labels (SELL 0 / HOLD 1 / BUY 2, -1 undefined).
        usable: True where a sample (the window ending at that bar) can train or be scored:
            its whole window is past the features' warm-up and its label is defined.
        predictable: True where a window can be predicted (label not needed).
        day: local (market time zone) trading day of each bar, an integer ordinal.
        window, horizon: bars per input window; label horizon in bars.
        stops: the barrier multipliers used for the labels.
        files: ``[{"path", "sha256"}]`` of the data files (the bars' range: ``bars.end``).
    """

    bars: Bars
    x: np.ndarray
    names: list[str]
    atr: np.ndarray
    y: np.ndarray
    usable: np.ndarray
    predictable: np.ndarray
    day: np.ndarray
    window: int
    horizon: int
    intraday: bool
    stops: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.bars)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hashes(cfg: Any) -> list[dict[str, Any]]:
    """SHA-256 of every data file of ``cfg`` (one, or each file of a ``data.path`` folder)."""
    path = Path(cfg.data.path)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return [{"path": str(p), "sha256": _sha256(p)} for p in files if not p.name.startswith(".")]


def derive(bars: Bars, cfg: Any, window: int, horizon: int, stops: dict[str, Any]) -> Dataset:
    """Features, ATR, labels and sample masks of ``bars`` for ``cfg``."""
    from mixbot.indicators import atr as atr_fn
    from mixbot.ml.features import compute_features, feature_names
    from mixbot.ml.labels import triple_barrier
    from mixbot.ml.simulate import day_index

    intraday = cfg.data.interval_minutes < 1440
    x = compute_features(bars, intraday)
    a = atr_fn(bars.high, bars.low, bars.close, int(stops["atr_period"]))
    y = triple_barrier(
        bars.high,
        bars.low,
        bars.close,
        a,
        float(stops["sl_multiplier"]),
        float(stops["tp_multiplier"]),
        horizon,
    )
    finite = np.isfinite(x).all(axis=1) & np.isfinite(a)
    # a window is predictable when all its rows are finite: a run of `window` finite rows
    run = np.convolve(finite.astype(np.int64), np.ones(window, dtype=np.int64))[: len(finite)]
    predictable = run >= window
    usable = predictable & (y >= 0)
    assert bars.end is not None
    return Dataset(
        bars,
        x,
        feature_names(intraday),
        a,
        y,
        usable,
        predictable,
        day_index(bars.end, cfg.market.timezone),
        window,
        horizon,
        intraday,
        dict(stops),
    )


def load_dataset(
    cfg: Any,
    stops: dict[str, Any] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> Dataset:
    """The :class:`Dataset` of ``cfg``'s data (``date_from``/``date_to``: ISO dates, market time).

    Raises:
        ConfigError: no ML mixin in the config, or no data path.
        DataFileError: the data cannot be read.
    """
    from mixbot.venues.files import file_series

    p = ml_params(cfg)
    series = file_series(cfg, True, date_from, date_to)
    ds = derive(
        Bars.from_series(series),
        cfg,
        int(p["window"]),
        int(p["horizon"]),
        stops or config_stops(cfg),
    )
    ds.files = file_hashes(cfg)
    return ds

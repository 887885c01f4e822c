"""What the ML mixins ask: the model's SELL / HOLD / BUY probabilities at a bar (no TensorFlow).

Which model predicts a bar is decided by the bar's END time, the same way in a backtest, a
replayed session and live, so all three give the same signals:

- a bar inside a walk-forward fold's test block is predicted by that fold's ensemble, which
  never saw it (the out-of-sample predictions of the training report);
- a bar after the training data's last bar is predicted by the final ensemble (trained on
  all of it): live trading, or a backtest of newer data;
- any other bar (the first fold's training span) has no prediction, hence no signal: every
  model saw it while training, so a signal there would be an in-sample result.

In a backtest :meth:`ModelPredictor.compute` predicts every bar at once (batch-256 LiteRT
flatbuffers); live and replayed, each new bar is predicted once (batch 1) and cached by its
absolute index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixbot.ml import registry
from mixbot.ml.serve import Ensemble, Member, windows_at
from mixbot.strategy.mixin import Bars


@dataclass
class _Group:
    """One ensemble and the END-time range of the bars it predicts (naive UTC, inclusive)."""

    name: str
    start: np.datetime64
    stop: np.datetime64
    folder: Path
    members: list[dict[str, Any]]
    normalizer: dict[str, Any]
    _ensemble: Ensemble | None = None
    _norm: Any = None

    @property
    def ensemble(self) -> Ensemble:
        if self._ensemble is None:
            self._ensemble = Ensemble(
                [Member(self.folder / m["b1"], self.folder / m["many"]) for m in self.members]
            )
        return self._ensemble

    def transform(self, x: np.ndarray) -> np.ndarray:
        from mixbot.ml.features import Normalizer

        if self._norm is None:
            self._norm = Normalizer.from_dict(self.normalizer)
        return np.nan_to_num(self._norm.transform(x), nan=0.0).astype(np.float32)


_FAR = np.datetime64("9999-12-31T00:00:00", "us")


def groups_of(rec: registry.ModelRecord) -> list[_Group]:
    """The fold ensembles (by test block) and the final one (after the data) of a record."""
    m = rec.meta
    out = [
        _Group(
            f"fold{f['index']}",
            np.datetime64(f["metrics"]["test_from"], "us"),
            np.datetime64(f["metrics"]["test_to"], "us"),
            rec.path / f["folder"],
            f["members"],
            f["normalizer"],
        )
        for f in m["folds"]
    ]
    fin = m["final"]
    after = np.datetime64(fin["trained_until"], "us") + np.timedelta64(1, "us")
    out.append(
        _Group("final", after, _FAR, rec.path / fin["folder"], fin["members"], fin["normalizer"])
    )
    return out


class ModelPredictor:
    """Probabilities of one registered model over a bot's bars.

    Args:
        rec: the model's record; intraday: the bot's bars are intraday (time-of-day features).
    """

    def __init__(self, rec: registry.ModelRecord, intraday: bool) -> None:
        self.rec = rec
        self.window = int(rec.meta["window"])
        self.horizon = int(rec.meta["horizon"])
        self.intraday = intraday
        self.groups = groups_of(rec)
        self._cache: dict[int, np.ndarray] = {}
        self._seen: tuple[int, int, int] | None = None

    def _group(self, t: np.datetime64) -> _Group | None:
        for g in self.groups:
            if g.start <= t <= g.stop:
                return g
        return None

    def compute(self, bars: Bars) -> None:
        """Predict the bars of ``bars`` not predicted yet (all of them in a backtest, the
        newest one per call live). ``bars.end`` must be set."""
        from mixbot.ml.features import compute_features

        key = (id(bars), bars.offset, len(bars))
        if key == self._seen:  # the entry and the exit mixin share this predictor
            return
        self._seen = key
        n = len(bars)
        todo = [i for i in range(self.window - 1, n) if bars.offset + i not in self._cache]
        if not todo or bars.end is None:
            return
        x = compute_features(bars, self.intraday)
        finite = np.isfinite(x).all(axis=1)
        idx = np.asarray(todo, dtype=np.int64)
        run = np.convolve(finite.astype(np.int64), np.ones(self.window, dtype=np.int64))[:n]
        ok = run[idx] >= self.window  # every row of the window is finite
        idx = idx[ok]
        by_group: dict[str, list[int]] = {}
        for i in idx:
            g = self._group(bars.end[i])
            if g is not None:
                by_group.setdefault(g.name, []).append(int(i))
        for g in self.groups:
            rows = by_group.get(g.name)
            if not rows:
                continue
            r = np.asarray(rows, dtype=np.int64)
            if len(r) == 1:  # one new bar: the batch-1 flatbuffer on its window only
                xw = g.transform(x[r[0] - self.window + 1 : r[0] + 1])
                p = g.ensemble.predict_one(xw)[None, :]
            else:
                p = g.ensemble.predict_many(windows_at(g.transform(x), r, self.window))
            for i, row in zip(r, p):
                self._cache[bars.offset + int(i)] = row
        if len(self._cache) > 4 * n + 1000:  # live: forget bars that left the window
            for k in [k for k in self._cache if k < bars.offset]:
                del self._cache[k]

    def proba(self, bars: Bars, i: int) -> np.ndarray | None:
        """Probabilities (3,) (SELL, HOLD, BUY) at bar ``i`` of ``bars``, or None (no model
        covers the bar, or its window is not warmed up)."""
        return self._cache.get(bars.offset + i)


_SHARED: dict[tuple[int, str, str], ModelPredictor] = {}


def predictor_for(cfg: Any, version: str, field: str) -> ModelPredictor:
    """The predictor of ``cfg``'s model ``version`` (one per bot config object: its entry and
    exit mixins share it).

    Raises:
        ConfigError: no such model, or it does not fit the config (feature set, bar size,
            window or horizon).
    """
    from mixbot.errors import ConfigError
    from mixbot.ml.dataset import ml_params
    from mixbot.ml.features import FEATURE_SET_ID

    rec = registry.load(cfg.bot_id, version, str(cfg.source_file))
    key = (id(cfg), cfg.bot_id, str(rec.path))
    if key not in _SHARED:
        registry.check_compatible(rec, cfg, FEATURE_SET_ID, field)
        p = ml_params(cfg)
        for name in ("window", "horizon"):
            if int(p[name]) != int(rec.meta[name]):
                raise ConfigError(
                    f"{cfg.source_file}: {field}: the params say {name} {p[name]} but model "
                    f"{rec.version} was trained with {rec.meta[name]}: retrain with "
                    f"`mixbot train {cfg.source_file}` or set {name} to {rec.meta[name]}"
                )
        _SHARED.clear()  # one bot per process at a time in practice; keep memory bounded
        _SHARED[key] = ModelPredictor(rec, cfg.data.interval_minutes < 1440)
    return _SHARED[key]

"""The hyperparameter search (KerasTuner ``RandomSearch``) scored by a trading Sharpe ratio.

Each trial builds a model of the trial's sizes, fits it on the first walk-forward fold's
training part and scores it with ``score(spec)``: the Sharpe ratio of the trades the model's
signals make on the fold's *validation* part, simulated with the paper broker's assumptions
(:func:`mixbot.ml.simulate.simulate`; a trial that trades too rarely gets the defined score of
:func:`mixbot.ml.simulate.objective_score`, never a silent 0). The test blocks are never seen.

KerasTuner imports tensorboard in every trial without declaring it: without it every trial
fails and ``search()`` returns quietly. So :func:`search` checks that trials completed and
raises otherwise.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mixbot.errors import MixbotError
from mixbot.ml.model import ModelSpec


@dataclass(frozen=True)
class SearchSpace:
    """Choices the tuner draws from (one list per size; the first entry is the default)."""

    filters: tuple[int, ...] = (16, 8, 32)
    depth: tuple[int, ...] = (3, 2, 4)  # TCN blocks, dilations 1, 2, 4, ...
    lstm_units: tuple[int, ...] = (16, 8, 32)
    heads: tuple[int, ...] = (2, 1)
    dropout: tuple[float, ...] = (0.1, 0.0, 0.2)
    learning_rate: tuple[float, ...] = (1e-3, 3e-3)

    @classmethod
    def quick(cls) -> SearchSpace:
        """The tiny model of ``mixbot train --quick`` (a few thousand parameters)."""
        return cls((4, 8), (2,), (4, 8), (1,), (0.0,), (3e-3,))

    def hyperparameters(self) -> Any:
        """A KerasTuner ``HyperParameters`` declaring these choices."""
        import keras_tuner as kt

        hp = kt.HyperParameters()
        for name in ("filters", "depth", "lstm_units", "heads", "dropout", "learning_rate"):
            hp.Choice(name, list(getattr(self, name)), default=getattr(self, name)[0])
        return hp

    def spec(self, values: dict[str, Any], window: int, n_features: int) -> ModelSpec:
        """The :class:`ModelSpec` of one set of drawn values."""
        return ModelSpec(
            window=window,
            n_features=n_features,
            filters=int(values["filters"]),
            dilations=tuple(2**d for d in range(int(values["depth"]))),
            lstm_units=int(values["lstm_units"]),
            heads=int(values["heads"]),
            key_dim=max(4, int(values["filters"]) // 2),
            dropout=float(values["dropout"]),
            learning_rate=float(values["learning_rate"]),
        )


@dataclass
class TrialResult:
    """One trial: its values, score (the objective), the reason when the score is a defined
    stand-in, and what the deflated Sharpe ratio needs (daily returns of its trades)."""

    number: int
    values: dict[str, Any]
    score: float
    note: str
    n_trades: int
    daily_returns: list[float] = field(default_factory=list)
    sharpe: float | None = None


@dataclass
class SearchResult:
    """The tuner's outcome: the best spec and every trial (``trials`` in order)."""

    best: ModelSpec
    best_trial: TrialResult
    trials: list[TrialResult]


Scorer = Callable[[ModelSpec, int], TrialResult]


def search(
    space: SearchSpace,
    window: int,
    n_features: int,
    score: Scorer,
    *,
    trials: int,
    seed: int,
    on_trial: Callable[[TrialResult], None] | None = None,
) -> SearchResult:
    """Run ``trials`` random-search trials; ``score(spec, trial_number)`` fits and scores one.

    Raises:
        MixbotError: no trial completed (the first failure's message is included).
    """
    import keras_tuner as kt

    done: list[TrialResult] = []
    errors: list[str] = []

    class _Search(kt.RandomSearch):  # type: ignore[misc]
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            values = dict(trial.hyperparameters.values)
            try:
                res = score(space.spec(values, window, n_features), len(done) + len(errors))
            except Exception as exc:  # recorded, re-raised for KerasTuner's own bookkeeping
                errors.append(f"{type(exc).__name__}: {exc}")
                raise
            res.values = values
            done.append(res)
            if on_trial is not None:
                on_trial(res)
            return {"val_sharpe": res.score}

    with tempfile.TemporaryDirectory(prefix="mixbot-tuner-") as tmp:
        tuner = _Search(
            hypermodel=None,
            hyperparameters=space.hyperparameters(),
            objective=kt.Objective("val_sharpe", direction="max"),
            max_trials=trials,
            seed=seed,
            directory=tmp,
            project_name="search",
            overwrite=True,
            max_consecutive_failed_trials=2,
        )
        try:
            tuner.search(verbose=0)
        except RuntimeError as exc:
            errors.append(str(exc))
    if not done:
        raise MixbotError(
            "the hyperparameter search completed no trial: "
            + (errors[0] if errors else "KerasTuner ran none (is tensorboard installed?)")
        )
    best = max(done, key=lambda t: t.score)
    return SearchResult(space.spec(best.values, window, n_features), best, done)

"""Walk-forward folds with a purge gap and an embargo.

A *sample* ``i`` is the window that ends at bar ``i``: its features use bars ``<= i`` and its
triple-barrier label uses bars ``i+1 .. i+horizon``. A training sample whose label reaches into
the test block would leak the test's prices into training, so every training (and validation)
sample satisfies ``i + horizon < first test bar`` (the *purge*, Lopez de Prado, "Advances in
Financial Machine Learning", 2018, ch. 7.4.1), and a further ``embargo`` bars are left out
between the end of the purged training span and the test block (ch. 7.4.2), so serially
correlated features right before the test do not train the model either.

Schemes (``mode``): ``expanding`` trains each fold on everything before its test block;
``rolling`` keeps the training span at the length of the first fold's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mixbot.errors import MixbotError

Mode = Literal["expanding", "rolling"]


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold; every range is half-open ``[start, end)`` in bar indices.

    Attributes:
        index: 0-based fold number.
        train: samples the model is fitted on.
        val: samples for early stopping, the learning-rate schedule and the tuner's score
            (the end of the training span, purged from ``train`` like the test).
        test: the out-of-sample block (never seen by this fold's model or the tuner).
    """

    index: int
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def as_dict(self) -> dict[str, object]:
        """JSON-able form (lists of two ints)."""
        return {
            "index": self.index,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
        }


def walk_forward(
    start: int,
    end: int,
    k: int,
    horizon: int,
    *,
    embargo: int = 0,
    first_train_frac: float = 0.5,
    val_frac: float = 0.2,
    mode: Mode = "expanding",
) -> list[Fold]:
    """Split the sample range ``[start, end)`` into ``k`` walk-forward folds.

    The first ``first_train_frac`` (fraction, 0-1) of the range trains the first fold; the rest
    is cut into ``k`` equal, consecutive test blocks. Each fold's training span ends
    ``horizon + embargo`` samples before its test block; its last ``val_frac`` (fraction of the
    span) is the validation part, itself separated from the fitted part by ``horizon`` samples.

    Raises:
        MixbotError: too few samples for ``k`` folds of this horizon (the message says how
            many are needed).
    """
    if k < 1:
        raise MixbotError(f"--folds must be at least 1, got {k}")
    n = end - start
    gap = horizon + embargo
    first_train = int(n * first_train_frac)
    test_len = (n - first_train) // k
    min_fit = 4 * horizon + 50
    if test_len < max(horizon, 20) or first_train - gap < min_fit + horizon + 20:
        raise MixbotError(
            f"{n} labelled bars are too few for {k} walk-forward folds with a label horizon of "
            f"{horizon} bars: use fewer --folds, a longer data range or a smaller horizon"
        )
    folds = []
    for j in range(k):
        t0 = start + first_train + j * test_len
        t1 = end if j == k - 1 else t0 + test_len
        s0 = start if mode == "expanding" else t0 - first_train
        span_end = t0 - gap  # training samples are < span_end
        v0 = span_end - max(int((span_end - s0) * val_frac), 20)
        fit_end = v0 - horizon  # purge between the fitted part and the validation part
        folds.append(Fold(j, (s0, fit_end), (v0, span_end), (t0, t1)))
    return folds


def final_fit(start: int, end: int, horizon: int, val_frac: float = 0.2) -> Fold:
    """The split of the model trained on every sample (for live trading after the data).

    Its ``test`` range is empty (``(end, end)``): nothing after it is known yet.
    """
    v0 = end - max(int((end - start) * val_frac), 20)
    return Fold(-1, (start, v0 - horizon), (v0, end), (end, end))

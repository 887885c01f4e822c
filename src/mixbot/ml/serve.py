"""Serving a registered model with LiteRT (``ai_edge_litert``): no TensorFlow in the bot.

Every ensemble member is exported twice by ``mixbot train`` (:func:`mixbot.ml.model.export_litert`):
a batch-1 flatbuffer for live and replayed bars (one window per new bar: p99 about 1-2 ms on this
CPU, ``benchmarks/ml_inference.py``) and a batch-:data:`BATCH` one for backtests, which predict
every bar at once. Both run the same graph with built-in ops; they agree with Keras to about
1e-7 (``tests/ml/test_train.py``). An ensemble's probability is the mean of its members'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Batch size of the backtest flatbuffers (the last batch is padded).
BATCH = 256


def _interpreter(path: Path) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    return it


class Member:
    """One exported model: its batch-1 and batch-:data:`BATCH` interpreters (loaded lazily).

    Args:
        one: path of the batch-1 flatbuffer; many: path of the batch-:data:`BATCH` one.
    """

    def __init__(self, one: Path, many: Path) -> None:
        self.paths = (one, many)
        self._its: dict[int, tuple[Any, int, int]] = {}

    def _get(self, which: int) -> tuple[Any, int, int]:
        if which not in self._its:
            it = _interpreter(self.paths[which])
            self._its[which] = (
                it,
                it.get_input_details()[0]["index"],
                it.get_output_details()[0]["index"],
            )
        return self._its[which]

    def predict_one(self, window: np.ndarray) -> np.ndarray:
        """Probabilities (3,) of one window ``(window, n_features)`` float32."""
        it, i, o = self._get(0)
        it.set_tensor(i, window[None, ...])
        it.invoke()
        return np.array(it.get_tensor(o)[0], dtype=np.float64)

    def predict_many(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities (m, 3) of ``windows`` ``(m, window, n_features)`` float32."""
        it, i, o = self._get(1)
        m = windows.shape[0]
        out = np.empty((m, 3), dtype=np.float64)
        for s in range(0, m, BATCH):
            chunk = windows[s : s + BATCH]
            if chunk.shape[0] < BATCH:
                pad = np.zeros((BATCH - chunk.shape[0], *chunk.shape[1:]), dtype=np.float32)
                chunk = np.concatenate([chunk, pad])
            it.set_tensor(i, np.ascontiguousarray(chunk))
            it.invoke()
            out[s : s + BATCH] = it.get_tensor(o)[: min(BATCH, m - s)]
        return out


class Ensemble:
    """The members of one fold (or of the final model); probabilities are their mean."""

    def __init__(self, members: list[Member]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = members

    def predict_one(self, window: np.ndarray) -> np.ndarray:
        """Mean probabilities (3,) of one window ``(window, n_features)`` float32."""
        return np.mean([m.predict_one(window) for m in self.members], axis=0)  # type: ignore[no-any-return]

    def predict_many(self, windows: np.ndarray) -> np.ndarray:
        """Mean probabilities (m, 3) of ``windows`` ``(m, window, n_features)`` float32."""
        return np.mean([m.predict_many(windows) for m in self.members], axis=0)  # type: ignore[no-any-return]


def windows_at(x: np.ndarray, idx: np.ndarray, window: int) -> np.ndarray:
    """The windows ending at rows ``idx`` of ``x`` ``(n, F)``: shape ``(len(idx), window, F)``,
    float32 (every ``idx >= window - 1``)."""
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (n-w+1, F, w)
    return np.ascontiguousarray(view[idx - window + 1].transpose(0, 2, 1), dtype=np.float32)

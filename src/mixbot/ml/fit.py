"""Fitting one model on one fold (TensorFlow): the input pipeline, callbacks, prediction.

Samples are fed through ``tf.data``: the normalised feature matrix stays one tensor and each
batch gathers its windows from it (a window is the ``window`` rows ending at the sample's
bar), so memory does not grow with ``window``. Training uses ``EarlyStopping`` on the
validation loss (best weights restored) and ``ReduceLROnPlateau``; class weights
(``n / (3 * count)`` per class, scikit-learn's "balanced" rule) multiply each sample's weight
(augmented samples carry more). XLA is left off: on this CPU it makes ``fit`` about 7x slower.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixbot.ml.model import ModelSpec, build_model


@dataclass
class Samples:
    """Training samples: bar index of each window's LAST bar, its label and weight, shape (m,)."""

    index: np.ndarray
    label: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.index.shape[0])


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Weights (3,) making every class weigh the same in the loss: ``m / (3 * count_c)``
    (a class absent from ``labels`` gets weight 0)."""
    counts = np.bincount(labels.astype(np.int64), minlength=3).astype(np.float64)
    with np.errstate(divide="ignore"):
        w = np.where(counts > 0, counts.sum() / (3.0 * counts), 0.0)
    return w


def seed_everything(seed: int) -> None:
    """Python, numpy and TensorFlow seeds, and deterministic TensorFlow ops (the same command
    twice gives the same model)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # retracing notices of predict() on new lengths


def _dataset(x: Any, s: Samples, window: int, batch: int, shuffle_seed: int | None) -> Any:
    import tensorflow as tf

    offsets = tf.range(-window + 1, 1, dtype=tf.int64)
    ds = tf.data.Dataset.from_tensor_slices(
        (s.index.astype(np.int64), s.label.astype(np.int64), s.weight.astype(np.float32))
    )
    if shuffle_seed is not None:
        ds = ds.shuffle(len(s), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch)
    return ds.map(
        lambda i, y, w: (tf.gather(x, i[:, None] + offsets[None, :]), y, w),
        num_parallel_calls=1,
        deterministic=True,
    )


class _EpochHook:
    """A Keras callback calling ``on_epoch(epoch, logs)`` (progress bars, the tuner's score)."""

    def __new__(cls, fn: Callable[[int, dict[str, float]], None]) -> Any:
        import keras

        class Hook(keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                fn(epoch, logs or {})

        return Hook()


def fit_model(
    spec: ModelSpec,
    x: np.ndarray,
    train: Samples,
    val: Samples,
    *,
    epochs: int,
    seed: int,
    batch: int = 128,
    patience: int = 3,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> Any:
    """Train a fresh model of ``spec`` on ``train`` (early stopping on ``val``).

    Args:
        x: normalised features ``(n, F)`` float32 of every bar (windows are gathered from it).
        train, val: samples; their weights are multiplied by the training labels' class weights.
        epochs: at most this many passes; seed: weights, dropout and shuffling seed.

    Returns:
        the trained Keras model (best validation-loss weights).
    """
    import keras
    import tensorflow as tf

    seed_everything(seed)
    cw = class_weights(train.label)
    tr = Samples(train.index, train.label, train.weight * cw[train.label])
    va = Samples(val.index, val.label, val.weight * cw[val.label])
    xt = tf.constant(x, dtype=tf.float32)
    model = build_model(spec)
    callbacks: list[Any] = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5),
    ]
    if on_epoch is not None:
        callbacks.append(_EpochHook(on_epoch))
    model.fit(
        _dataset(xt, tr, spec.window, batch, seed),
        validation_data=_dataset(xt, va, spec.window, 512, None),
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
    )
    return model


def predict(model: Any, x: np.ndarray, index: np.ndarray, window: int) -> np.ndarray:
    """Keras probabilities ``(len(index), 3)`` of the windows ending at bars ``index``."""
    import tensorflow as tf

    s = Samples(index, np.zeros_like(index), np.ones(len(index), dtype=np.float32))
    ds = _dataset(tf.constant(x, dtype=tf.float32), s, window, 512, None).map(lambda xb, y, w: xb)
    return np.asarray(model.predict(ds, verbose=0), dtype=np.float64)

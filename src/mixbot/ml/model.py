"""The classifier: TCN -> bidirectional LSTM -> multi-head attention -> softmax (Keras 3, TF).

Architecture (input: ``(window, n_features)`` float32, normalised features of the last
``window`` bars, oldest first; output: probabilities of SELL / HOLD / BUY, summing to 1):

1. a Temporal Convolutional Network: residual blocks of two dilated *causal* ``Conv1D``
   layers (dilations 1, 2, 4, ...), ReLU, dropout, a 1x1 convolution on the skip path when the
   width changes (Bai, Kolter and Koltun, "An Empirical Evaluation of Generic Convolutional
   and Recurrent Networks for Sequence Modeling", 2018). Written with Keras' own layers: the
   ``keras-tcn`` wheel pulls in a second TensorFlow;
2. a bidirectional LSTM over the TCN's output sequence (Hochreiter and Schmidhuber, 1997;
   Schuster and Paliwal, 1997). Its backward direction reads the window from its newest bar
   back: every bar of the window is in the past of the prediction, so this is not lookahead;
3. ``MultiHeadAttention`` (Vaswani et al., "Attention Is All You Need", 2017) of the sequence
   on itself, a residual connection and layer normalisation, then the last time step and the
   sequence mean, concatenated;
4. a dense softmax over the 3 classes.

TensorFlow is imported by this module: only ``mixbot train`` imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

N_CLASSES = 3


@dataclass(frozen=True)
class ModelSpec:
    """Sizes and training rates of one model (what the tuner searches).

    Attributes:
        window: bars per input window; n_features: features per bar.
        filters: TCN channels; kernel: TCN kernel width in bars; dilations: one residual block
            per dilation.
        lstm_units: units per LSTM direction; heads / key_dim: attention heads and their size.
        dropout: fraction (0-1) dropped after each TCN conv and before the output.
        learning_rate: Adam's initial learning rate.
    """

    window: int
    n_features: int
    filters: int = 16
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    lstm_units: int = 16
    heads: int = 2
    key_dim: int = 8
    dropout: float = 0.1
    learning_rate: float = 1e-3

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = asdict(self)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Inverse of :meth:`as_dict` (keys that are not fields are ignored)."""
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["dilations"] = tuple(d.get("dilations", (1, 2, 4, 8)))
        return cls(**d)


def build_model(spec: ModelSpec) -> Any:
    """A compiled Keras model of ``spec`` (Adam, sparse categorical cross-entropy, accuracy).

    Weights start from Keras' global seed: call ``keras.utils.set_random_seed`` first for a
    reproducible model.
    """
    import keras
    from keras import layers

    inp = keras.Input((spec.window, spec.n_features), name="features")
    x = inp
    for d in spec.dilations:
        y = layers.Conv1D(spec.filters, spec.kernel, padding="causal", dilation_rate=d)(x)
        y = layers.Dropout(spec.dropout)(layers.Activation("relu")(y))
        y = layers.Conv1D(spec.filters, spec.kernel, padding="causal", dilation_rate=d)(y)
        y = layers.Dropout(spec.dropout)(layers.Activation("relu")(y))
        skip = x if x.shape[-1] == spec.filters else layers.Conv1D(spec.filters, 1)(x)
        x = layers.Activation("relu")(layers.Add()([skip, y]))
    x = layers.Bidirectional(layers.LSTM(spec.lstm_units, return_sequences=True))(x)
    att = layers.MultiHeadAttention(num_heads=spec.heads, key_dim=spec.key_dim)(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, att]))
    last = layers.Flatten()(layers.Cropping1D((spec.window - 1, 0), name="last_step")(x))
    pooled = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(spec.dropout)(layers.Concatenate()([last, pooled]))
    out = layers.Dense(N_CLASSES, activation="softmax", name="proba")(x)
    model = keras.Model(inp, out, name="tcn_bilstm_attention")
    model.compile(
        optimizer=keras.optimizers.Adam(spec.learning_rate),
        loss="sparse_categorical_crossentropy",
        weighted_metrics=["accuracy"],
    )
    return model


def export_litert(model: Any, path: str, batch: int, window: int, n_features: int) -> None:
    """Write ``model`` as a LiteRT flatbuffer with a fixed input shape ``(batch, window,
    n_features)`` float32 (built-in ops only: a dynamic batch needs TensorFlow's Flex ops,
    which no LiteRT runtime here can run)."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch, window, n_features), tf.float32)
    model.export(path, format="litert", input_signature=[spec], verbose=False)

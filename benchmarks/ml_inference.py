"""ML inference latency per bar: LiteRT (what a bot uses) against Keras and tf.function paths.

Builds the classifier of :mod:`mixbot.ml.model` at the issue's measuring size (window 60,
20 features, filters 32, 4 TCN blocks, LSTM 32, 4 heads: about 90k parameters; weights random,
latency does not depend on them) or loads a registered model's final member (``--model
models/<bot>/<version>``), exports it to LiteRT like ``mixbot train`` does, and prints
p50 / p99 / max over ``--calls`` single-window predictions (default 2,000) for each path:

- ``keras.predict``: ``model.predict`` of one window;
- ``tf.function``: a traced function with a fixed input signature;
- ``tf.function+XLA``: the same with ``jit_compile=True``;
- ``litert b1``: the batch-1 LiteRT flatbuffer in ``ai_edge_litert`` (1 thread): the bot's path;
- ``litert b256 / window``: the backtest flatbuffer, per window of a full batch;
- ``bot per bar``: what the ML mixin does on each live bar: features over the live window
  (810 bars), normalisation and the batch-1 LiteRT call (needs ``--model``).

Also prints the largest difference of each path from Keras. Target (issue): p99 < 5 ms per
bar. Usage::

    .venv/bin/python benchmarks/ml_inference.py
    .venv/bin/python benchmarks/ml_inference.py --model models/0007/v0001 --calls 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _stats(fn: Callable[[int], Any], calls: int, warm: int = 20) -> tuple[float, float, float]:
    for k in range(warm):
        fn(k)
    ts = np.empty(calls)
    for k in range(calls):
        t = time.perf_counter()
        fn(k)
        ts[k] = time.perf_counter() - t
    p50, p99 = np.percentile(ts, [50, 99]) * 1000
    return float(p50), float(p99), float(ts.max() * 1000)


def _model(args: argparse.Namespace) -> tuple[Any, int, int, dict[str, Any] | None]:
    import keras

    from mixbot.ml.model import ModelSpec, build_model

    if args.model:
        meta = json.loads((Path(args.model) / "meta.json").read_text())
        spec = ModelSpec.from_dict(meta["model"])
        model = build_model(spec)
        model.load_weights(str(Path(args.model) / "final" / "m0.weights.h5"))
        return model, spec.window, spec.n_features, meta
    keras.utils.set_random_seed(1)
    spec = ModelSpec(60, 20, filters=32, dilations=(1, 2, 4, 8), lstm_units=32, heads=4, key_dim=16)
    return build_model(spec), 60, 20, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a registered model folder (models/<bot>/<version>)")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--skip-tf", action="store_true", help="only the LiteRT paths")
    args = ap.parse_args(argv)
    import tensorflow as tf

    from mixbot.ml.model import export_litert
    from mixbot.ml.serve import BATCH, Member

    model, w, f, meta = _model(args)
    print(f"model: {model.count_params():,} parameters, input ({w}, {f}), {args.calls} calls")
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, w, f)).astype(np.float32)
    ref = np.asarray(model.predict(xs, verbose=0))
    rows: list[tuple[str, tuple[float, float, float], float]] = []
    if not args.skip_tf:
        rows.append(("keras.predict", _stats(lambda k: model.predict(xs[k % 64 : k % 64 + 1], verbose=0), min(args.calls, 300)), 0.0))  # fmt: skip
        sig = [tf.TensorSpec((1, w, f), tf.float32)]
        for name, jit in (("tf.function", False), ("tf.function+XLA", True)):
            fn = tf.function(
                lambda x: model(x, training=False), input_signature=sig, jit_compile=jit
            )
            diff = max(float(np.abs(fn(xs[k : k + 1]).numpy() - ref[k]).max()) for k in range(8))
            rows.append((name, _stats(lambda k, fn=fn: fn(xs[k % 64 : k % 64 + 1]).numpy(), args.calls), diff))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        one, many = Path(tmp) / "b1.tflite", Path(tmp) / "b256.tflite"
        export_litert(model, str(one), 1, w, f)
        export_litert(model, str(many), BATCH, w, f)
        m = Member(one, many)
        diff = max(float(np.abs(m.predict_one(xs[k]) - ref[k]).max()) for k in range(64))
        rows.append(("litert b1", _stats(lambda k: m.predict_one(xs[k % 64]), args.calls), diff))
        big = np.concatenate([xs] * (BATCH // 64))
        d256 = float(np.abs(m.predict_many(big)[:64] - ref).max())
        p50, p99, mx = _stats(lambda k: m.predict_many(big), max(args.calls // 50, 20), warm=3)
        rows.append((f"litert b{BATCH} / window", (p50 / BATCH, p99 / BATCH, mx / BATCH), d256))
        if meta is not None:
            rows.append(("bot per bar", _bot_per_bar(meta, Path(args.model), args.calls), 0.0))
    print(f"{'path':<24}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'max |diff| vs keras':>22}")
    for name, (p50, p99, mx), diff in rows:
        print(f"{name:<24}{p50:>9.3f}{p99:>9.3f}{mx:>9.3f}{diff:>22.2e}")
    bot = next(r for r in rows if r[0] == "litert b1")
    print(f"target p99 < 5 ms per bar (litert b1): {'PASS' if bot[1][1] < 5 else 'FAIL'}")
    print(
        f"tensorflow imported by the LiteRT path: no (ai_edge_litert only); python {sys.version.split()[0]}"
    )
    return 0


def _bot_per_bar(meta: dict[str, Any], folder: Path, calls: int) -> tuple[float, float, float]:
    """Features over an 810-bar live window + normalisation + batch-1 LiteRT, per new bar."""
    from mixbot.ml.features import Normalizer, compute_features
    from mixbot.ml.serve import Member
    from mixbot.strategy.mixin import Bars

    fin = meta["final"]
    m = Member(
        folder / "final" / fin["members"][0]["b1"], folder / "final" / fin["members"][0]["many"]
    )
    norm = Normalizer.from_dict(fin["normalizer"])
    rng = np.random.default_rng(1)
    n, w = 810, int(meta["window"])
    close = 25_000 * np.exp(np.cumsum(rng.normal(0, 0.002, n + calls + 50)))
    hi, lo = close * 1.001, close * 0.999
    vol = rng.integers(1_000, 5_000, close.shape).astype(float)
    minutes = 555 + 15 * (np.arange(close.shape[0]) % 25) + 15

    def step(k: int) -> None:
        s = slice(k, k + n)
        bars = Bars(close[s], hi[s], lo[s], close[s], vol[s], minutes[s].astype(np.int64), k)
        x = compute_features(bars, meta["interval_minutes"] < 1440)
        m.predict_one(np.nan_to_num(norm.transform(x[-w:]), nan=0.0).astype(np.float32))

    return _stats(step, calls)


if __name__ == "__main__":
    raise SystemExit(main())

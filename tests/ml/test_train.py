"""`mixbot train --quick` end to end: registry contents, honest folds, LiteRT = Keras, the same
seed gives the same model, and the bot trades with it identically in a backtest and a replay."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from tests.ml.ml_rig import RANGE, Trained, ml_config, train_cli

from mixbot.config.load import load_config
from mixbot.engine.backtest import run_backtest
from mixbot.engine.runner import Bot
from mixbot.errors import ConfigError
from mixbot.feeds.series import prepare_series  # noqa: F401 - the loader the dataset uses
from mixbot.ml.dataset import load_dataset


@pytest.fixture
def models_env(trained: Trained, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Trained:
    monkeypatch.setenv("MIXBOT_MODELS", str(trained.models))
    monkeypatch.chdir(tmp_path)
    return trained


def test_quick_train_prints_an_out_of_sample_report(trained: Trained) -> None:
    out = trained.stdout
    assert "out-of-sample" in out.lower()
    assert "buy-and-hold" in out.lower() and "no-skill" in out.lower()
    assert str(trained.version_dir) in out
    assert (trained.version_dir / "report.json").exists()
    assert (trained.version_dir / "report.png").stat().st_size > 10_000


def test_meta_records_what_the_model_was_made_from(trained: Trained, data_dir: Path) -> None:
    m = trained.meta
    assert m["feature_set"] == "fs1" and m["interval"] == "15m" and m["interval_minutes"] == 15
    assert (m["window"], m["horizon"]) == (32, 16)
    assert m["classes"] == ["SELL", "HOLD", "BUY"]
    files = sorted((data_dir / "nse_1min" / "BANKNIFTY").iterdir())
    want = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()]
    assert [f["sha256"] for f in m["data"]["files"]] == want
    assert m["data"]["from"].startswith("2017-04-03") and m["data"]["to"].startswith("2017-12-29")
    assert {"tensorflow-cpu", "keras", "keras-tuner", "ai-edge-litert"} <= set(m["versions"])
    assert m["tuner"]["trials"] and m["tuner"]["deflated_sharpe"]["n_trials"] == len(
        m["tuner"]["trials"]
    )
    assert m["stops"]["sl_multiplier"] == 1.5 and m["stops"]["tp_multiplier"] == 2.0


def test_folds_are_purged_and_embargoed(trained: Trained) -> None:
    h = trained.meta["horizon"]
    for f in trained.meta["folds"]:
        # a training sample i has a label reaching bar i + h: all before validation / test
        assert f["train"][1] - 1 + h < f["val"][0]
        assert f["val"][1] - 1 + h + h <= f["test"][0]  # purge (h) + embargo (h by default)
        assert f["metrics"]["train_to"] < f["metrics"]["test_from"]


def test_normaliser_comes_from_the_training_rows_only(models_env: Trained) -> None:
    cfg = load_config(models_env.config)
    ds = load_dataset(cfg, None, *RANGE[1::2])
    fold = models_env.meta["folds"][0]
    lo, hi = fold["train"][0] - ds.window + 1, fold["train"][1]
    rows = ds.x[max(lo, 0) : hi]
    rows = rows[np.isfinite(rows).all(axis=1)]
    np.testing.assert_allclose(fold["normalizer"]["mean"], rows.mean(axis=0), rtol=1e-9, atol=1e-12)
    everything = ds.x[np.isfinite(ds.x).all(axis=1)]
    assert not np.allclose(fold["normalizer"]["mean"], everything.mean(axis=0), rtol=1e-6)


def test_litert_flatbuffers_agree_with_keras(trained: Trained) -> None:
    groups = trained.meta["folds"] + [trained.meta["final"]]
    for g in groups:
        for m in g["members"]:
            assert m["litert_max_abs_diff_b1"] < 1e-5
            assert m["litert_max_abs_diff_b256"] < 1e-5


def _datasets(f: h5py.File) -> list[str]:
    out: list[str] = []
    f.visititems(lambda name, obj: out.append(name) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_same_command_twice_gives_the_same_model(trained: Trained, tmp_path: Path) -> None:
    models = tmp_path / "models"
    proc = train_cli(trained.config, models, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for sub in ("fold0", "final"):
        with (
            h5py.File(trained.version_dir / sub / "m0.weights.h5") as a,
            h5py.File(models / "0007" / "v0001" / sub / "m0.weights.h5") as b,
        ):
            names = _datasets(a)
            assert names and names == _datasets(b)
            for n in names:
                np.testing.assert_array_equal(a[n][()], b[n][()])


def test_backtest_trades_with_the_model_only_out_of_sample(models_env: Trained) -> None:
    cfg = load_config(models_env.config)
    res = run_backtest(cfg, date_from=RANGE[1], date_to=RANGE[3], progress=False)
    assert len(res.trades) >= 3
    first_test = np.datetime64(models_env.meta["folds"][0]["metrics"]["test_from"])
    assert all(np.datetime64(t.entry_time) > first_test for t in res.trades)


def test_replay_trades_like_the_backtest(models_env: Trained, tmp_path: Path) -> None:
    cfg_path = ml_config(
        tmp_path / "replay", Path(load_config(models_env.config).data.path).parents[1],
        data_source="replay", replay_as="bars", speed=0, **{"from": "2017-09-01", "to": "2017-12-31"},
    )  # fmt: skip
    cfg = load_config(cfg_path)
    bt = run_backtest(cfg, progress=False)
    live = Bot(cfg).run()
    key = [(t.entry_time, t.exit_time, t.exit_reason, t.size, t.exit_price) for t in bt.trades]
    assert len(key) >= 2
    assert [
        (t.entry_time, t.exit_time, t.exit_reason, t.size, t.exit_price) for t in live.trades
    ] == key


def test_a_model_for_another_bar_size_or_window_is_refused(
    models_env: Trained, tmp_path: Path, data_dir: Path
) -> None:
    cfg = load_config(ml_config(tmp_path / "a", data_dir, interval="30m"))
    with pytest.raises(ConfigError, match=r"data\.interval is 30m.*mixbot train"):
        run_backtest(cfg, progress=False)
    path = ml_config(tmp_path / "b", data_dir)
    doc = json.loads(path.read_text())
    doc["strategy"]["entry_logic"]["params"]["window"] = 48
    doc["strategy"]["exit_logic"]["params"]["window"] = 48
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"window 48 but model v0001 was trained with 32"):
        run_backtest(load_config(path), progress=False)


def test_no_model_yet_says_to_train(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXBOT_MODELS", str(tmp_path / "empty"))
    cfg = load_config(ml_config(tmp_path, data_dir))
    with pytest.raises(ConfigError, match=r"no trained model for bot '0007'.*run `mixbot train"):
        run_backtest(cfg, progress=False)


def test_models_command_lists_the_version(trained: Trained) -> None:
    env = {**os.environ, "MIXBOT_MODELS": str(trained.models), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "mixbot", "models", str(trained.config), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["version"] for r in rows] == ["v0001"] and rows[0]["interval"] == "15m"


def test_train_refuses_a_config_without_an_ml_mixin(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mixbot", "train", "config/trading/0001.json", "--quick"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=False,
        env={**os.environ, "MIXBOT_MODELS": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "MLModelEntryMixin" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


#: the simulator's exit reasons as the engine names them
ENGINE_REASON = {"horizon": "time", "square_off": "eod_square_off"}


def test_report_trades_are_the_backtests_trades(models_env: Trained) -> None:
    """The out-of-sample report simulates what the engine does with the config: the same
    entries and exits (times, reasons, sizes) as `mixbot backtest` over the test block."""
    report = json.loads((models_env.version_dir / "report.json").read_text())
    cfg = load_config(models_env.config)
    bt = run_backtest(cfg, date_from=RANGE[1], date_to=RANGE[3], progress=False)
    sim = [
        (
            t["entry_time"][:19],
            t["exit_time"][:19],
            ENGINE_REASON.get(t["exit_reason"], t["exit_reason"]),
            t["size"],
        )
        for t in report["trades"]
    ]
    eng = [
        (t.entry_time.isoformat()[:19], t.exit_time.isoformat()[:19], t.exit_reason, t.size)
        for t in bt.trades
    ]
    assert len(eng) >= 3
    assert sim == eng
    prices = [(t["entry_price"], t["exit_price"], t["charges"]) for t in report["trades"]]
    want = [(t.entry_price, t.exit_price, t.charges) for t in bt.trades]
    assert np.allclose(prices, want, rtol=0, atol=1e-6)


def test_a_model_of_another_feature_set_is_refused(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    meta_path = models / "0007" / "v0001" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["feature_set"] = "fs0"
    meta_path.write_text(json.dumps(meta))
    monkeypatch.setenv("MIXBOT_MODELS", str(models))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"feature set is 'fs0', this mixbot computes 'fs1'"):
        run_backtest(load_config(trained.config), progress=False)

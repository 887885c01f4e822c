"""Adaptive ATR stop / target multipliers from a fixture trade log of real daily bars in a
real store, read through the service layer (``adapt_for_config``) and ``mixbot adapt``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.ml.trade_log_fixture import RealBars, make_config, pick_trades, real_bars, write_store

from mixbot import cli
from mixbot.ml import adapt_cli, registry
from mixbot.ml.adapt import adapt_for_config, adapt_per_symbol, adapt_stops, trade_stats


@pytest.fixture(scope="module")
def rel(data_dir: Path) -> RealBars:
    return real_bars(data_dir, "RELIANCE")


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own store (MIXBOT_DATABASE_URL), model registry (MIXBOT_MODELS) and working dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    monkeypatch.setenv(registry.MODELS_ENV, str(tmp_path / "models"))
    return tmp_path


def losing_streak(rel: RealBars) -> list[dict[str, Any]]:
    """12 real trades: 3 net winners (take_profit), 9 net losers (stop_loss): win rate 25 %,
    stop exits 75 %."""
    return pick_trades(rel, 3000, 3, 9, "take_profit", "stop_loss")


def test_low_win_rate_with_stop_hits_loosens_the_stop(
    rel: RealBars, work: Path, data_dir: Path
) -> None:
    trades = losing_streak(rel)
    write_store(f"sqlite:///{work / 'store.sqlite'}", "adapt1", trades)
    cfg = make_config(data_dir, work / "bots", "adapt1")
    res = adapt_for_config(cfg)
    assert list(res) == ["RELIANCE"]
    r = res["RELIANCE"]
    assert r.stats["n"] == 12
    assert r.stats["win_rate"] == 3 / 12 and r.stats["sl_share"] == 9 / 12
    assert r.stats["tp_share"] == 3 / 12
    assert r.stats["net_pnl"] == pytest.approx(sum(t["pnl_net"] for t in trades))
    assert (r.old_sl, r.old_tp, r.source) == (2.0, 3.0, "config")  # 0001.json's ATR exit
    assert (r.sl, r.tp, r.rule) == (2.25, 3.0, "loosen_stop") and r.changed
    assert "stop loosened" in r.reason


def test_bounds_clamp_and_too_few_trades(rel: RealBars) -> None:
    trades = losing_streak(rel)
    at_top = adapt_stops(trades, 4.0, 3.0)
    assert (at_top.sl, at_top.rule, at_top.changed) == (4.0, "loosen_stop", False)
    assert "clamped" in at_top.reason
    near = adapt_stops(trades, 2.0, 3.0, sl_bounds=(1.0, 2.1))
    assert near.sl == 2.1
    few = adapt_stops(trades[:9], 2.0, 3.0)
    assert (few.sl, few.tp, few.rule, few.stats["n"]) == (2.0, 3.0, "too_few", 9)
    assert "9 trades < min_trades 10" in few.reason
    none = adapt_stops([], 2.0, 3.0)
    assert none.stats["win_rate"] is None and none.rule == "too_few"


def test_target_rules(rel: RealBars) -> None:
    # winners leave on the exit signal, the target is never reached: bring it closer
    signal_wins = pick_trades(rel, 3000, 10, 2, "signal", "stop_loss")
    r = adapt_stops(signal_wins, 2.0, 3.0)
    assert r.stats["tp_share"] == 0 and r.stats["win_rate"] == 10 / 12
    assert (r.sl, r.tp, r.rule) == (2.0, 2.75, "closer_target")
    # most trades reach the target: let it run
    tp_wins = pick_trades(rel, 3000, 8, 3, "take_profit", "stop_loss")
    r = adapt_stops(tp_wins, 2.0, 3.0)
    assert (r.sl, r.tp, r.rule) == (2.0, 3.25, "extend_target")
    assert adapt_stops(tp_wins, 2.0, 6.0).tp == 6.0  # tp_bounds' top
    # a balanced record: nothing moves
    mixed = pick_trades(rel, 3000, 6, 6, "signal", "signal")
    r = adapt_stops(mixed, 2.0, 3.0)
    assert (r.sl, r.tp, r.rule) == (2.0, 3.0, "unchanged")


def test_recent_trades_only_and_per_symbol(rel: RealBars, data_dir: Path) -> None:
    old_good = pick_trades(rel, 1500, 12, 0, "take_profit", "stop_loss")
    new_bad = losing_streak(rel)
    both = old_good + new_bad
    assert trade_stats(both, recent=12)["win_rate"] == 3 / 12
    assert adapt_stops(both, 2.0, 3.0, recent=12).rule == "loosen_stop"
    assert adapt_stops(both, 2.0, 3.0, recent=100).rule != "loosen_stop"
    tcs = pick_trades(real_bars(data_dir, "TCS"), 2000, 8, 3, "take_profit", "stop_loss")
    res = adapt_per_symbol(new_bad + tcs, 2.0, 3.0, symbols=("INFY",))
    assert list(res) == ["INFY", "RELIANCE", "TCS"]
    assert res["RELIANCE"].rule == "loosen_stop" and res["TCS"].rule == "extend_target"
    assert res["INFY"].rule == "too_few" and res["INFY"].stats["n"] == 0


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``mixbot.cli.main`` with ``adapt`` registered (the lead adds it to cli.py)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "adapt" not in sub.choices:
        build = cli.build_parser

        def with_adapt() -> argparse.ArgumentParser:
            p = build()
            s = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
            adapt_cli.add_parsers(s)
            return p

        monkeypatch.setattr(cli, "build_parser", with_adapt)
    return cli.main(argv)


def test_cli_prints_the_table_and_writes_to_the_model(
    rel: RealBars,
    work: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_store(f"sqlite:///{work / 'store.sqlite'}", "adapt2", losing_streak(rel))
    cfg = str(make_config(data_dir, work / "bots", "adapt2"))
    assert _main(["adapt", cfg], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "adaptive ATR multipliers of bot adapt2" in out
    row = next(line for line in out.splitlines() if "RELIANCE" in line)
    for cell in ("12", "25%", "75%", "2 -> 2.25", "3 -> 3", "config"):
        assert cell in row
    # --write without a trained model: a clear error, exit 2
    assert _main(["adapt", cfg, "--write"], monkeypatch) == 2
    assert "run `mixbot train" in capsys.readouterr().err
    # with a registered model: its stops are the current ones, --write appends adapt.json
    _, path = registry.new_version("adapt2")
    stops = {"atr_period": 14, "sl_multiplier": 2.5, "tp_multiplier": 3.5}
    registry.write_meta(path, {"stops": stops})
    assert _main(["adapt", cfg, "--write", "--json"], monkeypatch) == 0
    out = capsys.readouterr().out
    doc = json.loads(out[: out.rindex("}") + 1])
    assert doc["symbols"]["RELIANCE"]["old_sl"] == 2.5
    assert doc["symbols"]["RELIANCE"]["source"] == "model v0001"
    assert registry.load("adapt2").stops == {**stops, "sl_multiplier": 2.75}
    # the next run starts from the recorded adaptation
    assert adapt_for_config(cfg)["RELIANCE"].old_sl == 2.75


def test_no_tensorflow_import() -> None:
    code = (
        "import sys, mixbot.ml.augment, mixbot.ml.adapt, mixbot.ml.adapt_cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

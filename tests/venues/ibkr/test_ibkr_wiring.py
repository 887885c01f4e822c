"""The ibkr config section (defaults, env overrides, unknown keys refused), the registry
entry, and `mixbot feed-test --source ibkr` / `mixbot ibkr-sim` on the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ibkr_rig import config

from mixbot.cli import main
from mixbot.venues import registry
from mixbot.venues.ibkr.config import IbkrConfig


def test_section_defaults_and_env_overrides(tmp_path: Path) -> None:
    cfg = config(tmp_path, "c", ibkr={"host": "tws.example", "port": 4002})
    assert IbkrConfig.of(cfg, env={}).host == "tws.example"
    got = IbkrConfig.of(cfg, env={"MIXBOT_IBKR_HOST": "10.0.0.9", "MIXBOT_IBKR_PORT": "7000"})
    assert (got.host, got.port, got.client_id, got.sec_type) == ("10.0.0.9", 7000, 11, "FUT")
    assert got.max_messages_per_s == 45
    spec = registry.get("ibkr")
    assert spec.available and spec.live and spec.feed_test is not None
    assert "ibkr" not in [v.name for v in registry.venues() if not v.available]


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="ibkr"):
        config(tmp_path, "bad", ibkr={"hots": "x"})


def test_feed_test_prints_history_and_live_bars(
    sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    code = main(["feed-test", "BANKNIFTY:FUT:NSE:INR", "--source", "ibkr", "--seconds", "3",
                 "--lookback", "2"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "history: " in out and "minute bar ending 2019-01-02" in out
    assert out.count("minute bar ending") >= 2  # it acknowledges: the lockstep replay moves


def test_feed_test_unknown_contract(sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    assert main(["feed-test", "NOPE", "--source", "ibkr", "--seconds", "1"]) == 2
    assert "unknown" in capsys.readouterr().out


def test_ibkr_sim_command(tmp_path: Path, capsys: Any) -> None:
    from mixbot.cli import build_parser

    args = build_parser().parse_args(
        ["ibkr-sim", "--port", "0", "--data", "x.txt", "--speed", "60"]
    )
    assert args.port == 0 and args.speed == 60.0 and args.data == ["x.txt"]
    bad = tmp_path / "bad.txt"
    bad.write_text("not,a,bar,file\n")
    assert main(["ibkr-sim", "--port", "0", "--data", str(bad)]) == 2
    assert "mixbot ibkr-sim:" in capsys.readouterr().err

"""End to end: `mixbot run` of a paper config on the Upstox feed against the local simulator
replaying real BANKNIFTY 1-minute data trades exactly like the same config replaying the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.engine.runner import Bot
from mixbot.paths import REPO_ROOT

sim_mod = pytest.importorskip("mixbot.simulators.upstox")


def _cfg(doc: dict, path: Path):  # type: ignore[no-untyped-def]
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=json.dumps(doc), env={"UPSTOX_ACCESS_TOKEN": "sim-token"})
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def _key(t):  # type: ignore[no-untyped-def]
    return (t.entry_time, t.exit_time, t.size, t.entry_price, t.exit_price, t.exit_reason)


def test_upstox_feed_session_equals_file_replay(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"
    monkeypatch.chdir(tmp_path)
    live_doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_banknifty.json").read_text())
    live_doc["data"]["to"] = "2019-01-03"
    sim = sim_mod.Simulator(
        files=[src], port=0, speed=0, end="2019-01-03", tls_dir=tmp_path / "tls"
    )
    sim.start()
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
        live_bot = Bot(_cfg(live_doc, tmp_path / "live.json"), fresh=True)
        live = live_bot.run()
    finally:
        sim.stop()
    status = live_bot.get_status()
    assert status["feed_state"] == "DISCONNECTED" and status["status"] == "finished"

    file_doc = json.loads(json.dumps(live_doc))
    file_doc["bot_id"] = "file-replay"
    file_doc["data"] = {
        "data_source": "replay",
        "interval": "1m",
        "path": str(src),
        "lookback_bars": 0,
        "from": "2019-01-01",
        "to": "2019-01-03",
    }
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'file.sqlite'}")
    replay = Bot(_cfg(file_doc, tmp_path / "file.json"), fresh=True).run()

    assert len(live.trades) >= 2
    assert [_key(t) for t in live.trades] == [_key(t) for t in replay.trades]
    assert live.final_cash == pytest.approx(replay.final_cash, abs=1e-6)

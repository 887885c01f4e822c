"""A replayed session through the OpenAlgo feed AND broker (the example config, broker
``openalgo``, against the stepped simulator on real BANKNIFTY 1-minute data) trades exactly
like the same config replaying the file on the mock broker (fills at the signal bar's close,
no charges). Then: the exchange's orders are the store's, one per tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.venues.openalgo.oa_rig import EXAMPLE, FILE, BotThread, capture_feeds, config, play

from mixbot.engine.runner import Bot
from mixbot.simulators.openalgo import Simulator

ENV = {"OPENALGO_API_KEY": "sim-openalgo-key"}


def _key(t):  # type: ignore[no-untyped-def]
    return (t.entry_time, t.exit_time, t.size, t.entry_price, t.exit_price, t.exit_reason)


def test_openalgo_session_trades_like_the_file_replay(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = json.loads(EXAMPLE.read_text())
    src = data_dir / FILE
    sim = Simulator([str(src)], end="2019-01-02", cash=2_000_000.0, speed=0).start()
    feeds = capture_feeds(monkeypatch)
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
        run = BotThread(config(tmp_path, "live", doc, ENV))
        run.start()
        play(sim, feeds)
        run.join(120)
        assert not run.is_alive() and run.error is None, run.error
        orders = sim.orders()
    finally:
        sim.stop()
    live = run.result
    assert run.bot.get_status()["status"] == "finished"

    file_doc = json.loads(json.dumps(doc))
    file_doc.pop("openalgo")
    file_doc["bot_id"] = "file-replay"
    file_doc["broker"] = {"type": "mock", "initial_balance": 2_000_000.0}
    file_doc["data"] = {"data_source": "replay", "interval": "1m", "path": str(src),
                        "speed": 0, "replay_as": "bars", "lookback_bars": 0,
                        "from": "2019-01-01", "to": "2019-01-02"}  # fmt: skip
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'file.sqlite'}")
    replay = Bot(config(tmp_path, "file", file_doc, {}), fresh=True).run()

    assert len(live.trades) >= 2
    assert [_key(t) for t in live.trades] == [_key(t) for t in replay.trades]
    assert live.final_cash == pytest.approx(replay.final_cash, abs=1e-6)
    # every order went to OpenAlgo once, tagged with the bot's tag, strategy from the config
    tags = [o["tag"] for o in orders]
    assert tags and len(tags) == len(set(tags))
    assert all(t.startswith("openalgo-banknifty:") for t in tags)
    assert {o["strategy"] for o in orders} == {"mixbot-banknifty"}
    assert {o["tag"] for o in run.bot.store.orders()} == set(tags)

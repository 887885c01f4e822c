"""A session through the Binance feed (websocket klines from the simulator, whose clock the
test drives) and the ``binance_paper`` broker trades exactly like the same config replaying
the file (``data_source: replay`` + ``broker: paper``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from tests.venues.binance.rig import make_cfg, paper_doc

from mixbot.engine.runner import Bot


def _key(t: Any) -> tuple[Any, ...]:
    return (t.entry_time, t.exit_time, t.size, t.entry_price, t.exit_price, t.exit_reason,
            round(t.charges, 6), t.bars_held)  # fmt: skip


def drive(sim: Any, until: Any) -> None:
    """Step the simulator's clock once the bot subscribed, until the replay ends or
    ``until()``; waits on conditions only (never on wall time for an effect)."""
    assert sim.wait_for(lambda: sim.streams.subscribes >= 1, 60), "feed never subscribed"
    while not sim.finished and not until():
        sim.step(30)


def run_with_sim(bot: Bot, sim: Any) -> Any:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = bot.run()
        except BaseException as exc:  # re-raised below
            out["error"] = exc

    th = threading.Thread(target=run, daemon=True)
    th.start()
    drive(sim, lambda: not th.is_alive())
    th.join(120)
    assert not th.is_alive(), "bot did not finish"
    if "error" in out:
        raise out["error"]
    return out["result"]


def test_binance_feed_and_paper_broker_trade_like_the_replayed_file(
    btc_file: Path, sim_factory: Any, sim_env: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    day = "2023-03-02"
    data = {"to": day, "lookback_bars": 0}
    live_cfg = make_cfg(paper_doc(data=data) | {"bot_id": "bn-live"},
                        tmp_path / "live.json")  # fmt: skip
    replay_doc = paper_doc(data={**data, "data_source": "replay", "path": str(btc_file),
                                 "from": day, "speed": 0, "replay_as": "bars"})  # fmt: skip
    replay_doc["bot_id"] = "bn-replay"
    replay_doc["broker"]["type"] = "paper"
    replay_cfg = make_cfg(replay_doc, tmp_path / "replay.json")

    sim = sim_factory(start="2023-03-01T23:59", end=day)
    sim_env(sim)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
    live = run_with_sim(Bot(live_cfg, fresh=True), sim)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'replay.sqlite'}")
    replay = Bot(replay_cfg, fresh=True).run()

    assert len(replay.trades) >= 2
    assert all(t.size != int(t.size) for t in replay.trades)  # fractional BTC (CRYPTO profile)
    assert [_key(t) for t in live.trades] == [_key(t) for t in replay.trades]
    assert live.bars == replay.bars > 1400  # the loader drops the zero-volume minutes
    assert live.final_value == pytest.approx(replay.final_value, abs=1e-6)
    assert live.refusals == replay.refusals

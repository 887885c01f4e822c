"""A session through the IBKR feed and broker (against the simulator, lockstep) trades
exactly like the same config replaying the file with the mock broker: same entries, exits,
sizes, prices and reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from ibkr_rig import FILE, config, make_sim

from mixbot.engine.runner import Bot


def _key(t):  # type: ignore[no-untyped-def]
    return (t.entry_time, t.exit_time, t.size, t.entry_price, t.exit_price, t.exit_reason,
            t.bars_held)  # fmt: skip


def test_ibkr_session_trades_like_the_replay(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'ib.sqlite'}")
    replay = config(
        tmp_path, "replay",
        broker={"type": "mock", "initial_balance": 2_000_000.0},
        data={"data_source": "replay", "path": str(data_dir / FILE), "from": "2019-01-02",
              "to": "2019-01-03", "speed": 0, "replay_as": "bars"},
        ibkr=None,
    )  # fmt: skip
    want = Bot(replay).run()
    sim = make_sim(data_dir, end="2019-01-03", cash=2_000_000.0, commission=0.0)
    try:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        ib_cfg = config(
            tmp_path, "ib", data={"to": "2019-01-03"}, ibkr={"max_messages_per_second": 100_000}
        )
        bot = Bot(ib_cfg, fresh=True)
        got = bot.run()
        orders = sim.call(lambda: list(sim.exchange.orders.values()))
    finally:
        sim.stop()
    assert bot.get_status()["status"] == "finished"
    assert len(want.trades) >= 2
    assert [_key(t) for t in got.trades] == [_key(t) for t in want.trades]
    assert got.final_value == pytest.approx(want.final_value, abs=1e-6)
    # every order went to IB once, tagged with the bot's order ref
    refs = [o.order_ref for o in orders]
    assert refs and len(refs) == len(set(refs))
    assert all(r.startswith("ibkr-banknifty:") for r in refs)
    assert {o.order_type for o in orders} >= {"MKT", "STP"}

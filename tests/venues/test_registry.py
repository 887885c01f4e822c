"""The venue registry and contract: schema enums, store mode, typed sections, secrets, panic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mixbot.config.digest import config_hash
from mixbot.config.load import load_config
from mixbot.config.schema import base_schema
from mixbot.config.secrets import broker_secret
from mixbot.errors import ConfigError
from mixbot.venues import base, registry
from mixbot.venues.panic import run_panic
from mixbot.venues.upstox.config import UpstoxBrokerConfig

REPO = Path(__file__).resolve().parents[2]
LIVE = REPO / "config" / "trading" / "live"


def test_schema_enums_are_the_registered_names() -> None:
    props = base_schema()["properties"]
    assert props["broker"]["properties"]["type"]["enum"] == [
        "paper",
        "upstox",
        "upstox_sandbox",
        "mock",
        "binance_paper",
        "binance",
        "ibkr",
    ]
    assert props["data"]["properties"]["data_source"]["enum"] == [
        "csv",
        "replay",
        "yahoo",
        "upstox",
        "binance",
        "ibkr",
    ]


def test_lookups_and_store_mode() -> None:
    upstox = registry.get("upstox")
    assert registry.for_broker("upstox_sandbox") is upstox
    assert registry.for_source("upstox") is upstox
    assert registry.for_broker("nope") is None
    assert registry.live_broker_types()[:2] == ["upstox", "upstox_sandbox"]
    assert "ibkr" in registry.live_broker_types()  # the IBKR venue sends real orders
    assert not registry.is_live("paper") and not registry.is_live("binance")
    assert registry.for_source("yahoo") is not None
    assert registry.for_source("yahoo").intervals == {"1m", "5m", "15m", "30m", "1h", "1d"}

    class Cfg:
        class broker:
            type = "upstox"

    assert registry.store_mode(Cfg) == "live"
    Cfg.broker.type = "mock"
    assert registry.store_mode(Cfg) == "paper"


def test_register_refuses_a_taken_name() -> None:
    registry.load_builtin()
    with pytest.raises(ValueError, match="already belong to upstox"):
        registry.register(registry.VenueSpec("other", "x", broker_types=("upstox",)))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(registry.VenueSpec("paper", "x"))
    with pytest.raises(ValueError, match="unknown intervals"):
        registry.register(registry.VenueSpec("odd", "x", intervals=frozenset({"2m"})))
    assert "other" not in [v.name for v in registry.venues()]


def _live_cfg(monkeypatch: pytest.MonkeyPatch, name: str = "upstox_sim_orders.json") -> Any:
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "dummy-token")
    return load_config(LIVE / name)


def test_upstox_section_is_typed_and_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _live_cfg(monkeypatch)
    u = UpstoxBrokerConfig.of(cfg)
    # the values written in config/trading/live/upstox_sim_orders.json
    assert u.algo_name == "mixbot-sim-demo"
    assert (u.entry_buffer_pct, u.exit_timeout_seconds, u.entry_timeout_seconds) == (
        0.05,
        30.0,
        120.0,
    )
    assert not u.registered_algo and not u.sandbox
    assert registry.get("upstox").config_section(cfg) == u
    assert not hasattr(cfg.broker, "algo_name")  # left the generic broker section
    with pytest.raises(AttributeError):
        u.algo_name = "x"  # type: ignore[misc]


def test_broker_secret_is_the_referenced_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _live_cfg(monkeypatch)
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "  tok-123 ")
    assert broker_secret(cfg, "access_token") == "tok-123"
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", " ")
    assert broker_secret(cfg, "access_token") is None
    assert broker_secret(cfg, "no_such_field") is None


def test_config_hash_follows_the_effective_config(monkeypatch: pytest.MonkeyPatch) -> None:
    a = _live_cfg(monkeypatch)
    b = _live_cfg(monkeypatch)
    h = config_hash(a)
    assert len(h) == 64 and int(h, 16) >= 0
    assert config_hash(b) == h
    b.raw["broker"]["algo_name"] = "other"
    assert config_hash(b) != h


def test_panic_of_a_paper_bot_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "paper.json"
    path.write_text(
        json.dumps(
            {
                "broker": {"type": "paper"},
                "trading": {"symbol": "RELIANCE.NS"},
                "data": {"data_source": "yahoo", "interval": "1d"},
                "strategy": {
                    "entry_logic": {"name": "RSIBBEntryMixin"},
                    "exit_logic": {"name": "ATRExitMixin"},
                },
            }
        ),
        encoding="utf-8",
    )
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=r"paper\.json: broker\.type is 'paper'"):
        run_panic(cfg, reason="x", confirm=lambda _p: True)


def test_upstox_panic_aborts_without_confirmation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = _live_cfg(monkeypatch)
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
    said: list[str] = []
    code = run_panic(
        cfg, reason="t", confirm=lambda _p: False, say=lambda line, err=False: said.append(line)
    )
    assert code == 1 and said[-1] == "aborted: nothing was done"


def test_upstox_classes_meet_the_contract() -> None:
    from mixbot.venues.upstox.execution.broker import UpstoxBroker
    from mixbot.venues.upstox.instruments import InstrumentMaster
    from mixbot.venues.upstox.session import UpstoxSession

    session = UpstoxSession("tok")
    assert isinstance(session, base.Session)
    assert isinstance(InstrumentMaster([]), base.InstrumentProvider)
    for member in ("set_position", "sync", "venue_position", "getcash", "cancel"):
        assert callable(getattr(UpstoxBroker, member)), member
    assert isinstance(UpstoxBroker.pending, property)
    assert UpstoxBroker.adopts_orders is True and UpstoxBroker.venue_cash is True

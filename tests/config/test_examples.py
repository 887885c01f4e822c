"""The example configs validate, and load into typed objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbot.config.load import load_config
from mixbot.config.model import BotConfig, build
from mixbot.config.validate import validate_file
from mixbot.errors import ConfigError
from mixbot.strategy import registry

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "trading"
ALL = sorted(EXAMPLES.rglob("*.json"))
LIVE_ENV = {
    "UPSTOX_ACCESS_TOKEN": "dummy-upstox-token",
    "OPENALGO_API_KEY": "dummy-openalgo-key",
    "TELEGRAM_BOT_TOKEN": "dummy-telegram-token",
    "TELEGRAM_CHAT_ID": "dummy-chat-id",
}


def _needs_data(path: Path) -> bool:
    return '"@data/' in path.read_text(encoding="utf-8")


def test_examples_exist() -> None:
    assert len(ALL) >= 7
    assert any(p.parent.name == "live" for p in ALL)


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(EXAMPLES)) for p in ALL])
def test_example_is_valid(path: Path, request: pytest.FixtureRequest) -> None:
    if _needs_data(path):
        request.getfixturevalue("data_dir")  # skips when the market-data folder is absent
    env = LIVE_ENV if path.parent.name == "live" else {}
    report = validate_file(path, env=env)
    assert report.problems == [], "\n".join(p.render() for p in report.problems)
    assert report.effective is not None


def test_live_example_without_variables_names_each() -> None:
    report = validate_file(EXAMPLES / "live" / "upstox_reliance.json", env={})
    missing = sorted(p.message.split()[2] for p in report.errors)
    assert missing == ["UPSTOX_ACCESS_TOKEN"]  # Telegram credentials: host settings
    token = next(p for p in report.errors if p.path == "$.broker.access_token")
    assert (token.line, token.column) == (4, 48)


def test_load_config_builds_typed_objects(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    cfg = load_config("config/trading/0001.json")
    assert isinstance(cfg, BotConfig)
    assert cfg.bot_id == "0001"
    assert cfg.trading.position_size == 0.5
    assert cfg.trading.symbols == ("RELIANCE",)
    assert cfg.broker.type == "paper"
    assert cfg.broker.commission is None
    assert cfg.broker.tick_size == 0.05  # schema default
    assert cfg.data.interval_minutes == 1440
    assert cfg.data.path is not None and cfg.data.path.name == "RELIANCE.csv"
    assert cfg.entry.name == "RSIBBEntryMixin"
    assert cfg.entry.params["e_rsi_oversold"] == 35
    assert cfg.exit.name == "ATRExitMixin"
    defaults = registry.defaults(registry.get("exit", "ATRExitMixin"))
    assert set(cfg.exit.params) == set(defaults)  # params merged with defaults
    assert cfg.exit.params["x_sl_multiplier"] == 2.0
    assert cfg.risk.stop_loss_pct == 10.0
    assert cfg.risk.trailing_stop.enabled is False
    assert cfg.market.session_open_min == 9 * 60 + 15
    assert cfg.market.square_off_at_min == 15 * 60 + 15


def test_build_live_example_keeps_secret_reference() -> None:
    path = EXAMPLES / "live" / "upstox_reliance.json"
    report = validate_file(path, env=LIVE_ENV)
    assert report.effective is not None
    cfg = build(report.effective, path)
    assert cfg.bot_id == "upstox_reliance"
    assert cfg.trading.symbols == ("NSE_EQ|INE002A01018",)
    assert cfg.data.symbol == "NSE_EQ|INE002A01018"
    assert cfg.data.path is None
    assert cfg.raw["broker"]["access_token"] == "${UPSTOX_ACCESS_TOKEN}"
    assert "dummy-upstox-token" not in json.dumps(cfg.raw)


def test_load_config_raises_listing_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "broker": {"type": "papr"},
                "trading": {"symbol": "TCS.NS", "position_size": 2},
                "data": {"data_source": "yahoo"},
                "strategy": {
                    "entry_logic": {"name": "Nope"},
                    "exit_logic": {"name": "ATRExitMixin"},
                },
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    text = str(info.value)
    assert "invalid config (3 error(s))" in text
    assert f"{bad}:3:13: error: $.broker.type" in text
    assert "$.trading.position_size: 2 is out of range: must be <= 1" in text
    assert "$.strategy.entry_logic.name: unknown entry mixin 'Nope'" in text


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.json")

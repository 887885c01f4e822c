"""validate_file: schema, mixin params, secrets and semantic rules, with paths and positions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mixbot.config.problems import Problem
from mixbot.config.validate import validate_file


def check(doc: dict[str, Any], env: dict[str, str] | None = None) -> list[Problem]:
    return validate_file("bot.json", text=json.dumps(doc, indent=2), env=env or {}).problems


def only(problems: list[Problem], path: str) -> Problem:
    hits = [p for p in problems if p.path == path]
    assert len(hits) == 1, (path, [p.render() for p in problems])
    return hits[0]


def live(doc: dict[str, Any]) -> dict[str, Any]:
    doc["broker"] = {
        "type": "upstox",
        "access_token": "${UPSTOX_ACCESS_TOKEN}",
        "algo_name": "t-algo",
    }
    doc["trading"] = {"symbol": "NSE_EQ|INE002A01018", "product": "intraday"}
    doc["data"] = {"data_source": "upstox", "interval": "5m"}
    return doc


def test_minimal_config_is_valid(minimal: dict[str, Any]) -> None:
    assert check(minimal) == []


def test_all_problems_reported_at_once_with_positions(minimal: dict[str, Any]) -> None:
    minimal["broker"]["tpye"] = "paper"
    minimal["trading"]["position_size"] = "half"
    minimal["trading"]["max_positions"] = 0
    minimal["data"]["interval"] = "4h"
    problems = check(minimal)
    assert {p.path for p in problems} == {
        "$.broker.tpye",
        "$.trading.position_size",
        "$.trading.max_positions",
        "$.data.interval",
    }
    typo = only(problems, "$.broker.tpye")
    # json.dumps(indent=2): line 1 "{", 2 '"broker": {', 3 '"type"', 4 '"tpye"' at column 5
    assert (typo.line, typo.column) == (4, 5)
    assert typo.message == "unknown key 'tpye'"
    assert typo.hint == "did you mean 'type'?"
    size = only(problems, "$.trading.position_size")
    assert (size.line, size.column) == (8, 22)
    assert size.message == "expected a number, got string 'half'"
    rng = only(problems, "$.trading.max_positions")
    assert rng.message == "0 is out of range: must be >= 1"
    interval = only(problems, "$.data.interval")
    assert interval.message == "interval '4h' is not available from yahoo"
    assert all(p.file == "bot.json" and p.severity == "error" for p in problems)


def test_render_format() -> None:
    p = Problem("a.json", "$.x", "bad", 3, 7, "did you mean 'y'?")
    assert p.render() == "a.json:3:7: error: $.x: bad (did you mean 'y'?)"
    assert Problem("a.json", "$", "empty").render() == "a.json: error: $: empty"


def test_missing_required_field_and_section(minimal: dict[str, Any]) -> None:
    del minimal["strategy"]
    del minimal["broker"]["type"]
    problems = check(minimal)
    assert only(problems, "$.strategy").message == "missing required field 'strategy'"
    b = only(problems, "$.broker.type")
    assert b.message == "missing required field 'type'"
    assert b.line == 2  # the object that lacks it


def test_wrong_enum_gets_did_you_mean(minimal: dict[str, Any]) -> None:
    minimal["broker"]["type"] = "papr"
    p = only(check(minimal), "$.broker.type")
    assert p.message.startswith("'papr' is not one of paper, upstox")
    assert p.hint == "did you mean 'paper'?"


def test_unknown_top_level_key_lists_allowed(minimal: dict[str, Any]) -> None:
    minimal["zzz"] = 1
    p = only(check(minimal), "$.zzz")
    assert p.hint.startswith("allowed keys: $schema, ")  # venue sections sort in between
    assert "bot_id, broker, data" in p.hint


def test_mixin_params_checked_against_its_schema(minimal: dict[str, Any]) -> None:
    minimal["strategy"]["entry_logic"]["params"] = {"e_rsi_perod": 14, "e_rsi_oversold": 200}
    minimal["strategy"]["exit_logic"]["params"] = {"x_atr_period": 1.5}
    problems = check(minimal)
    typo = only(problems, "$.strategy.entry_logic.params.e_rsi_perod")
    assert typo.hint == "did you mean 'e_rsi_period'?"
    rng = only(problems, "$.strategy.entry_logic.params.e_rsi_oversold")
    assert rng.message == "200 is out of range: must be < 100"
    t = only(problems, "$.strategy.exit_logic.params.x_atr_period")
    assert t.message == "expected a whole number, got number 1.5"


def test_params_of_one_mixin_rejected_by_another(minimal: dict[str, Any]) -> None:
    minimal["strategy"]["exit_logic"] = {
        "name": "TimeBasedExitMixin",
        "params": {"x_atr_period": 3},
    }
    p = only(check(minimal), "$.strategy.exit_logic.params.x_atr_period")
    assert p.message == "unknown key 'x_atr_period'"
    assert "x_max_bars" in p.hint


def test_unknown_mixin_name_did_you_mean(minimal: dict[str, Any]) -> None:
    minimal["strategy"]["exit_logic"]["name"] = "ATRExitMixn"
    p = only(check(minimal), "$.strategy.exit_logic.name")
    assert p.message == "unknown exit mixin 'ATRExitMixn'"
    assert p.hint == "did you mean 'ATRExitMixin'?"
    minimal["strategy"]["exit_logic"]["name"] = "Nothing"
    p = only(check(minimal), "$.strategy.exit_logic.name")
    assert p.hint.startswith("known exit mixins: ATRExitMixin")


def test_entry_mixin_used_as_exit_gets_hint(minimal: dict[str, Any]) -> None:
    minimal["strategy"]["exit_logic"] = {"name": "RSIBBEntryMixin"}
    p = only(check(minimal), "$.strategy.exit_logic.name")
    assert p.message == "unknown exit mixin 'RSIBBEntryMixin'"
    assert p.hint == (
        "RSIBBEntryMixin is an entry mixin; use it in entry_logic; "
        "as an exit mixin, did you mean 'RSIBBExitMixin'?"
    )
    minimal["strategy"]["entry_logic"] = {"name": "TimeBasedExitMixin"}
    p = only(check(minimal), "$.strategy.entry_logic.name")
    assert p.hint == "TimeBasedExitMixin is an exit mixin; use it in exit_logic"


# --- secrets -------------------------------------------------------------------------


def test_live_broker_needs_its_variable(minimal: dict[str, Any]) -> None:
    doc = live(minimal)
    p = only(check(doc), "$.broker.access_token")
    assert (
        p.message == "environment variable UPSTOX_ACCESS_TOKEN is not set (the Upstox access token)"
    )
    assert "UPSTOX_ACCESS_TOKEN" in p.hint
    assert check(doc, env={"UPSTOX_ACCESS_TOKEN": "x"}) == []


def test_default_token_reference_is_checked(minimal: dict[str, Any]) -> None:
    doc = live(minimal)
    del doc["broker"]["access_token"]  # the schema default ${UPSTOX_ACCESS_TOKEN} applies
    p = only(check(doc), "$.broker.access_token")
    assert "UPSTOX_ACCESS_TOKEN" in p.message
    assert p.line == 2  # located at the broker object


def test_enabled_telegram_needs_no_bot_level_secret(minimal: dict[str, Any]) -> None:
    """The host settings hold the channel credentials; a bot only says what it sends."""
    minimal["notifications"] = {
        "enabled": True,
        "telegram": {"enabled": True, "notify_on": {"trade_entry": "on", "feed_state": "silent"}},
        "email": {"enabled": True, "notify_on": ["trade_exit"]},
    }
    assert check(minimal, env={}) == []


def test_paper_broker_needs_no_token(minimal: dict[str, Any]) -> None:
    minimal["broker"]["access_token"] = "${SOME_UNSET_VARIABLE}"
    assert check(minimal) == []


def test_literal_secret_is_an_error_and_not_echoed(minimal: dict[str, Any]) -> None:
    doc = live(minimal)
    doc["broker"]["access_token"] = "eyJ-literal-token-42"
    doc["notifications"] = {"telegram": {"bot_token": "12345:literal-bot-token"}}
    problems = check(doc, env={"UPSTOX_ACCESS_TOKEN": "x"})
    p = only(problems, "$.broker.access_token")
    assert p.message == "secrets must not be written in the config"
    assert "${UPSTOX_ACCESS_TOKEN}" in p.hint
    assert only(problems, "$.notifications.telegram.bot_token").message.startswith("secrets")
    text = "\n".join(p.render() for p in problems)
    assert "literal-token-42" not in text and "literal-bot-token" not in text


def test_secret_of_wrong_type_is_not_echoed(minimal: dict[str, Any]) -> None:
    minimal["broker"]["access_token"] = 987654321
    p = only(check(minimal), "$.broker.access_token")
    assert "987654321" not in p.render()
    assert p.message.startswith("expected a string")


def test_dotenv_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimal: dict[str, Any]
) -> None:
    monkeypatch.delenv("UPSTOX_ACCESS_TOKEN", raising=False)  # undo also removes what .env sets
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "live.json"
    cfg.write_text(json.dumps(live(minimal)), encoding="utf-8")
    (tmp_path / ".env").write_text("UPSTOX_ACCESS_TOKEN=from-dotenv\n", encoding="utf-8")
    assert validate_file(cfg).problems == []


def test_environment_variable_is_read(
    monkeypatch: pytest.MonkeyPatch, minimal: dict[str, Any]
) -> None:
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "from-env")
    assert validate_file("x.json", text=json.dumps(live(minimal))).problems == []


# --- semantic rules --------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "30m", "1h", "1d"])
def test_yahoo_intervals_ok(minimal: dict[str, Any], interval: str) -> None:
    minimal["data"]["interval"] = interval
    if interval != "1d":
        minimal["trading"]["product"] = "intraday"
    assert check(minimal) == []


def test_intraday_product_with_daily_bars(minimal: dict[str, Any]) -> None:
    minimal["trading"]["product"] = "intraday"
    p = only(check(minimal), "$.trading.product")
    assert "squared off on its entry bar" in p.message


def test_trailing_stop_activation_above_take_profit(minimal: dict[str, Any]) -> None:
    minimal["risk_management"] = {
        "take_profit_pct": 5.0,
        "trailing_stop": {"enabled": True, "activation_pct": 6.0, "trailing_pct": 2.0},
    }
    p = only(check(minimal), "$.risk_management.trailing_stop.activation_pct")
    assert p.message.startswith("activation_pct 6.0 is not below take_profit_pct 5.0")
    minimal["risk_management"]["trailing_stop"]["enabled"] = False
    assert check(minimal) == []


def test_trailing_wider_than_stop_is_a_warning(minimal: dict[str, Any]) -> None:
    minimal["risk_management"] = {
        "stop_loss_pct": 2.0,
        "trailing_stop": {"enabled": True, "trailing_pct": 5.0},
    }
    report = validate_file("bot.json", text=json.dumps(minimal), env={})
    assert report.ok
    assert (
        only(report.problems, "$.risk_management.trailing_stop.trailing_pct").severity == "warning"
    )


def test_live_broker_needs_live_feed(minimal: dict[str, Any]) -> None:
    minimal["broker"] = {"type": "upstox"}
    minimal["trading"]["symbol"] = "RELIANCE"
    p = only(check(minimal, env={"UPSTOX_ACCESS_TOKEN": "x"}), "$.data.data_source")
    assert "needs the live 'upstox' feed, not 'yahoo'" in p.message


def test_csv_path_must_exist(minimal: dict[str, Any], tmp_path: Path) -> None:
    minimal["data"] = {"data_source": "csv", "path": str(tmp_path / "nope.csv")}
    minimal["trading"]["symbol"] = "RELIANCE"
    p = only(check(minimal), "$.data.path")
    assert p.message == f"file not found: {tmp_path / 'nope.csv'}"
    (tmp_path / "nope.csv").write_text("x\n")
    assert check(minimal) == []
    minimal["data"]["path"] = str(tmp_path)  # a folder of data files is read as one series
    assert check(minimal) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    minimal["data"]["path"] = str(empty)
    assert only(check(minimal), "$.data.path").message.startswith("is a folder with no data files")


def test_replay_needs_a_path(minimal: dict[str, Any]) -> None:
    minimal["data"] = {"data_source": "replay"}
    p = only(check(minimal), "$.data.path")
    assert p.message == "data source 'replay' needs data.path (the file to read)"


def test_unusable_path_is_a_problem_not_a_crash(minimal: dict[str, Any]) -> None:
    minimal["data"] = {"data_source": "csv", "path": "a" * 300 + ".csv"}
    p = only(check(minimal), "$.data.path")
    assert p.message.startswith("cannot use this path")


@pytest.mark.parametrize("symbol", ["NSE_EQ|INE002A01018", "NSE_INDEX|Nifty 50", "RELIANCE", "M&M"])
def test_upstox_symbols_ok(minimal: dict[str, Any], symbol: str) -> None:
    doc = live(minimal)
    doc["trading"]["symbol"] = symbol
    assert check(doc, env={"UPSTOX_ACCESS_TOKEN": "x"}) == []


@pytest.mark.parametrize(
    ("symbol", "message", "hint"),
    [
        ("NSE_EQ|", "is not a valid Upstox instrument key", ""),
        ("NSEEQ|INE002A01018", "is not a valid Upstox instrument key", ""),
        ("RELIANCE.NS", "is a Yahoo ticker", "without the Yahoo suffix: 'RELIANCE'"),
        ("tcs.bo", "is a Yahoo ticker", "without the Yahoo suffix: 'TCS'"),
        ("reliance", "is not a trading symbol", "trading symbols are upper case: 'RELIANCE'"),
    ],
)
def test_upstox_symbols_bad(minimal: dict[str, Any], symbol: str, message: str, hint: str) -> None:
    doc = live(minimal)
    doc["trading"]["symbol"] = symbol
    p = only(check(doc, env={"UPSTOX_ACCESS_TOKEN": "x"}), "$.trading.symbol")
    assert message in p.message
    assert hint in p.hint


def test_bad_symbol_in_list_has_index(minimal: dict[str, Any]) -> None:
    del minimal["trading"]["symbol"]
    minimal["trading"]["symbols"] = ["TCS.NS", "bad ticker!"]
    p = only(check(minimal), "$.trading.symbols[1]")
    assert "not a Yahoo ticker" in p.message


def test_symbol_and_symbols_both(minimal: dict[str, Any]) -> None:
    minimal["trading"]["symbols"] = ["TCS.NS"]
    assert "not both" in only(check(minimal), "$.trading.symbols").message


@pytest.fixture
def reserved_venue() -> Any:
    """A reserved venue (``available=False``: broker ``demo_res``, data source ``demo_res``)
    registered for the test only (no built-in name is reserved at present)."""
    from mixbot.config import schema as schema_mod
    from mixbot.venues import registry

    registry.load_builtin()
    registry.register(
        registry.VenueSpec(
            name="demo_reserved",
            summary="reserved, not supported yet",
            broker_types=("demo_res",),
            data_sources=("demo_res",),
            available=False,
        )
    )
    schema_mod.base_schema.cache_clear()
    try:
        yield
    finally:
        registry._VENUES.pop("demo_reserved")
        schema_mod.base_schema.cache_clear()


@pytest.mark.parametrize(("section", "key"), [("broker", "type"), ("data", "data_source")])
def test_reserved_names_not_supported_yet(
    minimal: dict[str, Any], reserved_venue: Any, section: str, key: str
) -> None:
    minimal[section][key] = "demo_res"
    p = only(check(minimal), f"$.{section}.{key}")
    assert p.message.endswith("'demo_res' is not supported yet")


def test_market_times(minimal: dict[str, Any]) -> None:
    minimal["market"] = {
        "session_open": "09:15",
        "session_close": "15:30",
        "square_off_at": "16:00",
    }
    p = only(check(minimal), "$.market.square_off_at")
    assert p.message == "square_off_at 16:00 is outside the session 09:15-15:30"
    minimal["market"] = {"session_open": "15:30", "session_close": "09:15"}
    assert only(check(minimal), "$.market.session_close").message == (
        "session_close must be after session_open"
    )
    minimal["market"] = {"session_open": "9:15"}
    assert "does not match" in only(check(minimal), "$.market.session_open").message
    minimal["market"] = {"timezone": "Asia/Mumbai"}
    assert only(check(minimal), "$.market.timezone").message == "unknown time zone 'Asia/Mumbai'"


def test_max_exposure_below_position_size(minimal: dict[str, Any]) -> None:
    minimal["trading"].update(position_size=0.5, max_exposure=0.2)
    assert "no entry could ever be taken" in only(check(minimal), "$.trading.max_exposure").message


def test_bad_date_format(minimal: dict[str, Any]) -> None:
    minimal["data"]["from"] = "2020-13-01"
    assert "is not a 'date'" in only(check(minimal), "$.data.from").message


# --- parser-level traps -----------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_rejected(literal: str) -> None:
    text = '{\n  "broker": {"type": "paper", "initial_balance": ' + literal + "}\n}"
    report = validate_file("bot.json", text=text, env={})
    p = only(report.problems, "$.broker.initial_balance")
    assert "not valid JSON" in p.message
    assert (p.line, p.column) == (2, 50)


def test_duplicate_key_reported_with_position() -> None:
    text = '{\n  "broker": {"type": "upstox",\n             "type": "paper"}\n}'
    p = only(validate_file("bot.json", text=text, env={}).problems, "$.broker.type")
    assert p.message.startswith("key 'type' appears more than once")
    assert p.line in (2, 3)


def test_bom_is_accepted(minimal: dict[str, Any], write_config: Callable[..., Path]) -> None:
    path = write_config(minimal)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert validate_file(path, env={}).problems == []
    assert validate_file("x.json", text="\ufeff" + json.dumps(minimal), env={}).problems == []


def test_odd_keys_get_positions(minimal: dict[str, Any]) -> None:
    minimal["a/b~c"] = 1
    p = only(check(minimal), "$['a/b~c']")
    assert p.line is not None and p.line > 1

"""The JSON Schema: packaged, exported without drift, described, and filling defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mixbot.cli import main
from mixbot.config import schema as schema_mod
from mixbot.config.validate import validate_file
from mixbot.strategy import registry

REPO = Path(__file__).resolve().parents[2]
EXPORTED = REPO / "config" / "schema" / "bot.schema.json"


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {
            **root["$defs"][ref.split("/")[-1]],
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    return node


def _properties(
    root: dict[str, Any], node: dict[str, Any], path: str = "$"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema under ``node``, with its JSON path."""
    for name, sub in node.get("properties", {}).items():
        yield f"{path}.{name}", sub
        yield from _properties(root, _resolve(root, sub), f"{path}.{name}")


def _mixin_params() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind in ("entry", "exit"):
        for name in registry.names(kind):  # type: ignore[arg-type]
            spec = registry.get(kind, name)  # type: ignore[arg-type]
            for pname, sub in spec.params_schema["properties"].items():
                yield name, pname, sub


def test_packaged_schema_is_draft_2020_12_and_valid() -> None:
    schema = schema_mod.base_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(schema_mod.export_schema())


def test_exported_schema_matches_package() -> None:
    assert EXPORTED.read_text(encoding="utf-8") == schema_mod.export_text(), (
        "config/schema/bot.schema.json drifted: run `mixbot schema --export`"
    )


def test_export_contains_every_mixin_params_schema() -> None:
    exported = json.loads(schema_mod.export_text())
    entry = exported["$defs"]["entry_mixin"]
    assert entry["allOf"][1]["properties"]["name"]["enum"] == registry.names("entry")
    branch = next(
        b for b in entry["allOf"][2:] if b["if"]["properties"]["name"]["const"] == "RSIBBEntryMixin"
    )
    assert (
        branch["then"]["properties"]["params"]
        == registry.get("entry", "RSIBBEntryMixin").params_schema
    )
    strategy = exported["properties"]["strategy"]["properties"]
    assert strategy["exit_logic"]["$ref"] == "#/$defs/exit_mixin"


def test_schema_check_cli_passes_on_repo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["schema", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_schema_check_cli_fails_on_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "bot.schema.json"
    stale.write_text(schema_mod.export_text().replace("Free text", "Some text"), encoding="utf-8")
    assert main(["schema", "--check", "--path", str(stale)]) == 2
    assert "out of date" in capsys.readouterr().err
    assert main(["schema", "--check", "--path", str(tmp_path / "absent.json")]) == 2


def test_schema_export_writes_the_check_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "sub" / "bot.schema.json"
    assert main(["schema", "--export", "--path", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == schema_mod.export_text()
    assert main(["schema", "--check", "--path", str(target)]) == 0


#: Object sections the packaged schema leaves undescribed (reported to the lead; the fix
#: changes the README reference, which is not ours to regenerate).
UNDESCRIBED_SECTIONS = {
    "$.notifications.telegram",
    "$.notifications.email",
    "$.risk_management.trailing_stop",
    "$.database",
    "$.logging",
}


def test_every_leaf_field_has_a_description() -> None:
    root = schema_mod.base_schema()
    missing = [
        path
        for path, sub in _properties(root, root)
        if not _resolve(root, sub).get("description", "").strip()
        and path not in UNDESCRIBED_SECTIONS
    ]
    assert missing == []


def test_every_section_has_a_description() -> None:
    root = schema_mod.base_schema()
    missing = [
        path
        for path, sub in _properties(root, root)
        if not _resolve(root, sub).get("description", "").strip()
    ]
    assert missing == []


def test_every_mixin_param_has_a_description_and_default() -> None:
    params = list(_mixin_params())
    assert len(params) > 20
    for name, pname, sub in params:
        assert sub.get("description", "").strip(), f"{name}.{pname}"
        assert "default" in sub, f"{name}.{pname}"


def test_percent_fields_say_percent() -> None:
    root = schema_mod.base_schema()
    fields = [(p, s) for p, s in _properties(root, root) if p.endswith("_pct")]
    fields += [(f"{n}.{p}", s) for n, p, s in _mixin_params() if p.endswith("_pct")]
    assert len(fields) >= 8
    for path, sub in fields:
        desc = sub["description"].lower()
        assert "percent" in desc or "%" in desc, path


def test_fractions_say_fraction() -> None:
    props = schema_mod.base_schema()["properties"]["trading"]["properties"]
    for name in ("position_size", "max_exposure"):
        assert "fraction" in props[name]["description"].lower()


def test_fill_defaults_fills_sections_and_keeps_values(minimal: dict[str, Any]) -> None:
    minimal["risk_management"] = {"trailing_stop": {"enabled": True}}
    eff = schema_mod.fill_defaults(minimal)
    assert eff["broker"]["initial_balance"] == 100000.0
    assert eff["broker"]["slippage_bps"] == 5.0
    assert eff["trading"]["position_size"] == 0.1
    assert eff["market"]["session_open"] == "09:15"
    assert eff["risk_management"]["trailing_stop"] == {
        "enabled": True,
        "activation_pct": 0.0,
        "trailing_pct": 2.0,
    }
    assert eff["strategy"]["exit_logic"]["params"] == {}
    assert eff["notifications"]["telegram"]["bot_token"] == "${TELEGRAM_BOT_TOKEN}"
    assert "interval" in minimal["data"] and "lookback_bars" not in minimal["data"]  # not mutated


def test_effective_config_fills_mixin_param_defaults(minimal: dict[str, Any]) -> None:
    report = validate_file("m.json", text=json.dumps(minimal), env={})
    assert report.ok, report.problems
    assert report.effective is not None
    entry = report.effective["strategy"]["entry_logic"]["params"]
    assert entry == {"e_rsi_period": 10, "e_rsi_oversold": 30.0, "e_bb_period": 20, "e_bb_dev": 2.0}
    assert report.effective["strategy"]["exit_logic"]["params"] == registry.defaults(
        registry.get("exit", "ATRExitMixin")
    )

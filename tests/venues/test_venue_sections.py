"""A venue's own config section and secrets (``VenueSpec.config_schema`` / ``secret_fields``)
and the venue-neutral ``feed-test`` / ``data download`` dispatch."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixbot.cli import main
from mixbot.config import schema as schema_mod
from mixbot.config.load import load_config
from mixbot.config.secrets import mask, section_secret
from mixbot.config.validate import validate_file
from mixbot.venues import registry

REPO = Path(__file__).resolve().parents[2]
SECTION = {
    "type": "object",
    "additionalProperties": False,
    "default": {},
    "properties": {
        "host": {"type": "string", "default": "https://demo.example"},
        "api_secret": {"description": "SECRET"},
    },
}


@pytest.fixture
def demo_venue() -> Iterator[dict[str, Any]]:
    """A venue ``demo`` (data source ``demo_feed``) with a section and one secret field,
    registered for the test only; its hooks record the namespace they were given."""
    calls: dict[str, Any] = {}

    def hook(kind: str) -> Any:
        def run(args: argparse.Namespace) -> int:
            calls[kind] = args
            return 7

        return run

    registry.load_builtin()
    registry.register(
        registry.VenueSpec(
            name="demo",
            summary="test venue",
            data_sources=("demo_feed",),
            config_schema=SECTION,
            secret_fields=("api_secret",),
            feed_test=hook("feed_test"),
            download=hook("download"),
        )
    )
    schema_mod.base_schema.cache_clear()
    try:
        yield calls
    finally:
        registry._VENUES.pop("demo")
        schema_mod.base_schema.cache_clear()


def _doc(**section: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO / "config/trading/0001.json").read_text())
    doc["demo"] = section
    return doc


def _validate(tmp_path: Path, doc: dict[str, Any]) -> Any:
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(doc, indent=2))
    return validate_file(path, text=path.read_text(), env={"DEMO_SECRET": "s3cret"})


def test_section_defaults_fill_and_unknown_keys_are_refused(
    demo_venue: dict[str, Any], tmp_path: Path
) -> None:
    report = _validate(tmp_path, _doc(api_secret="${DEMO_SECRET}"))
    assert report.ok, [p.render() for p in report.errors]
    assert report.effective["demo"]["host"] == "https://demo.example"
    report = _validate(tmp_path, _doc(hots="x"))
    assert not report.ok
    (problem,) = report.errors
    assert problem.path == "$.demo.hots" and "did you mean" in problem.render().lower()


def test_a_literal_secret_is_refused_and_never_echoed(
    demo_venue: dict[str, Any], tmp_path: Path
) -> None:
    report = _validate(tmp_path, _doc(api_secret="plain-text-secret"))
    assert not report.ok
    text = "\n".join(p.render() for p in report.errors)
    assert "demo.api_secret" in text
    assert "plain-text-secret" not in text
    assert ("demo", "api_secret") in schema_mod.secret_fields()
    masked = mask({"demo": {"api_secret": "${DEMO_SECRET}"}}, schema_mod.secret_fields())
    assert masked["demo"]["api_secret"].startswith("${DEMO_SECRET} (")


def test_section_secret_reads_the_referenced_variable(
    demo_venue: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(_doc(api_secret="${DEMO_SECRET}")))
    monkeypatch.setenv("DEMO_SECRET", " s3cret ")
    cfg = load_config(path)
    assert section_secret(cfg, "demo", "api_secret") == "s3cret"
    monkeypatch.delenv("DEMO_SECRET")
    assert section_secret(cfg, "demo", "api_secret") is None
    assert section_secret(cfg, "demo", "host") is None  # no ${VAR} in it


def test_feed_test_and_download_go_to_the_sources_venue(demo_venue: dict[str, Any]) -> None:
    assert main(["feed-test", "XYZ", "--source", "demo_feed", "--seconds", "3"]) == 7
    assert demo_venue["feed_test"].symbol == "XYZ"
    assert demo_venue["feed_test"].seconds == 3.0
    code = main(["data", "download", "--source", "demo_feed", "A", "B", "--from", "2020-01-01"])
    assert code == 7
    assert demo_venue["download"].symbols == ["A", "B"]
    assert demo_venue["download"].date_to is None


def test_a_source_without_the_hook_is_not_offered(capsys: pytest.CaptureFixture[str]) -> None:
    assert "upstox" in registry.feed_test_sources()
    assert "csv" not in registry.feed_test_sources()
    with pytest.raises(SystemExit) as exc:
        main(["feed-test", "X", "--source", "csv"])
    assert exc.value.code == 2
    assert "invalid choice: 'csv'" in capsys.readouterr().err


def test_secret_fields_need_a_section() -> None:
    with pytest.raises(ValueError, match="secret_fields without a config_schema"):
        registry.register(registry.VenueSpec("odd2", "x", secret_fields=("k",)))

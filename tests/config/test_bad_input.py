"""Bad input through ``mixbot validate``: a clear message and exit 2, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mixbot.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["validate", *args])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.json"
    path.write_text("")
    code, text = run(capsys, str(path))
    assert code == 2
    assert f"{path}: error: $: file is empty" in text


def test_whitespace_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "blank.json"
    path.write_text("  \n\t\n")
    code, text = run(capsys, str(path))
    assert code == 2 and "file is empty" in text


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{\n  "description": "caf\u00e9"\n}'.encode("latin-1"))
    code, text = run(capsys, str(path))
    assert code == 2
    assert f"{path}:2:22: error: $: not UTF-8 text (byte 0xe9 at offset 23)" in text
    assert "save the file as UTF-8" in text


def test_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(bytes(range(256)))
    code, text = run(capsys, str(path))
    assert code == 2 and "not UTF-8 text" in text


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{\n  "broker": {"type": "paper"}\n  "data": {}\n}', "3:3", "Expecting ',' delimiter"),
        ('{\n  "broker": {"type": "paper",}\n}', "2:30", "Expecting property name"),
        ("{'broker': 1}", "1:2", "Expecting property name enclosed in double quotes"),
        ('{"a": 1} trailing', "1:10", "Extra data"),
        ('{"a": tru}', "1:7", "Expecting value"),
        ('{\n  "a": 1,\n', "3:1", "Expecting property name"),
    ],
)
def test_not_json_has_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    code, out = run(capsys, str(path))
    assert code == 2
    assert f"{path}:{where}: error: $: not valid JSON: {message}" in out


def test_wrong_types(
    write_config: Callable[..., Path], minimal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    minimal["broker"] = "paper"
    minimal["trading"]["lot_size"] = "20"
    minimal["strategy"]["entry_logic"]["params"] = [1, 2]
    path = write_config(minimal)
    code, text = run(capsys, str(path))
    assert code == 2
    assert f"{path}:2:13: error: $.broker: expected an object {{...}}, got string 'paper'" in text
    assert "$.trading.lot_size: expected a whole number, got string '20'" in text
    assert "$.strategy.entry_logic.params: expected an object {...}, got array [1, 2]" in text
    assert "INVALID (3 errors)" in text


def test_unknown_keys(
    write_config: Callable[..., Path], minimal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    minimal["risk_managment"] = {}
    minimal["data"]["intervall"] = "1d"
    path = write_config(minimal)
    code, text = run(capsys, str(path))
    assert code == 2
    assert (
        "$.risk_managment: unknown key 'risk_managment' (did you mean 'risk_management'?)" in text
    )
    assert "$.data.intervall: unknown key 'intervall' (did you mean 'interval'?)" in text


def test_out_of_range_numbers(
    write_config: Callable[..., Path], minimal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    minimal["trading"]["position_size"] = 0
    minimal["broker"]["slippage_bps"] = -1
    minimal["data"]["lookback_bars"] = 10**9
    code, text = run(capsys, str(write_config(minimal)))
    assert code == 2
    assert "$.trading.position_size: 0 is out of range: must be > 0" in text
    assert "$.broker.slippage_bps: -1 is out of range: must be >= 0" in text
    assert "$.data.lookback_bars: 1000000000 is out of range: must be <= 100000" in text


def test_fifty_megabyte_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.json"
    chunk = b'{"description": "' + b"x" * (1 << 20)
    with path.open("wb") as fh:
        fh.write(chunk)
        for _ in range(49):
            fh.write(b"x" * (1 << 20))
        fh.write(b'"}')
    code, text = run(capsys, str(path))
    assert code == 2
    assert f"{path}: error: $: file is 52.4 MB; a bot config is a few kB" in text


def test_large_text_argument_is_refused() -> None:
    from mixbot.config.validate import validate_file

    report = validate_file("x.json", text='{"a": "' + "x" * 2_000_000 + '"}', env={})
    assert [p.message for p in report.problems] == [
        "text is larger than 1 MB; a bot config is a few kB"
    ]


@pytest.mark.parametrize("junk", ["[" * 100_000, '{"a":' * 100_000, "[" * 40 + "]" * 40])
def test_deeply_nested_junk(tmp_path: Path, capsys: pytest.CaptureFixture[str], junk: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(junk)
    code, text = run(capsys, str(path))
    assert code == 2
    assert "JSON nested deeper than 32 levels; not a bot config" in text


def test_nesting_just_inside_the_limit_is_validated(
    write_config: Callable[..., Path], minimal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    deep: Any = 1
    for _ in range(28):
        deep = {"k": deep}
    minimal["strategy"]["entry_logic"]["params"] = deep
    code, text = run(capsys, str(write_config(minimal)))
    assert code == 2
    assert "$.strategy.entry_logic.params.k: unknown key 'k'" in text


@pytest.mark.parametrize(
    ("text", "found"),
    [("[1, 2]", "list"), ('"a config"', "str"), ("42", "int"), ("null", "NoneType")],
)
def test_top_level_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, found: str
) -> None:
    path = tmp_path / "top.json"
    path.write_text(text)
    code, out = run(capsys, str(path))
    assert code == 2
    assert f"{path}:1:1: error: $: top level must be a JSON object {{...}}, found {found}" in out


def test_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(capsys, str(tmp_path))
    assert code == 2
    assert f"{tmp_path}: error: $: is a directory, not a config file" in text


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.json"
    code, text = run(capsys, str(path))
    assert code == 2
    assert f"{path}: error: $: file not found (check the path)" in text
    assert f"{path}: INVALID (1 error)" in text


def test_valid_and_invalid_files_together(
    write_config: Callable[..., Path], minimal: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_config(minimal, "good.json")
    bad = write_config("[]", "bad.json")
    code, text = run(capsys, str(good), str(bad), str(good.parent / "missing.json"))
    assert code == 2
    assert f"{good}: valid" in text
    assert f"{bad}: INVALID (1 error)" in text
    assert "missing.json: INVALID (1 error)" in text


def test_nan_and_duplicate_keys_through_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nan.json"
    doc = {
        "broker": {"type": "paper", "initial_balance": 1},
        "trading": {"symbol": "TCS.NS"},
        "data": {"data_source": "yahoo"},
        "strategy": {
            "entry_logic": {"name": "RSIBBEntryMixin"},
            "exit_logic": {"name": "ATRExitMixin"},
        },
    }
    text = json.dumps(doc).replace('"initial_balance": 1', '"initial_balance": NaN')
    path.write_text(text.replace('"symbol": "TCS.NS"', '"symbol": "A.NS", "symbol": "TCS.NS"'))
    code, out = run(capsys, str(path))
    assert code == 2
    assert "$.broker.initial_balance: NaN, Infinity and numbers too large" in out
    assert "$.trading.symbol: key 'symbol' appears more than once" in out

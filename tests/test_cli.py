"""``mixbot validate`` and ``mixbot schema``: output, exit codes, secrets, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mixbot.cli import main

REPO = Path(__file__).resolve().parents[1]
LIVE = REPO / "config" / "trading" / "live" / "upstox_reliance.json"
SECRET = "sekrit-value-123"

#: One mistake per line, so every line number below is exact.
BROKEN = """{
  "broker": {"type": "upstox", "acess_token": "${UPSTOX_ACCESS_TOKEN}", "algo_name": "a"},
  "trading": {"symbol": "NSE_EQ|INE002A01018", "position_size": "10%"},
  "data": {"data_source": "upstox", "interval": "5m"},
  "strategy": {
    "entry_logic": {"name": "RSIBBEntryMixn", "params": {}},
    "exit_logic": {"name": "ATRExitMixin", "params": {"x_atr_period": 0}}
  }
}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("UPSTOX_ACCESS_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    path = tmp_path / "broken.json"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_broken_config_prints_every_problem(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "validate", str(broken))
    assert code == 2
    f = str(broken)
    expected = [
        f"{f}:2:32: error: $.broker.acess_token: unknown key 'acess_token' "
        "(did you mean 'access_token'?)",
        f"{f}:3:65: error: $.trading.position_size: expected a number, got string '10%'",
        f"{f}:6:29: error: $.strategy.entry_logic.name: unknown entry mixin 'RSIBBEntryMixn' "
        "(did you mean 'RSIBBEntryMixin'?)",
        f"{f}:7:71: error: $.strategy.exit_logic.params.x_atr_period: 0 is out of range: "
        "must be >= 1",
        f"{f}:2:13: error: $.broker.access_token: environment variable UPSTOX_ACCESS_TOKEN "
        "is not set (the Upstox access token)",
    ]
    lines = out.splitlines()
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, out)
    assert lines[-1] == f"{f}: INVALID (5 errors)"
    assert len(lines) == 6


def test_broken_config_json_format(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "--format", "json", str(broken))
    assert code == 2
    data = json.loads(out)
    assert len(data) == 1 and data[0]["file"] == str(broken) and data[0]["valid"] is False
    problems = {p["path"]: p for p in data[0]["problems"]}
    assert set(problems) == {
        "$.broker.acess_token",
        "$.trading.position_size",
        "$.strategy.entry_logic.name",
        "$.strategy.exit_logic.params.x_atr_period",
        "$.broker.access_token",
    }
    typo = problems["$.broker.acess_token"]
    assert (typo["line"], typo["column"]) == (2, 32)
    assert typo["hint"] == "did you mean 'access_token'?"
    assert typo["severity"] == "error" and typo["file"] == str(broken)
    assert "effective" not in data[0]


def test_valid_config_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "x")
    path = tmp_path / "ok.json"
    path.write_text(BROKEN.replace("acess", "access").replace('"10%"', "0.1")
                    .replace("Mixn", "Mixin").replace('"x_atr_period": 0', '"x_atr_period": 3'))  # fmt: skip
    code, out, _ = run(capsys, "validate", str(path))
    assert (code, out) == (0, f"{path}: valid\n")
    code, out, _ = run(capsys, "validate", "--format", "json", str(path))
    assert code == 0
    assert json.loads(out) == [{"file": str(path), "valid": True, "problems": []}]


def test_warnings_do_not_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc: dict[str, Any] = {
        "broker": {"type": "paper"},
        "trading": {"symbol": "TCS.NS", "position_size": 0.2},
        "data": {"data_source": "yahoo"},
        "strategy": {
            "entry_logic": {"name": "RSIBBEntryMixin"},
            "exit_logic": {"name": "ATRExitMixin"},
            "position_size": 0.3,
        },
    }
    path = tmp_path / "warn.json"
    path.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert "warning: $.strategy.position_size" in out
    assert out.splitlines()[-1] == f"{path}: valid, 1 warning"


def test_secret_value_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", SECRET)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", SECRET + "-bot")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "4242")
    for args in (
        ["validate", str(LIVE)],
        ["validate", "--show-effective", str(LIVE)],
        ["validate", "--format", "json", str(LIVE)],
        ["validate", "--format", "json", "--show-effective", str(LIVE)],
    ):
        code, out, err = run(capsys, *args)
        assert code == 0, out
        assert SECRET not in out + err, args
    code, out, _ = run(capsys, "validate", "--format", "json", "--show-effective", str(LIVE))
    effective = json.loads(out)[0]["effective"]
    assert effective["broker"]["access_token"] == "${UPSTOX_ACCESS_TOKEN} (set)"
    assert effective["notifications"]["telegram"]["bot_token"] == "${TELEGRAM_BOT_TOKEN} (set)"
    assert (
        effective["broker"]["sandbox_token"].endswith("(NOT SET)")
        or "(set)" in (effective["broker"]["sandbox_token"])
    )


def test_show_effective_fills_defaults_and_masks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)
    doc = {
        "broker": {"type": "paper", "access_token": "literal-secret-abc"},
        "trading": {"symbol": "TCS.NS"},
        "data": {"data_source": "yahoo"},
        "strategy": {
            "entry_logic": {"name": "RSIBBEntryMixin"},
            "exit_logic": {"name": "ATRExitMixin"},
        },
    }
    path = tmp_path / "eff.json"
    path.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "validate", "--show-effective", str(path))
    assert code == 2  # the literal secret is an error...
    assert "literal-secret-abc" not in out  # ...and is never echoed
    effective = json.loads(out[out.index("\n{") :])
    assert effective["broker"]["access_token"] == "***"
    assert effective["broker"]["initial_balance"] == 100000.0
    assert effective["data"]["interval"] == "1d"
    assert effective["market"]["square_off_at"] == "15:15"
    assert effective["strategy"]["entry_logic"]["params"]["e_rsi_period"] == 14
    assert effective["notifications"]["email"]["smtp_password"] == "${SMTP_PASSWORD} (NOT SET)"


def test_internal_error_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mixbot.config.validate as validate_mod

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("kaput")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validate_mod, "validate_file", boom)
    code, _, err = run(capsys, "validate", "x.json")
    assert code == 1
    assert "mixbot: internal error: RuntimeError: kaput" in err
    assert "RuntimeError: kaput" in (tmp_path / "logs" / "errors.log").read_text()


def test_no_command_and_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["validate", "--format", "xml", "a.json"])
    assert info.value.code == 2


def test_schema_prints_export(capsys: pytest.CaptureFixture[str]) -> None:
    from mixbot.config.schema import export_text

    code, out, _ = run(capsys, "schema")
    assert code == 0 and out == export_text()


def test_validate_does_not_import_heavy_modules(tmp_path: Path) -> None:
    script = (
        "import sys; from mixbot.cli import main; "
        f"code = main(['validate', {str(REPO / 'config' / 'trading' / '0002.json')!r}, "
        f"{str(LIVE)!r}]); "
        "print(code); "
        "print(sorted({m for m in sys.modules "
        "if m.startswith(('tensorflow', 'matplotlib', 'backtrader'))}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    code_line, modules_line = proc.stdout.strip().splitlines()[-2:]
    assert code_line in ("0", "2")  # 2 when the data folder or tokens are absent
    modules = eval(modules_line)  # a printed list of str
    assert not [m for m in modules if m.startswith(("tensorflow", "matplotlib"))]
    assert not [m for m in modules if m.startswith("backtrader")]

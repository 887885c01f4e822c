"""Bots on one Upstox account share its order rate limit (one log per account, per host)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.ratelimit import ORDER_LIMITS, ORDER_LIMITS_REGISTERED
from mixbot.venues.upstox.wiring import account_order_limiter


def _cfg(tmp_path: Path, bot_id: str):  # type: ignore[no-untyped-def]
    doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_banknifty.json").read_text())
    doc["bot_id"] = bot_id
    doc["broker"] = {
        "type": "upstox",
        "access_token": "${UPSTOX_ACCESS_TOKEN}",
        "algo_name": "t-algo",
    }
    path = tmp_path / f"{bot_id}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text(), env={"UPSTOX_ACCESS_TOKEN": "t"})
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def test_two_bots_on_one_token_share_one_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
    a = account_order_limiter(_cfg(tmp_path, "a"), UpstoxClient(token="token-one"), False)
    b = account_order_limiter(_cfg(tmp_path, "b"), UpstoxClient(token="token-one"), False)
    other = account_order_limiter(_cfg(tmp_path, "c"), UpstoxClient(token="token-two"), False)
    assert a.path == b.path != other.path
    assert a.path.parent == tmp_path / "locks"
    assert "token-one" not in str(a.path)
    assert a.limits == ORDER_LIMITS and a.limits[0] == (10, 1.0)  # the retail 10 orders/s
    reg = account_order_limiter(_cfg(tmp_path, "d"), UpstoxClient(token="token-one"), True)
    assert reg.limits == ORDER_LIMITS_REGISTERED


def test_no_token_yet_means_no_shared_limiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPSTOX_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("MIXBOT_UPSTOX_TOKEN_FILE", str(tmp_path / "missing.json"))
    monkeypatch.setenv("MIXBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite'}")
    assert account_order_limiter(_cfg(tmp_path, "a"), UpstoxClient(), False) is None

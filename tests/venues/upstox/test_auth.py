"""Upstox login: token expiry in IST, the token file, login URL, code exchange, listener, CLI."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import socket
import stat
import threading
import urllib.parse
from pathlib import Path

import httpx
import pytest

from mixbot.errors import ConfigError
from mixbot.venues.upstox import auth
from mixbot.venues.upstox import cli as upstox_cli
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.errors import TokenExpiredError, UpstoxError

IST = auth.IST


def ist(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=IST)


@pytest.fixture
def token_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cfg" / "upstox_token.json"
    monkeypatch.setenv("MIXBOT_UPSTOX_TOKEN_FILE", str(path))
    return path


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> auth.AppCredentials:
    monkeypatch.setenv("UPSTOX_API_KEY", "key-123")
    monkeypatch.setenv("UPSTOX_API_SECRET", "shh-secret")
    monkeypatch.setenv("UPSTOX_REDIRECT_URI", "http://127.0.0.1:5055/callback")
    return auth.credentials()


# -- expiry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued", "expires"),
    [
        (ist(2025, 1, 7, 2, 0), ist(2025, 1, 7, 3, 30)),  # before 03:30: same day
        (ist(2025, 1, 7, 2, 30), ist(2025, 1, 7, 3, 30)),  # docs: 02:30 Wed -> 03:30 Wed
        (ist(2025, 1, 7, 3, 29, 59), ist(2025, 1, 7, 3, 30)),
        (ist(2025, 1, 7, 3, 30), ist(2025, 1, 8, 3, 30)),  # exactly 03:30: next day
        (ist(2025, 1, 7, 10, 0), ist(2025, 1, 8, 3, 30)),
        (ist(2025, 1, 7, 20, 0), ist(2025, 1, 8, 3, 30)),  # docs: 8 PM Tue -> 03:30 Wed
        (ist(2025, 1, 31, 23, 59), ist(2025, 2, 1, 3, 30)),  # month end
        (ist(2024, 12, 31, 9, 0), ist(2025, 1, 1, 3, 30)),  # year end
    ],
)
def test_token_expiry_ist(issued: dt.datetime, expires: dt.datetime) -> None:
    got = auth.token_expiry(issued)
    assert got == expires
    assert got.utcoffset() == dt.timedelta(hours=5, minutes=30)


def test_token_expiry_naive_is_utc_and_other_zones() -> None:
    # 2025-01-06 21:00 UTC = 2025-01-07 02:30 IST -> 03:30 IST on the 7th (= 22:00 UTC on the 6th)
    got = auth.token_expiry(dt.datetime(2025, 1, 6, 21, 0))
    assert got == ist(2025, 1, 7, 3, 30)
    assert got.astimezone(dt.UTC) == dt.datetime(2025, 1, 6, 22, 0, tzinfo=dt.UTC)
    # 22:00 UTC is exactly 03:30 IST -> the next day's 03:30
    assert auth.token_expiry(dt.datetime(2025, 1, 6, 22, 0, tzinfo=dt.UTC)) == ist(
        2025, 1, 8, 3, 30
    )


# -- token file ---------------------------------------------------------------------------------


def test_token_file_default_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MIXBOT_UPSTOX_TOKEN_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert auth.token_path() == tmp_path / ".config" / "mixbot" / "upstox_token.json"
    auth.save_token("abc", ist(2025, 1, 7, 9, 0))
    assert (tmp_path / ".config" / "mixbot" / "upstox_token.json").is_file()


def test_save_token_mode_0600_and_content(token_file: Path) -> None:
    stored = auth.save_token("tok-1", ist(2025, 1, 7, 9, 0), user_id="AB1234", user_name="A B")
    mode = stat.S_IMODE(token_file.stat().st_mode)
    assert mode == 0o600
    obj = json.loads(token_file.read_text())
    assert obj["access_token"] == "tok-1" and obj["user_id"] == "AB1234"
    assert dt.datetime.fromisoformat(obj["expires_at"]) == ist(2025, 1, 8, 3, 30)
    assert stored.expires_at == ist(2025, 1, 8, 3, 30)
    assert "tok-1" not in repr(stored)
    # overwrite: still 0600, no temp files left behind
    os.chmod(token_file, 0o644)
    auth.save_token("tok-2", ist(2025, 1, 8, 9, 0))
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert json.loads(token_file.read_text())["access_token"] == "tok-2"
    assert sorted(p.name for p in token_file.parent.iterdir()) == [token_file.name]


def test_save_token_is_atomic(token_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth.save_token("old", ist(2025, 1, 7, 9, 0))

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(auth.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        auth.save_token("new", ist(2025, 1, 7, 10, 0))
    assert json.loads(token_file.read_text())["access_token"] == "old"
    assert sorted(p.name for p in token_file.parent.iterdir()) == [token_file.name]


def test_load_token_ok_warn_expired(token_file: Path) -> None:
    auth.save_token("tok", ist(2025, 1, 7, 9, 0))  # dies 2025-01-08 03:30 IST
    ok = auth.load_token(now=ist(2025, 1, 7, 15, 0))
    assert ok.access_token == "tok" and ok.warning is None
    assert ok.remaining(ist(2025, 1, 7, 15, 0)) == dt.timedelta(hours=12, minutes=30)
    soon = auth.load_token(now=ist(2025, 1, 8, 3, 10))
    assert soon.warning and "20 min" in soon.warning and "mixbot upstox login" in soon.warning
    with pytest.raises(TokenExpiredError) as ei:
        auth.load_token(now=ist(2025, 1, 8, 3, 30))
    msg = str(ei.value)
    assert "expired at 2025-01-08 03:30 IST" in msg and "mixbot upstox login" in msg
    assert "tok" not in msg.replace("token", "")


def test_load_token_missing_and_corrupt(token_file: Path) -> None:
    with pytest.raises(FileNotFoundError):
        auth.load_token()
    token_file.parent.mkdir(parents=True)
    token_file.write_text("{not json")
    with pytest.raises(ConfigError, match="not an Upstox token file"):
        auth.load_token()


# -- login --------------------------------------------------------------------------------------


def test_credentials_missing_names_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UPSTOX_API_KEY", "UPSTOX_API_SECRET", "UPSTOX_REDIRECT_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPSTOX_API_KEY", "k")
    with pytest.raises(ConfigError) as ei:
        auth.credentials()
    msg = str(ei.value)
    assert "UPSTOX_API_SECRET" in msg and "UPSTOX_REDIRECT_URI" in msg
    assert "UPSTOX_API_KEY" not in msg.split(":")[0]


def test_login_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXBOT_UPSTOX_API", "https://sim:8443")
    url = auth.login_url("key-123", "http://127.0.0.1:5055/callback", state="st8")
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://sim:8443/v2/login/authorization/dialog"
    )
    assert urllib.parse.parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["key-123"],
        "redirect_uri": ["http://127.0.0.1:5055/callback"],
        "state": ["st8"],
    }


def test_extract_code() -> None:
    assert auth.extract_code("  abc123\n") == "abc123"
    assert auth.extract_code("http://127.0.0.1:5055/callback?code=XyZ&state=s1", "s1") == "XyZ"
    assert auth.extract_code("https://example.com/cb?code=XyZ") == "XyZ"
    with pytest.raises(ConfigError, match="state"):
        auth.extract_code("http://x/cb?code=a&state=evil", "s1")
    with pytest.raises(ConfigError, match="no \\?code="):
        auth.extract_code("http://x/cb?foo=1")
    with pytest.raises(ConfigError, match="access_denied"):
        auth.extract_code("http://x/cb?error=access_denied")
    with pytest.raises(ConfigError):
        auth.extract_code("   ")


def token_server(
    seen: list[httpx.Request], status: int = 200, body: dict | None = None
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            status,
            json=body
            or {
                "email": "a@b.c",
                "user_id": "AB1234",
                "user_name": "Test User",
                "broker": "UPSTOX",
                "access_token": "fresh-token",
                "extended_token": None,
            },
        )

    return httpx.MockTransport(handle)


def test_exchange_code_request_body(creds: auth.AppCredentials) -> None:
    seen: list[httpx.Request] = []
    client = UpstoxClient(base_url="https://api.test", transport=token_server(seen))
    body = auth.exchange_code("the-code", creds, client)
    assert body["access_token"] == "fresh-token"
    (req,) = seen
    assert req.method == "POST"
    assert str(req.url) == "https://api.test/v2/login/authorization/token"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Api-Version"] == "2.0"
    assert "Authorization" not in req.headers
    assert urllib.parse.parse_qs(req.content.decode()) == {
        "code": ["the-code"],
        "client_id": ["key-123"],
        "client_secret": ["shh-secret"],
        "redirect_uri": ["http://127.0.0.1:5055/callback"],
        "grant_type": ["authorization_code"],
    }


def test_exchange_code_refused_not_retried(creds: auth.AppCredentials) -> None:
    seen: list[httpx.Request] = []
    bad = {
        "status": "error",
        "errors": [{"errorCode": "UDAPI100016", "message": "Invalid Credentials"}],
    }
    client = UpstoxClient(base_url="https://api.test", transport=token_server(seen, 400, bad))
    with pytest.raises(UpstoxError, match="UDAPI100016"):
        auth.exchange_code("used-code", creds, client)
    assert len(seen) == 1


def test_login_with_code_saves(creds: auth.AppCredentials, token_file: Path) -> None:
    seen: list[httpx.Request] = []
    client = UpstoxClient(base_url="https://api.test", transport=token_server(seen))
    stored = auth.login_with_code("c", creds, client)
    assert stored.user_name == "Test User"
    assert auth.load_token().access_token == "fresh-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_listen_for_code() -> None:
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/callback"
    ready = threading.Event()
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["code"] = auth.listen_for_code(redirect, "st", timeout=10, ready=ready)
        except Exception as exc:  # pragma: no cover - reported below
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    assert ready.wait(5)
    r404 = httpx.get(f"http://127.0.0.1:{port}/favicon.ico", trust_env=False)
    assert r404.status_code == 404
    r = httpx.get(f"{redirect}?code=CODE42&state=st", trust_env=False)
    t.join(10)
    assert r.status_code == 200 and "close this tab" in r.text
    assert out == {"code": "CODE42"}


def test_listen_needs_local_redirect() -> None:
    with pytest.raises(ConfigError, match="local redirect"):
        auth.listen_for_code("https://myapp.example.com/cb", timeout=1)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mixbot")
    upstox_cli.add_parsers(p.add_subparsers(dest="command"))
    return p


def test_cli_login_pasted_url(
    creds: auth.AppCredentials,
    token_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    got: dict[str, str] = {}

    def fake_login(code: str, c: auth.AppCredentials) -> auth.StoredToken:
        got["code"] = code
        return auth.save_token("tok", user_name="Test User")

    monkeypatch.setattr(auth, "login_with_code", fake_login)
    monkeypatch.setattr(auth, "new_state", lambda: "fixed-state")
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("http://127.0.0.1:5055/callback?code=PASTED&state=fixed-state\n")
    )
    args = parser().parse_args(["upstox", "login"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "/v2/login/authorization/dialog?response_type=code&client_id=key-123" in out
    assert "saved the Upstox access token for Test User" in out and "IST" in out
    assert got == {"code": "PASTED"}


def test_cli_login_missing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UPSTOX_API_KEY", "UPSTOX_API_SECRET", "UPSTOX_REDIRECT_URI"):
        monkeypatch.delenv(name, raising=False)
    args = parser().parse_args(["upstox", "login"])
    with pytest.raises(ConfigError, match="UPSTOX_API_KEY, UPSTOX_REDIRECT_URI, UPSTOX_API_SECRET"):
        args.func(args)


def test_cli_status(token_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["upstox", "status"])
    assert args.func(args) == 2
    auth.save_token("tok", user_name="Test User")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Test User valid until" in out
    assert "static IP of your Upstox app" in out  # where orders leave from (NSE rule)


@pytest.mark.parametrize(
    "addresses, want",
    [
        (["49.36.10.5"], "orders leave from 49.36.10.5: a public address of this machine"),
        (["10.0.0.5", "fd00::2"], "private address 10.0.0.5, fd00::2 (behind NAT)"),
        ([], "no route to the internet"),
    ],
)
def test_static_ip_line_says_what_it_can_know(addresses: list[str], want: str) -> None:
    from mixbot.venues.upstox.static_ip import describe

    (line,) = describe(addresses)
    assert want in line
    if addresses != ["49.36.10.5"]:
        assert "api.ipify.org" in line  # how to find the public address from outside


# -- integration: the local Upstox simulator with real data (skipped when unavailable) ----------


# `sim` and `sim_env` fixtures: tests/venues/upstox/conftest.py


def test_sim_login_round_trip(sim_env, token_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("UPSTOX_API_KEY", "sim-key")
    monkeypatch.setenv("UPSTOX_API_SECRET", "sim-secret")
    monkeypatch.setenv("UPSTOX_REDIRECT_URI", "http://127.0.0.1:5055/callback")
    monkeypatch.delenv("UPSTOX_ACCESS_TOKEN")
    creds = auth.credentials()
    url = auth.login_url(creds.api_key, creds.redirect_uri, "st")
    from mixbot.venues.upstox.http.hosts import ssl_context

    with httpx.Client(verify=ssl_context(), trust_env=False) as http:
        r = http.get(url)
    assert r.status_code == 302
    code = auth.extract_code(r.headers["Location"], "st")
    stored = auth.login_with_code(code, creds)
    assert stored.access_token == "sim-token"
    with UpstoxClient() as c:  # the token file is used
        assert c.get("/v2/user/profile")["status"] == "success"
    with pytest.raises(UpstoxError):  # the code is single-use
        auth.exchange_code(code, creds)

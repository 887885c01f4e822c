"""UpstoxClient and the error envelope, against httpx.MockTransport responders."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from mixbot.errors import ConfigError, TemporaryError
from mixbot.venues.upstox import auth
from mixbot.venues.upstox.http.client import RateLimiter, UpstoxClient
from mixbot.venues.upstox.http.errors import (
    RateLimitedError,
    TokenExpiredError,
    TokenMissingError,
    UpstoxError,
    UpstoxUnavailableError,
    error_for_status,
    parse_error_envelope,
)

TOKEN = "secret-token-value-123"
BASE = "https://api.test"


def envelope(code: str, message: str, *, camel: bool = True, snake: bool = True) -> dict:
    err: dict = {"message": message}
    if camel:
        err.update(errorCode=code, propertyPath=None, invalidValue=None)
    if snake:
        err.update(error_code=code, property_path=None, invalid_value=None)
    return {"status": "error", "errors": [err]}


class Recorder:
    """A MockTransport whose answers are taken in turn from a list (the last one repeats)."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request) if callable(answer) else answer


def make_client(rec: Recorder, sleeps: list[float] | None = None, **kw) -> UpstoxClient:
    return UpstoxClient(
        token=TOKEN,
        base_url=BASE,
        transport=httpx.MockTransport(rec),
        sleep=(sleeps.append if sleeps is not None else (lambda s: None)),
        rate_limiter=False,
        **kw,
    )


OK = httpx.Response(200, json={"status": "success", "data": {"x": 1}})


# -- envelope -----------------------------------------------------------------------------------


def test_envelope_snake_camel_and_both() -> None:
    for camel, snake in ((True, True), (True, False), (False, True)):
        body = envelope("UDAPI100036", "Invalid Input", camel=camel, snake=snake)
        body["errors"][0]["propertyPath" if camel else "property_path"] = "quantity"
        body["errors"][0]["invalidValue" if camel else "invalid_value"] = -1
        (d,) = parse_error_envelope(body)
        assert (d.error_code, d.message, d.property_path, d.invalid_value) == (
            "UDAPI100036",
            "Invalid Input",
            "quantity",
            -1,
        )
        exc = error_for_status(400, body, method="GET", path="/v2/x")
        assert type(exc) is UpstoxError
        assert exc.status == 400 and exc.error_code == "UDAPI100036"
        assert exc.property_path == "quantity" and exc.invalid_value == -1
        assert "property_path=quantity" in str(exc) and "GET /v2/x" in str(exc)


def test_envelope_odd_bodies() -> None:
    assert parse_error_envelope(b"<html>bad gateway</html>") == []
    assert parse_error_envelope(None) == []
    (d,) = parse_error_envelope({"errorCode": "UDAPI10000", "message": "not supported"})
    assert d.error_code == "UDAPI10000"
    two = {"status": "error", "errors": [{"error_code": "A"}, {"error_code": "B"}]}
    assert [e.error_code for e in parse_error_envelope(json.dumps(two))] == ["A", "B"]
    exc = error_for_status(502, "<html>Bad gateway</html>")
    assert isinstance(exc, UpstoxUnavailableError) and isinstance(exc, TemporaryError)
    assert "Bad gateway" in str(exc)


# -- mapping through the client ------------------------------------------------------------------


def test_token_expired_401_message() -> None:
    rec = Recorder(
        httpx.Response(401, json=envelope("UDAPI100050", "Invalid token used to access API"))
    )
    with make_client(rec) as c, pytest.raises(TokenExpiredError) as ei:
        c.get("/v2/user/profile")
    msg = str(ei.value)
    assert "UDAPI100050" in msg and "03:30 IST" in msg and "mixbot upstox login" in msg
    assert "expired" in msg
    assert TOKEN not in msg and TOKEN not in repr(ei.value.__dict__)
    assert len(rec.requests) == 1  # never retried


def test_udapi100050_with_other_status_is_token_expired() -> None:
    rec = Recorder(httpx.Response(403, json=envelope("UDAPI100050", "Invalid token")))
    with make_client(rec) as c, pytest.raises(TokenExpiredError):
        c.get("/v3/x")


def test_429_then_success_is_retried_honouring_retry_after() -> None:
    sleeps: list[float] = []
    rec = Recorder(
        httpx.Response(
            429, json=envelope("UDAPI10005", "Too Many Request Sent"), headers={"Retry-After": "3"}
        ),
        OK,
    )
    with make_client(rec, sleeps) as c:
        assert c.get("/v2/x") == {"status": "success", "data": {"x": 1}}
    assert len(rec.requests) == 2
    assert len(sleeps) == 1 and sleeps[0] >= 3.0


def test_udapi10005_is_rate_limited_and_bounded() -> None:
    sleeps: list[float] = []
    rec = Recorder(httpx.Response(429, json=envelope("UDAPI10005", "Too Many Request Sent")))
    with make_client(rec, sleeps, max_attempts=4, backoff_initial=1, backoff_max=4) as c:
        with pytest.raises(RateLimitedError) as ei:
            c.get("/v2/x")
    assert len(rec.requests) == 4 and len(sleeps) == 3
    assert isinstance(ei.value, TemporaryError)
    # exponential with jitter: attempt n waits within [b/2, b], b = min(4, 1 * 2**(n-1))
    for n, s in enumerate(sleeps, start=1):
        b = min(4, 2 ** (n - 1))
        assert b / 2 <= s <= b


def test_5xx_bounded_retries() -> None:
    rec = Recorder(httpx.Response(503, json=envelope("UDAPI100500", "Something went wrong")))
    with make_client(rec, max_attempts=3) as c, pytest.raises(UpstoxUnavailableError) as ei:
        c.get("/v2/x")
    assert len(rec.requests) == 3
    assert ei.value.status == 503


def test_5xx_then_ok() -> None:
    rec = Recorder(httpx.Response(500, text="oops"), httpx.Response(502, text="x"), OK)
    with make_client(rec) as c:
        assert c.get("/v2/x")["data"] == {"x": 1}
    assert len(rec.requests) == 3


def test_400_never_retried() -> None:
    body = envelope("UDAPI1148", "Invalid date range")
    rec = Recorder(httpx.Response(400, json=body), OK)
    with make_client(rec) as c, pytest.raises(UpstoxError) as ei:
        c.get("/v3/historical-candle/x")
    assert not isinstance(ei.value, TemporaryError)
    assert ei.value.error_code == "UDAPI1148" and len(rec.requests) == 1


def test_connection_error_retried_then_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    rec = Recorder(refuse)
    with make_client(rec, max_attempts=3) as c, pytest.raises(UpstoxUnavailableError) as ei:
        c.post("/v2/order/place", json={"q": 1})  # not idempotent, but never sent: retried
    assert len(rec.requests) == 3 and ei.value.request_sent is False


def test_post_not_retried_after_5xx_but_after_429() -> None:
    rec = Recorder(httpx.Response(500, text="x"), OK)
    with make_client(rec) as c, pytest.raises(UpstoxUnavailableError):
        c.post("/v2/order/place", json={})
    assert len(rec.requests) == 1
    rec = Recorder(httpx.Response(429, json=envelope("UDAPI10005", "Too Many")), OK)
    with make_client(rec) as c:
        c.post("/v2/order/place", json={})
    assert len(rec.requests) == 2


def test_per_request_max_attempts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    down = httpx.Response(503, json=envelope("UDAPI100500", "Something went wrong"))
    limited = httpx.Response(429, json=envelope("UDAPI10005", "Too Many Request Sent"))
    for answer, error in ((down, UpstoxUnavailableError), (limited, RateLimitedError)):
        sleeps: list[float] = []
        rec = Recorder(answer, OK)
        with make_client(rec, sleeps, max_attempts=5) as c, pytest.raises(error):
            c.get("/v2/x", max_attempts=1)  # retryable, but exactly one try was asked for
        assert len(rec.requests) == 1 and sleeps == []
    assert not [r for r in caplog.records if "retry" in r.getMessage()]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    rec = Recorder(refuse, OK)
    with make_client(rec) as c, pytest.raises(UpstoxUnavailableError) as ei:
        c.post("/v3/order/place", json={}, max_attempts=1)
    assert len(rec.requests) == 1 and ei.value.request_sent is False

    rec = Recorder(down, down, down, OK)
    with make_client(rec, max_attempts=1) as c:  # more than the client's default
        assert c.get("/v2/x", max_attempts=4)["data"] == {"x": 1}
    assert len(rec.requests) == 4
    rec = Recorder(down, OK)
    with make_client(rec, max_attempts=5) as c, pytest.raises(UpstoxUnavailableError):
        c.request("GET", "/v2/x", max_attempts=1)
    with make_client(rec) as c:
        assert c.get("/v2/x", max_attempts=1)["status"] == "success"  # one try that succeeds
        for bad in (0, -1):
            with pytest.raises(ValueError, match="max_attempts"):
                c.get("/v2/x", max_attempts=bad)
    assert len(rec.requests) == 2  # nothing sent for the refused values


def test_read_timeout_on_get_is_retried() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    rec = Recorder(slow, OK)
    with make_client(rec) as c:
        assert c.get("/v2/x")["status"] == "success"


# -- headers, token, logging --------------------------------------------------------------------


def test_headers_and_api_version() -> None:
    rec = Recorder(OK)
    with make_client(rec) as c:
        c.get("/v2/user/profile", {"a": "b"})
        c.get("/v3/historical-candle/intraday/NSE_EQ%7CX/minutes/1")
    v2, v3 = rec.requests
    assert v2.headers["Authorization"] == f"Bearer {TOKEN}"
    assert v2.headers["Accept"] == "application/json"
    assert v2.headers["Api-Version"] == "2.0"
    assert "Api-Version" not in v3.headers
    assert str(v2.url) == f"{BASE}/v2/user/profile?a=b"
    assert v3.url.raw_path.startswith(b"/v3/historical-candle/intraday/NSE_EQ%7CX/")


def test_not_json_is_an_error() -> None:
    rec = Recorder(httpx.Response(200, text="<html>"))
    with make_client(rec) as c, pytest.raises(UpstoxError, match="not JSON"):
        c.get("/v2/x")


def test_token_never_logged_or_shown(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(httpx.Response(503, text="down"), OK)
    caplog.set_level(logging.DEBUG)
    with make_client(rec) as c:
        c.get("/v2/x")
        assert TOKEN not in repr(c)
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)


def test_token_from_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXBOT_UPSTOX_TOKEN_FILE", str(tmp_path / "tok.json"))
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "from-env")
    rec = Recorder(OK)

    def client() -> UpstoxClient:
        return UpstoxClient(base_url=BASE, transport=httpx.MockTransport(rec), rate_limiter=False)

    with client() as c:
        c.get("/v2/x")
    assert rec.requests[-1].headers["Authorization"] == "Bearer from-env"
    monkeypatch.delenv("UPSTOX_ACCESS_TOKEN")
    with client() as c, pytest.raises(TokenMissingError, match="mixbot upstox login") as ei:
        c.get("/v2/x")
    assert isinstance(ei.value, ConfigError)
    auth.save_token("from-file")
    with client() as c:
        c.get("/v2/x")
    assert rec.requests[-1].headers["Authorization"] == "Bearer from-file"


def test_no_token_needed_without_auth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("UPSTOX_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("MIXBOT_UPSTOX_TOKEN_FILE", str(tmp_path / "none.json"))
    rec = Recorder(OK)
    with UpstoxClient(base_url=BASE, transport=httpx.MockTransport(rec)) as c:
        c.post("/v2/login/authorization/token", data={"code": "x"}, auth=False)
    assert "Authorization" not in rec.requests[0].headers


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXBOT_UPSTOX_API", "https://sim.local:9999/")
    rec = Recorder(OK)
    with UpstoxClient(token=TOKEN, transport=httpx.MockTransport(rec)) as c:
        c.get("/v2/x")
    assert str(rec.requests[0].url) == "https://sim.local:9999/v2/x"


# -- rate limiter -------------------------------------------------------------------------------


def test_rate_limiter_windows() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    rl = RateLimiter(((2, 1.0), (3, 10.0)), clock=lambda: now[0], sleep=sleep)
    assert rl.acquire() == 0 and rl.acquire() == 0
    assert rl.acquire() == pytest.approx(1.0)  # third call waits for the 1 s window
    assert now[0] == pytest.approx(1.0)
    assert rl.acquire() == pytest.approx(9.0)  # 4th waits for the 10 s window (3 / 10 s)
    assert now[0] == pytest.approx(10.0)


def test_client_uses_rate_limiter() -> None:
    calls: list[int] = []

    class Counting(RateLimiter):
        def acquire(self) -> float:
            calls.append(1)
            return 0.0

    rec = Recorder(httpx.Response(500, text="x"), OK)
    with UpstoxClient(
        token=TOKEN,
        base_url=BASE,
        transport=httpx.MockTransport(rec),
        rate_limiter=Counting(),
        sleep=lambda s: None,
    ) as c:
        c.get("/v2/x")
        c.download(f"{BASE}/file.gz")  # public files are not rate limited
    assert len(calls) == 2  # one per attempt of the GET


# -- integration: the local Upstox simulator with real data (skipped when unavailable) ----------


# `sim` and `sim_env` fixtures: tests/venues/upstox/conftest.py


def test_sim_errors_and_retries(sim_env) -> None:  # type: ignore[no-untyped-def]
    with UpstoxClient(sleep=lambda s: None) as c:
        assert c.get("/v2/user/profile")["data"]["user_id"]
        sim_env.faults.rate_limit(2)
        assert c.get("/v2/user/profile")["status"] == "success"  # 429, 429, then ok
        sim_env.faults.server_errors(1, 503)
        assert c.get("/v2/user/profile")["status"] == "success"
        with pytest.raises(UpstoxError) as ei:
            c.get("/v3/historical-candle/NSE_EQ%7CNOPE/minutes/1/2019-01-02/2019-01-01")
        assert ei.value.status == 400 and not isinstance(ei.value, TemporaryError)
    with UpstoxClient(token="wrong") as c, pytest.raises(TokenExpiredError, match="03:30 IST"):
        c.get("/v2/user/profile")

"""Historical candles: intervals, chunking, parsing to end labels, cache, today, CLI."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import urllib.parse
from pathlib import Path

import httpx
import pandas as pd
import pytest

from mixbot.errors import ConfigError
from mixbot.feeds.loaders import load_bars
from mixbot.venues import commands as venue_commands
from mixbot.venues.upstox.data.candles import (
    CandleCache,
    Interval,
    chunk_ranges,
    fetch_bars,
    historical_path,
    intraday_path,
    missing_ranges,
    parse_candles,
    parse_interval,
)
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.errors import UpstoxUnavailableError

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
KEY = "NSE_EQ|INE002A01018"
D = dt.date


# -- intervals and chunks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("1m", "minutes", 1),
        ("5min", "minutes", 5),
        ("300m", "minutes", 300),
        ("1h", "hours", 1),
        ("1d", "days", 1),
        ("day", "days", 1),
        ("1w", "weeks", 1),
        ("1mo", "months", 1),
        ("minutes/15", "minutes", 15),
    ],
)
def test_parse_interval(text: str, unit: str, value: int) -> None:
    assert parse_interval(text) == Interval(unit, value)


@pytest.mark.parametrize("text", ["0m", "301m", "6h", "2d", "1y", "abc", ""])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_interval(text)


def test_chunks_minutes_one_month() -> None:
    assert chunk_ranges(D(2025, 1, 1), D(2025, 3, 15), Interval("minutes", 1)) == [
        (D(2025, 1, 1), D(2025, 1, 31)),
        (D(2025, 2, 1), D(2025, 2, 28)),
        (D(2025, 3, 1), D(2025, 3, 15)),
    ]
    # a mid-month start; 31 Jan + 1 month is clamped to 28 Feb
    assert chunk_ranges(D(2024, 1, 31), D(2024, 4, 1), Interval("minutes", 15)) == [
        (D(2024, 1, 31), D(2024, 2, 28)),
        (D(2024, 2, 29), D(2024, 3, 28)),
        (D(2024, 3, 29), D(2024, 4, 1)),
    ]


def test_chunks_quarter_decade_unlimited() -> None:
    q = [
        (D(2024, 1, 1), D(2024, 3, 31)),
        (D(2024, 4, 1), D(2024, 6, 30)),
        (D(2024, 7, 1), D(2024, 8, 5)),
    ]
    assert chunk_ranges(D(2024, 1, 1), D(2024, 8, 5), Interval("minutes", 30)) == q
    assert chunk_ranges(D(2024, 1, 1), D(2024, 8, 5), Interval("hours", 1)) == q
    assert chunk_ranges(D(2000, 1, 1), D(2024, 12, 31), Interval("days", 1)) == [
        (D(2000, 1, 1), D(2009, 12, 31)),
        (D(2010, 1, 1), D(2019, 12, 31)),
        (D(2020, 1, 1), D(2024, 12, 31)),
    ]
    assert chunk_ranges(D(2000, 1, 1), D(2024, 12, 31), Interval("weeks", 1)) == [
        (D(2000, 1, 1), D(2024, 12, 31))
    ]
    assert chunk_ranges(D(2025, 1, 2), D(2025, 1, 1), Interval("minutes", 1)) == []
    assert chunk_ranges(D(2025, 1, 2), D(2025, 1, 2), Interval("minutes", 1)) == [
        (D(2025, 1, 2), D(2025, 1, 2))
    ]


def test_missing_ranges() -> None:
    cov = [
        (D(2025, 1, 5), D(2025, 1, 10)),
        (D(2025, 1, 11), D(2025, 1, 12)),
        (D(2025, 1, 20), D(2025, 1, 25)),
    ]
    assert missing_ranges(D(2025, 1, 1), D(2025, 1, 31), cov) == [
        (D(2025, 1, 1), D(2025, 1, 4)),
        (D(2025, 1, 13), D(2025, 1, 19)),
        (D(2025, 1, 26), D(2025, 1, 31)),
    ]
    assert missing_ranges(D(2025, 1, 6), D(2025, 1, 9), cov) == []
    assert missing_ranges(D(2025, 1, 1), D(2025, 1, 3), []) == [(D(2025, 1, 1), D(2025, 1, 3))]


def test_paths_encode_the_key() -> None:
    assert historical_path(KEY, Interval("minutes", 1), D(2025, 1, 2), D(2025, 1, 1)) == (
        "/v3/historical-candle/NSE_EQ%7CINE002A01018/minutes/1/2025-01-02/2025-01-01"
    )
    assert intraday_path("NSE_INDEX|Nifty 50", Interval("hours", 1)) == (
        "/v3/historical-candle/intraday/NSE_INDEX%7CNifty%2050/hours/1"
    )


# -- parsing ------------------------------------------------------------------------------------


def test_parse_minute_candles_end_labels_newest_first() -> None:
    rows = [
        ["2025-01-02T09:16:00+05:30", 101.0, 103.0, 100.5, 102.0, 2000, 0],
        ["2025-01-02T09:15:00+05:30", 100.0, 101.5, 99.5, 101.0, 1000, 7],
    ]
    f = parse_candles(rows, Interval("minutes", 1))
    # the 09:15 IST candle covers 09:15-09:16 -> labelled 09:16 IST = 03:46 UTC
    assert list(f.index) == [pd.Timestamp("2025-01-02 03:46"), pd.Timestamp("2025-01-02 03:47")]
    assert f.index.tz is None and f.index.name == "datetime"
    assert f.iloc[0].tolist() == [100.0, 101.5, 99.5, 101.0, 1000.0, 7.0]
    assert list(f.columns) == ["open", "high", "low", "close", "volume", "oi"]


def test_parse_last_candle_capped_at_close_and_daily() -> None:
    rows = [
        ["2025-01-02T15:15:00+05:30", 1, 1, 1, 1, 1, 0],
        ["2025-01-02T14:45:00+05:30", 1, 1, 1, 1, 1, 0],
    ]
    f = parse_candles(rows, Interval("minutes", 30))
    assert list(f.index) == [pd.Timestamp("2025-01-02 09:45"), pd.Timestamp("2025-01-02 10:00")]
    h = parse_candles([["2025-01-02T15:15:00+05:30", 1, 1, 1, 1, 1, 0]], Interval("hours", 1))
    assert list(h.index) == [pd.Timestamp("2025-01-02 10:00")]  # 15:15 + 1h capped at 15:30
    d = parse_candles([["2025-01-02T00:00:00+05:30", 1, 2, 0.5, 1.5, 10, 0]], Interval("days", 1))
    assert list(d.index) == [pd.Timestamp("2025-01-02 10:00")]  # 15:30 IST
    m = parse_candles([["2024-02-01T00:00:00+05:30", 1, 1, 1, 1, 1, 0]], Interval("months", 1))
    assert list(m.index) == [pd.Timestamp("2024-02-29 10:00")]
    w = parse_candles([["2025-01-06T00:00:00+05:30", 1, 1, 1, 1, 1, 0]], Interval("weeks", 1))
    assert list(w.index) == [pd.Timestamp("2025-01-12 10:00")]


def test_parse_dedupes_and_handles_no_oi() -> None:
    rows = [
        ["2025-01-02T09:15:00+05:30", 1, 1, 1, 2, 5],
        ["2025-01-02T09:15:00+05:30", 1, 1, 1, 1, 5],
    ]
    f = parse_candles(rows, Interval("minutes", 1))
    assert len(f) == 1 and f["close"].iloc[0] == 1.0 and f["oi"].iloc[0] == 0.0
    assert parse_candles([], Interval("minutes", 1)).empty


# -- a fake Upstox serving deterministic minute candles -----------------------------------------


HIST = re.compile(
    r"^/v3/historical-candle/([^/]+)/(\w+)/(\d+)/(\d{4}-\d\d-\d\d)/(\d{4}-\d\d-\d\d)$"
)
INTRA = re.compile(r"^/v3/historical-candle/intraday/([^/]+)/(\w+)/(\d+)$")


def day_candles(day: dt.date, n: int, until: dt.time | None = None) -> list[list]:
    """``n``-minute candles for a weekday session, newest first; price encodes the time."""
    if day.weekday() >= 5:
        return []
    out = []
    t = dt.datetime.combine(day, dt.time(9, 15), IST)
    close = dt.datetime.combine(day, dt.time(15, 30), IST)
    while t < close and (until is None or t.time() <= until):
        p = float(day.day * 1000 + t.hour * 60 + t.minute)
        out.append([t.isoformat(), p, p + 1, p - 1, p + 0.5, 100, 0])
        t += dt.timedelta(minutes=n)
    return out[::-1]


class FakeUpstox:
    def __init__(self, today_until: dt.time | None = None, fail_from: dt.date | None = None):
        self.paths: list[str] = []
        self.today_until = today_until
        self.fail_from = fail_from

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.raw_path.decode()
        self.paths.append(raw)
        assert "%7C" in raw and "|" not in raw  # the key is URL-encoded
        m = HIST.match(raw)
        if m:
            key, unit, n, to, frm = m.groups()
            assert urllib.parse.unquote(key) == KEY and unit == "minutes"
            a, b = D.fromisoformat(frm), D.fromisoformat(to)
            assert (b - a).days <= 31  # the real limit for 1-15 minutes
            if self.fail_from and a >= self.fail_from:
                return httpx.Response(503, json={"status": "error", "errors": []})
            rows: list[list] = []
            d = b
            while d >= a:
                rows += day_candles(d, int(n))
                d -= dt.timedelta(days=1)
            return httpx.Response(200, json={"status": "success", "data": {"candles": rows}})
        m = INTRA.match(raw)
        assert m, raw
        rows = day_candles(D(2025, 1, 15), int(m.group(3)), self.today_until)
        return httpx.Response(200, json={"status": "success", "data": {"candles": rows}})

    def client(self) -> UpstoxClient:
        return UpstoxClient(
            token="t",
            base_url="https://api.test",
            transport=httpx.MockTransport(self),
            rate_limiter=False,
            sleep=lambda s: None,
            max_attempts=1,
        )


NOW = dt.datetime(2025, 1, 20, 12, 0, tzinfo=IST)  # a Monday, well after the test ranges
LATER = dt.datetime(2025, 3, 3, 12, 0, tzinfo=IST)


def hist_ranges(paths: list[str]) -> list[tuple[str, str]]:
    return [(m.group(5), m.group(4)) for p in paths if (m := HIST.match(p))]


def test_fetch_bars_one_day(tmp_path: Path) -> None:
    srv = FakeUpstox()
    with srv.client() as c:
        f = fetch_bars(c, KEY, "1m", "2025-01-02", "2025-01-02", cache_dir=tmp_path, now=NOW)
    assert hist_ranges(srv.paths) == [("2025-01-02", "2025-01-02")]
    assert list(f.columns) == ["open", "high", "low", "close", "volume"]
    assert len(f) == 375
    assert f.index[0] == pd.Timestamp("2025-01-02 03:46")  # 09:16 IST
    assert f.index[-1] == pd.Timestamp("2025-01-02 10:00")  # 15:30 IST
    assert f.index.is_monotonic_increasing and f.index.is_unique
    assert f["open"].iloc[0] == 2000 + 9 * 60 + 15


def test_cache_incremental(tmp_path: Path) -> None:
    srv = FakeUpstox()
    with srv.client() as c:
        a = fetch_bars(c, KEY, "1m", "2025-01-06", "2025-01-10", cache_dir=tmp_path, now=NOW)
        assert hist_ranges(srv.paths) == [("2025-01-06", "2025-01-10")]
        srv.paths.clear()
        b = fetch_bars(c, KEY, "1m", "2025-01-01", "2025-01-14", cache_dir=tmp_path, now=NOW)
        # only the missing ranges, before and after the cached week
        assert hist_ranges(srv.paths) == [
            ("2025-01-01", "2025-01-05"),
            ("2025-01-11", "2025-01-14"),
        ]
        srv.paths.clear()
        c2 = fetch_bars(c, KEY, "1m", "2025-01-04", "2025-01-12", cache_dir=tmp_path, now=NOW)
        assert srv.paths == []  # all cached, weekends included: nothing fetched
    assert len(a) == 5 * 375 and len(b) == 10 * 375  # 1 Jan .. 14 Jan: 10 weekdays
    pd.testing.assert_frame_equal(b.loc[a.index], a)
    assert len(c2) == 5 * 375
    cache = CandleCache(tmp_path, KEY, Interval("minutes", 1))
    assert cache.csv == tmp_path / "NSE_EQ_INE002A01018" / "minutes1.csv"
    frame, covered = cache.load()
    assert covered == [(D(2025, 1, 1), D(2025, 1, 14))]
    assert len(frame) == 10 * 375 and frame.index.is_unique
    # the cache file is a plain end-labelled bar file mixbot's loaders read
    loaded = load_bars(cache.csv).frame
    pd.testing.assert_index_equal(loaded.index, frame.index, check_names=False)


def test_chunked_requests_over_months(tmp_path: Path) -> None:
    srv = FakeUpstox()
    with srv.client() as c:
        f = fetch_bars(c, KEY, "5m", "2024-11-20", "2025-01-03", cache=False, now=NOW)
    assert hist_ranges(srv.paths) == [
        ("2024-11-20", "2024-12-19"),
        ("2024-12-20", "2025-01-03"),
    ]
    assert f.index[-1] == pd.Timestamp("2025-01-03 10:00")
    assert not (tmp_path / "NSE_EQ_INE002A01018").exists()


def test_today_from_intraday_only_complete_bars(tmp_path: Path) -> None:
    now = dt.datetime(2025, 1, 15, 10, 0, 30, tzinfo=IST)  # Wednesday, market open
    srv = FakeUpstox(today_until=dt.time(10, 0))  # candles started up to 10:00 (in progress)
    with srv.client() as c:
        f = fetch_bars(c, KEY, "1m", "2025-01-14", None, cache_dir=tmp_path, now=now)
    assert hist_ranges(srv.paths) == [("2025-01-14", "2025-01-14")]
    assert srv.paths[-1] == "/v3/historical-candle/intraday/NSE_EQ%7CINE002A01018/minutes/1"
    today = f[f.index >= pd.Timestamp("2025-01-15")]
    assert len(today) == 45  # 09:16 .. 10:00 IST; the 10:00-10:01 candle is not complete
    assert today.index[-1] == pd.Timestamp("2025-01-15 04:30")
    _, covered = CandleCache(tmp_path, KEY, Interval("minutes", 1)).load()
    assert covered == [(D(2025, 1, 14), D(2025, 1, 14))]  # today is never cached


def test_datetime_bounds(tmp_path: Path) -> None:
    srv = FakeUpstox()
    with srv.client() as c:
        f = fetch_bars(
            c,
            KEY,
            "1m",
            dt.datetime(2025, 1, 2, 4, 0),  # naive UTC = 09:30 IST
            dt.datetime(2025, 1, 2, 10, 0, tzinfo=IST),
            cache_dir=tmp_path,
            now=NOW,
        )
    assert f.index[0] == pd.Timestamp("2025-01-02 04:00")
    assert f.index[-1] == pd.Timestamp("2025-01-02 04:30")
    assert len(f) == 31


def test_failure_keeps_fetched_chunks(tmp_path: Path) -> None:
    srv = FakeUpstox(fail_from=D(2025, 2, 1))
    with srv.client() as c, pytest.raises(UpstoxUnavailableError):
        fetch_bars(c, KEY, "1m", "2025-01-01", "2025-02-10", cache_dir=tmp_path, now=LATER)
    _, covered = CandleCache(tmp_path, KEY, Interval("minutes", 1)).load()
    assert covered == [(D(2025, 1, 1), D(2025, 1, 31))]
    srv2 = FakeUpstox()
    with srv2.client() as c:
        fetch_bars(c, KEY, "1m", "2025-01-01", "2025-02-10", cache_dir=tmp_path, now=LATER)
    assert hist_ranges(srv2.paths) == [("2025-02-01", "2025-02-10")]


def test_prune_to_lookback(tmp_path: Path) -> None:
    srv = FakeUpstox()
    with srv.client() as c:
        fetch_bars(c, KEY, "1m", "2025-01-01", "2025-01-03", cache_dir=tmp_path, now=NOW)
        fetch_bars(
            c, KEY, "1m", "2025-01-13", "2025-01-14", cache_dir=tmp_path, now=NOW, keep_days=10
        )
    frame, covered = CandleCache(tmp_path, KEY, Interval("minutes", 1)).load()
    # cutoff = min(request start 13 Jan, today 20 Jan - 10 days) = 10 Jan
    assert covered == [(D(2025, 1, 13), D(2025, 1, 14))]
    assert frame.index[0] >= pd.Timestamp("2025-01-13")


def test_bad_dates() -> None:
    srv = FakeUpstox()
    with srv.client() as c:
        with pytest.raises(ConfigError, match="after"):
            fetch_bars(c, KEY, "1m", "2025-01-10", "2025-01-02", cache=False, now=NOW)
        with pytest.raises(ConfigError, match="not a date"):
            fetch_bars(c, KEY, "1m", "02/01/2025", None, cache=False, now=NOW)


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_data_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip
    import json

    from mixbot.venues.upstox.http import client as client_mod

    master = [
        {
            "segment": "NSE_EQ",
            "name": "RELIANCE INDUSTRIES LTD",
            "exchange": "NSE",
            "instrument_type": "EQ",
            "instrument_key": KEY,
            "trading_symbol": "RELIANCE",
            "tick_size": 10.0,
            "lot_size": 1,
        }
    ]
    srv = FakeUpstox()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("NSE.json.gz"):
            return httpx.Response(200, content=gzip.compress(json.dumps(master).encode()))
        return srv(request)

    real = client_mod.UpstoxClient

    class Patched(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__("t", transport=httpx.MockTransport(handler), rate_limiter=False)

    monkeypatch.setattr(client_mod, "UpstoxClient", Patched)
    monkeypatch.chdir(tmp_path)
    p = argparse.ArgumentParser(prog="mixbot")
    venue_commands.add_parsers(p.add_subparsers(dest="command"))
    args = p.parse_args(
        ["data", "download", "--source", "upstox", "RELIANCE", "--interval", "1m",
         "--from", "2025-01-02", "--to", "2025-01-03", "--out", "exports"]
    )  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "NSE_EQ|INE002A01018" in out and "750" in out
    assert (tmp_path / "data/upstox/candles/NSE_EQ_INE002A01018/minutes1.csv").is_file()
    assert (tmp_path / "data/upstox/instruments/NSE.json.gz").is_file()
    exported = load_bars(tmp_path / "exports" / "RELIANCE_minutes1.csv").frame
    assert len(exported) == 750


# -- integration: the local Upstox simulator with real data (skipped when unavailable) ----------


# `sim` and `sim_env` fixtures: tests/venues/upstox/conftest.py


def test_sim_minutes_match_the_file(sim_env, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime.fromtimestamp(sim_env.now_ms() / 1000, dt.UTC)  # the simulated clock
    src = data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt"
    want = load_bars(src).frame
    want = want[(want.index >= "2019-01-01") & (want.index < "2019-02-01")]
    with UpstoxClient() as c:
        got = fetch_bars(
            c, "NSE_FO|35005", "1m", "2019-01-01", "2019-01-31", cache_dir=tmp_path, now=now
        )
        again = fetch_bars(
            c, "NSE_FO|35005", "1m", "2019-01-01", "2019-01-31", cache_dir=tmp_path, now=now
        )
        daily = fetch_bars(
            c, "NSE_EQ|INE002A01018", "1d", "2018-06-01", "2019-02-28", cache=False, now=now
        )
        m30 = fetch_bars(c, "NSE_FO|35005", "30m", "2019-01-02", "2019-01-02", cache=False, now=now)
    # Upstox labels candles by START; mixbot's bars (and the file) by END: same bars back
    pd.testing.assert_frame_equal(got, want, check_names=False, check_freq=False)
    pd.testing.assert_frame_equal(again, got)
    dwant = load_bars(data_dir / "nse_daily" / "RELIANCE.csv").frame
    dwant = dwant[(dwant.index >= "2018-06-01") & (dwant.index < "2019-03-01")]
    pd.testing.assert_index_equal(daily.index, dwant.index, check_names=False)
    assert daily["close"].to_numpy() == pytest.approx(dwant["close"].to_numpy())
    assert m30.index[0] == pd.Timestamp("2019-01-02 04:15")  # 09:15-09:45 IST -> 09:45
    day = want[(want.index >= "2019-01-02") & (want.index < "2019-01-03")]
    first = day[day.index <= "2019-01-02 04:15"]
    assert m30["high"].iloc[0] == first["high"].max()
    assert m30["volume"].iloc[0] == first["volume"].sum()

"""The Yahoo download: incremental cache (requests counted at the simulator), faults give
retries and clear errors, and ``mixbot data download --source yahoo`` fills the cache."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from yahoo_rig import DAILY, ist

from mixbot.cli import main
from mixbot.errors import ConfigError
from mixbot.feeds.loaders import load_bars
from mixbot.venues.yahoo.client import ChartClient, YahooError, YahooRateLimited, YahooUnavailable
from mixbot.venues.yahoo.data import exchange_now, fetch_bars

D = dt.date.fromisoformat


def client(waits: list[float] | None = None) -> ChartClient:
    """A client without a rate limit whose retry waits are recorded, not slept."""
    got = waits if waits is not None else []
    return ChartClient(sleep=got.append, retry_waits=(1.0, 2.0, 4.0))


def test_cache_is_incremental(make_sim: Any, data_dir: Path) -> None:
    sim = make_sim("2015-01-01", "2019-03-29", minute=False)
    sim.clock.set_time(ist("2019-03-01", "12:00"))
    c = client()
    now = exchange_now(c, "RELIANCE.NS")
    assert now == dt.datetime(2019, 3, 1, 6, 30)
    first = fetch_bars(c, "RELIANCE.NS", "1d", D("2015-01-01"), None, now=now)
    ranged = sim.chart_requests("1d")
    assert len(ranged) == 2  # 2015..2019-02-28 in one 5-year request, then today's
    file = load_bars(data_dir / DAILY).frame
    want = file.loc["2015-01-01":"2019-02-28 23:59"]
    assert list(first.index) == list(want.index)  # today's bar (in progress) left out
    assert (first["close"].to_numpy() == want["close"].to_numpy()).all()
    meta = json.loads(Path("data/yahoo/candles/RELIANCE.NS/days1.json").read_text())
    assert meta["covered"] == [["2015-01-01", "2019-02-28"]]

    # a week later: only the missing dates are asked (plus the day in progress)
    sim.clock.set_time(ist("2019-03-08", "16:00"))
    now = exchange_now(c, "RELIANCE.NS")
    second = fetch_bars(c, "RELIANCE.NS", "1d", D("2015-01-01"), None, now=now)
    new = sim.chart_requests("1d")[len(ranged) :]
    assert len(new) == 2
    p1 = dt.datetime.fromtimestamp(new[0][2], dt.UTC)
    assert p1.date() == D("2019-02-28")  # midnight IST of 2019-03-01 = 18:30 UTC the day before
    assert second.index[-1] == dt.datetime(2019, 3, 8, 10, 0)  # closed at 15:30 IST
    assert len(second) == len(first) + 5  # 2019-03-01 .. 03-08 (03-04 is a holiday)

    # the same again: nothing but today's bar is requested
    before = len(sim.chart_requests("1d"))
    third = fetch_bars(c, "RELIANCE.NS", "1d", D("2015-01-01"), D("2019-03-07"), now=now)
    assert len(sim.chart_requests("1d")) == before
    assert third.index[-1] == dt.datetime(2019, 3, 7, 10, 0)


def test_intraday_limits_are_refused_clearly(make_sim: Any) -> None:
    sim = make_sim("2019-01-01", "2019-03-29", daily=False)
    sim.clock.set_time(ist("2019-03-20", "12:00"))
    c = client()
    now = exchange_now(c, "BANKNIFTY.NS")
    with pytest.raises(ConfigError, match="last 29 days only"):
        fetch_bars(c, "BANKNIFTY.NS", "1m", D("2019-01-01"), None, now=now)
    bars = fetch_bars(c, "BANKNIFTY.NS", "1m", D("2019-03-05"), D("2019-03-19"), now=now)
    assert len(sim.chart_requests("1m")) == 3  # 7-day requests: 05..11, 12..18, 19
    assert bars.index[0] == dt.datetime(2019, 3, 5, 3, 46)  # 09:16 IST, the first bar's END
    with pytest.raises(YahooError, match="Only 8 days worth of 1m"):
        c.chart("BANKNIFTY.NS", "1m", dt.datetime(2019, 3, 1), dt.datetime(2019, 3, 12))
    with pytest.raises(YahooError, match="no such symbol|delisted"):
        c.chart("NOPE.NS", "1d", dt.datetime(2019, 3, 1), dt.datetime(2019, 3, 12))


def test_faults_are_retried_then_reported(make_sim: Any) -> None:
    sim = make_sim("2019-01-01", "2019-03-29", minute=False)
    sim.clock.set_time(ist("2019-03-20", "12:00"))
    a, b = dt.datetime(2019, 3, 1), dt.datetime(2019, 3, 9)
    waits: list[float] = []
    c = client(waits)
    # yfinance retries a refused request once itself (the other cookie strategy): 3 x 429
    # is one retry of ours
    sim.ctx.faults.set(rate_limit=3)
    assert len(c.chart("RELIANCE.NS", "1d", a, b).bars) == 5  # 03-04 a holiday
    assert waits == [1.0]
    sim.ctx.faults.set(rate_limit=100)
    with pytest.raises(YahooRateLimited, match="429"):
        c.chart("RELIANCE.NS", "1d", a, b)
    assert waits == [1.0, 1.0, 2.0, 4.0]
    sim.ctx.faults.set(rate_limit=0, server_errors=100)
    with pytest.raises(YahooUnavailable, match="DOWN|right back|JSON|Expecting"):
        c.chart("RELIANCE.NS", "1d", a, b)
    sim.ctx.faults.set(server_errors=0, empty=1)
    assert c.chart("RELIANCE.NS", "1d", a, b).bars.empty  # an empty answer is no bars...
    sim.ctx.faults.set(empty=1)
    now = exchange_now(c, "RELIANCE.NS")
    sim.ctx.faults.set(empty=1)
    got = fetch_bars(c, "RELIANCE.NS", "1d", D("2019-01-01"), D("2019-03-19"), now=now)
    assert got.empty
    meta = json.loads(Path("data/yahoo/candles/RELIANCE.NS/days1.json").read_text())
    assert meta["covered"] == []  # ...and is not cached as covered: asked again next time
    got = fetch_bars(c, "RELIANCE.NS", "1d", D("2019-01-01"), D("2019-03-19"), now=now)
    assert len(got) > 40


def test_cli_download_fills_the_cache(make_sim: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_sim("2018-01-01", "2019-03-29", minute=False)
    sim.clock.set_time(ist("2019-03-20", "16:00"))
    code = main(["data", "download", "--source", "yahoo", "RELIANCE.NS", "--from", "2018-01-01",
                 "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "split- and bonus-adjusted" in out + err
    assert "RELIANCE.NS 1d" in out and "daily" in out  # the quality report
    cached = load_bars(Path("data/yahoo/candles/RELIANCE.NS/days1.csv"))
    assert cached.frame.index[-1] == dt.datetime(2019, 3, 19, 10, 0)
    code = main(["data", "download", "--source", "yahoo", "NOPE.NS", "--from", "2018-01-01",
                 "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1 and "NOPE.NS" in out + err


def test_feed_test_command(make_sim: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``mixbot feed-test --source yahoo``: states, the warm-up bars, a summary, status 0
    (the simulator's clock stands still: the bars are the warm-up's, whatever the speed)."""
    sim = make_sim("2019-01-02", "2019-01-04", daily=False)
    sim.clock.set_time(ist("2019-01-03", "12:02"))
    code = main(["feed-test", "--source", "yahoo", "BANKNIFTY.NS", "--interval", "5m",
                 "--lookback", "4", "--seconds", "10"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    bars = [line for line in out.splitlines() if line.startswith("bar ")]
    assert [b.split()[2] for b in bars] == ["11:45", "11:50", "11:55", "12:00"]
    assert "state   LIVE" in out and "done: 4 bars" in out

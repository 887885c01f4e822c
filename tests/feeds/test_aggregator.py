"""BarAggregator on real data, against an independent pandas groupby of bucket ids.

Buckets are counted from the session open (09:15 IST) and labelled by their END time:
1-minute bars ending 09:16..09:20 form the 5-minute bar ending 09:20. The last bucket of
the day ends at the session close (15:30) even when partial.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.feeds.aggregator import BarAggregator
from mixbot.feeds.series import prepare_series

IST = "Asia/Kolkata"
OPEN, CLOSE = 9 * 60 + 15, 15 * 60 + 30


@pytest.fixture(scope="module")
def minute_frame(data_dir: Path) -> pd.DataFrame:
    s = prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt",
        interval_minutes=1,
        date_from="2019-03-01",
        date_to="2019-03-31",
        aggregate=False,
    )
    df = pd.DataFrame(
        {"open": s.open, "high": s.high, "low": s.low, "close": s.close, "volume": s.volume},
        index=pd.DatetimeIndex(s.end),
    )
    local = df.index.tz_localize("UTC").tz_convert(IST)
    df["day"] = local.date
    df["m"] = local.hour * 60 + local.minute
    # every day of this month has its 15:30 bar, so later (post-close) prints come after
    # the last bucket was emitted and are dropped
    assert (df.groupby("day")["m"].apply(lambda m: (m == CLOSE).any())).all()
    assert (df["m"] > CLOSE).any()
    return df


def reference(df: pd.DataFrame, interval: int) -> pd.DataFrame:
    """Independent bucketing: id = ceil((end - open) / interval), clipped to the session."""
    d = df[df["m"] <= CLOSE].copy()
    if interval >= 1440:
        d["k"] = 0
        d["end_min"] = CLOSE
    else:
        last_k = -(-(CLOSE - OPEN) // interval)
        d["k"] = np.clip(np.ceil((d["m"] - OPEN) / interval), 1, last_k).astype(int)
        d["end_min"] = np.minimum(OPEN + d["k"] * interval, CLOSE)
    g = d.groupby(["day", "k"], sort=True)
    out = g.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        end_min=("end_min", "first"),
    ).reset_index()
    ends = [
        pd.Timestamp(dt.datetime.combine(day, dt.time(e // 60, e % 60)), tz=IST)
        .tz_convert("UTC")
        .tz_localize(None)
        for day, e in zip(out["day"], out["end_min"])
    ]
    return out.set_index(pd.DatetimeIndex(ends))[["open", "high", "low", "close", "volume"]]


def run_bars(df: pd.DataFrame, interval: int, tz: str = IST) -> pd.DataFrame:
    """Feed end-labelled bars as the replay feed does (emit a bucket once complete)."""
    agg = BarAggregator(interval, OPEN, CLOSE, tz)
    rows = []
    for t, o, h, lo, c, v in zip(
        df.index.to_pydatetime(), df["open"], df["high"], df["low"], df["close"], df["volume"]
    ):
        done = agg.add_bar(t, o, h, lo, c, v)
        if agg.bar_is_complete(t):
            done += agg.flush()
        rows += done
    rows += agg.flush()
    return frame_of(rows)


def frame_of(rows) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.DataFrame(
        [(b.open, b.high, b.low, b.close, b.volume) for b in rows],
        index=pd.DatetimeIndex([b.end for b in rows]),
        columns=["open", "high", "low", "close", "volume"],
    )


@pytest.mark.parametrize("interval", [5, 15, 60])
def test_buckets_match_pandas_groupby(minute_frame: pd.DataFrame, interval: int) -> None:
    want = reference(minute_frame, interval)
    got = run_bars(minute_frame, interval)
    pd.testing.assert_frame_equal(got, want, check_freq=False, check_names=False)
    assert got.index.is_unique


@pytest.mark.parametrize("interval", [5, 15, 60, 1440])
def test_prepare_series_uses_the_same_buckets(
    data_dir: Path, minute_frame: pd.DataFrame, interval: int
) -> None:
    s = prepare_series(
        data_dir / "nse_1min/BANKNIFTY_F1_2019H1.txt",
        interval_minutes=interval,
        date_from="2019-03-01",
        date_to="2019-03-31",
    )
    want = reference(minute_frame, interval)
    assert np.array_equal(s.end, want.index.to_numpy().astype("datetime64[us]"))
    for col in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(s, col), want[col].to_numpy()), col


def test_first_five_minute_bar_is_0916_to_0920(minute_frame: pd.DataFrame) -> None:
    got = run_bars(minute_frame, 5)
    day = minute_frame["day"].iloc[0]
    first = got.index[0].tz_localize("UTC").tz_convert(IST)
    assert (first.date(), first.hour, first.minute) == (day, 9, 20)
    src = minute_frame[(minute_frame["day"] == day) & (minute_frame["m"] <= 9 * 60 + 20)]
    assert list(src["m"]) == [556, 557, 558, 559, 560]  # 09:16 .. 09:20
    row = got.iloc[0]
    assert row["open"] == src["open"].iloc[0] and row["close"] == src["close"].iloc[-1]
    assert row["high"] == src["high"].max() and row["low"] == src["low"].min()
    assert row["volume"] == src["volume"].sum()


def test_last_partial_hour_ends_at_close(minute_frame: pd.DataFrame) -> None:
    got = run_bars(minute_frame, 60)
    local = got.index.tz_localize("UTC").tz_convert(IST)
    ends = sorted(set(zip(local.hour, local.minute)))
    assert ends == [(10, 15), (11, 15), (12, 15), (13, 15), (14, 15), (15, 15), (15, 30)]
    last = got[(local.hour == 15) & (local.minute == 30)]
    first_day = minute_frame["day"].iloc[0]
    src = minute_frame[
        (minute_frame["day"] == first_day)
        & (minute_frame["m"] > 15 * 60 + 15)
        & (minute_frame["m"] <= CLOSE)
    ]
    assert len(src) <= 15
    assert last["open"].iloc[0] == src["open"].iloc[0]
    assert last["close"].iloc[0] == src["close"].iloc[-1]


def test_daily_bars(minute_frame: pd.DataFrame) -> None:
    got = run_bars(minute_frame, 1440)
    local = got.index.tz_localize("UTC").tz_convert(IST)
    assert list(local.date) == sorted(set(minute_frame["day"]))
    assert ((local.hour == 15) & (local.minute == 30)).all()
    g = minute_frame[minute_frame["m"] <= CLOSE].groupby("day")
    assert np.array_equal(got["high"].to_numpy(), g["high"].max().to_numpy())
    assert np.array_equal(got["close"].to_numpy(), g["close"].last().to_numpy())


@pytest.mark.parametrize("interval", [5, 15])
def test_ticks_and_bars_give_identical_bars(minute_frame: pd.DataFrame, interval: int) -> None:
    """Each 1-minute bar as four ticks inside its minute (open, low/high, high/low, close
    with all the volume) gives exactly the bars of the bar input."""
    agg = BarAggregator(interval, OPEN, CLOSE, IST)
    rows = []
    for t, o, h, lo, c, v in zip(
        minute_frame.index.to_pydatetime(),
        minute_frame["open"],
        minute_frame["high"],
        minute_frame["low"],
        minute_frame["close"],
        minute_frame["volume"],
    ):
        mid = (lo, h) if c >= o else (h, lo)
        for j, (p, q) in enumerate(((o, 0.0), (mid[0], 0.0), (mid[1], 0.0), (c, v))):
            rows += agg.add_tick(
                t - dt.timedelta(seconds=60) + dt.timedelta(seconds=7 + 15 * j), p, q
            )
        if agg.bar_is_complete(t):
            rows += agg.flush()
    rows += agg.flush()
    pd.testing.assert_frame_equal(frame_of(rows), run_bars(minute_frame, interval))
    assert agg.dropped > 0  # the post-close prints


def test_spy_trade_ticks(data_dir: Path) -> None:
    """Real SPY trades (New York session 09:30-16:00): 5-minute bars from ticks equal a
    pandas groupby of ``floor(seconds since open / 300) + 1`` (a tick on a boundary opens
    the next bucket), pre-open ticks in the first bucket, post-close ticks in the last."""
    raw = pd.read_csv(
        data_dir / "ticks/SPY_20131007_trades.csv", header=None, usecols=[0, 1, 2]
    ).to_numpy()
    ms, price, qty = raw[:, 0], raw[:, 1] / 10_000.0, raw[:, 2].astype(float)
    tz = "America/New_York"
    midnight = pd.Timestamp("2013-10-07", tz=tz).tz_convert("UTC").tz_localize(None)
    times = midnight + pd.to_timedelta(ms, unit="ms")
    agg = BarAggregator(5, 570, 960, tz)
    rows = []
    for t, p, q in zip(times.to_pydatetime(), price.tolist(), qty.tolist()):
        rows += agg.add_tick(t, p, q)
    rows += agg.flush()
    got = frame_of(rows)
    since = (ms / 1000.0 - 570 * 60) / 60.0
    k = np.clip(np.floor(since / 5) + 1, 1, 78).astype(int)
    df = pd.DataFrame({"k": k, "p": price, "q": qty})
    g = df.groupby("k")
    assert np.array_equal(got["open"].to_numpy(), g["p"].first().to_numpy())
    assert np.array_equal(got["high"].to_numpy(), g["p"].max().to_numpy())
    assert np.array_equal(got["low"].to_numpy(), g["p"].min().to_numpy())
    assert np.array_equal(got["close"].to_numpy(), g["p"].last().to_numpy())
    assert np.allclose(got["volume"].to_numpy(), g["q"].sum().to_numpy())
    want_end = midnight + pd.to_timedelta(570 + 5 * g["p"].first().index.to_numpy(), unit="m")
    assert np.array_equal(got.index.to_numpy(), want_end.to_numpy())
    assert len(got) == 78

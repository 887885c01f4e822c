"""Upstox V3 protocol: request frames, subscription limits, FeedResponse decoding."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.venues.upstox.ws.protocol import (
    COMBINED_LIMITS,
    INDIVIDUAL_LIMITS,
    DecodeError,
    FeedDecoder,
    ProtocolError,
    SubscriptionLimitError,
    Subscriptions,
    Tick,
    build_request,
    check_limits,
    subscribe_request,
    unsubscribe_request,
)

KEY = "NSE_FO|46923"
T0 = 1546314360000  # 2019-01-01 03:46:00 UTC = 09:16 IST


def full_frame(key: str, ltp: float, ltt: int, ltq: int, vtt: int, kind: int = 1) -> bytes:
    r = pb.FeedResponse(type=kind, currentTs=ltt + 5)
    m = r.feeds[key].fullFeed.marketFF
    m.ltpc.ltp, m.ltpc.ltt, m.ltpc.ltq, m.ltpc.cp = ltp, ltt, ltq, 27000.0
    m.vtt = vtt
    m.marketOHLC.ohlc.add(interval="I1", open=1, high=2, low=0.5, close=1.5, vol=3, ts=ltt)
    return r.SerializeToString()


def test_requests_are_binary_json_in_v3_shape() -> None:
    raw = subscribe_request([KEY, KEY, "NSE_INDEX|Nifty Bank"], "full", guid="g1")
    assert isinstance(raw, bytes)
    assert json.loads(raw) == {
        "guid": "g1",
        "method": "sub",
        "data": {"instrumentKeys": [KEY, "NSE_INDEX|Nifty Bank"], "mode": "full"},
    }
    un = json.loads(unsubscribe_request([KEY]))
    assert un["method"] == "unsub" and "mode" not in un["data"]
    ch = json.loads(build_request("change_mode", [KEY], "ltpc"))
    assert ch["method"] == "change_mode" and ch["data"]["mode"] == "ltpc" and ch["guid"]
    with pytest.raises(ProtocolError, match="unknown mode"):
        subscribe_request([KEY], "quote")
    with pytest.raises(ProtocolError, match="no instrument keys"):
        subscribe_request([], "full")
    with pytest.raises(ProtocolError, match="a mode is required"):
        build_request("change_mode", [KEY])


def test_limits_individual_and_combined() -> None:
    assert INDIVIDUAL_LIMITS == {"ltpc": 5000, "option_greeks": 3000, "full": 2000, "full_d30": 50}
    assert COMBINED_LIMITS["ltpc"] == 2000 and COMBINED_LIMITS["full"] == 1500
    check_limits({"ltpc": 5000})
    with pytest.raises(SubscriptionLimitError, match="at most 5000 .* 'ltpc' .*individual.* 5001"):
        check_limits({"ltpc": 5001})
    check_limits({"full": 2000})
    with pytest.raises(SubscriptionLimitError, match="at most 1500 .* 'full' .*combined"):
        check_limits({"full": 1501, "ltpc": 1})
    with pytest.raises(SubscriptionLimitError, match="'full_d30'"):
        check_limits({"full_d30": 51})

    subs = Subscriptions()
    subs.subscribe([f"NSE_EQ|{i}" for i in range(2000)], "ltpc")
    subs.subscribe([f"NSE_FO|{i}" for i in range(1500)], "full")
    with pytest.raises(SubscriptionLimitError):
        subs.subscribe(["NSE_EQ|x"], "ltpc")  # 2001 ltpc with full also in use
    assert subs.counts() == {"ltpc": 2000, "full": 1500}  # unchanged by the refusal
    subs.unsubscribe([f"NSE_FO|{i}" for i in range(1500)])
    subs.subscribe([f"NSE_EQ|y{i}" for i in range(3000)], "ltpc")  # alone again: 5000
    frames = subs.resubscribe_requests()
    assert len(frames) == 1 and len(json.loads(frames[0])["data"]["instrumentKeys"]) == 5000


def test_decode_full_roundtrip_and_vtt_quantities() -> None:
    d = FeedDecoder()
    f = d.decode(full_frame(KEY, 27300.2, T0 - 59000, 20, 1000, kind=0))
    assert f.type == 0 and f.current_ms == T0 - 59000 + 5 and f.market is None
    (t,) = f.ticks
    assert isinstance(t, Tick) and t.instrument_key == KEY
    assert t.ts_utc == dt.datetime(2019, 1, 1, 3, 45, 1)
    assert t.price == 27300.2 and t.vtt == 1000
    assert t.qty == 0  # first snapshot only sets the baseline
    t2 = d.decode(full_frame(KEY, 27310.0, T0 - 30000, 20, 1075)).ticks[0]
    assert t2.qty == 75  # vtt difference, not ltq (conflated trades)
    t3 = d.decode(full_frame(KEY, 27311.0, T0 + 86400000, 5, 40)).ticks[0]
    assert t3.qty == 40  # vtt went down: a new day, counts in full


def test_decode_ltpc_index_market_info() -> None:
    d = FeedDecoder()
    r = pb.FeedResponse(type=1, currentTs=T0)
    r.feeds[KEY].ltpc.CopyFrom(pb.LTPC(ltp=100.5, ltt=T0, ltq=25, cp=99.0))
    r.feeds["NSE_INDEX|Nifty Bank"].fullFeed.indexFF.ltpc.CopyFrom(pb.LTPC(ltp=27000, ltt=T0))
    r.feeds["NSE_FO|1"].ltpc.CopyFrom(pb.LTPC(ltp=1.0, ltt=0))  # never traded: skipped
    ticks = sorted(d.decode(r.SerializeToString()).ticks)
    assert [(t.instrument_key, t.price, t.qty) for t in ticks] == [
        ("NSE_FO|46923", 100.5, 25.0),
        ("NSE_INDEX|Nifty Bank", 27000.0, 0.0),
    ]
    # the same trade again (a depth-only update in ltpc mode) adds no volume
    again = d.decode(r.SerializeToString()).ticks
    assert {t.instrument_key: t.qty for t in again}[KEY] == 0.0

    g = pb.FeedResponse(type=1, currentTs=T0)
    g.feeds["NSE_FO|2"].firstLevelWithGreeks.ltpc.CopyFrom(pb.LTPC(ltp=5, ltt=T0, ltq=50))
    g.feeds["NSE_FO|2"].firstLevelWithGreeks.vtt = 500
    assert d.decode(g.SerializeToString()).ticks[0].vtt == 500

    mi = pb.FeedResponse(type=2, currentTs=T0)
    mi.marketInfo.segmentStatus["NSE_FO"] = pb.NORMAL_CLOSE
    mi.marketInfo.segmentStatus["NSE_EQ"] = pb.NORMAL_OPEN
    f = d.decode(mi.SerializeToString())
    assert f.type == 2 and not f.ticks and f.market is not None
    assert f.market.status_of(KEY) == "NORMAL_CLOSE"
    assert f.market.status_of("NSE_EQ|INE002A01018") == "NORMAL_OPEN"
    assert f.market.status_of("BSE_EQ|1") is None
    assert f.market.ts_utc == dt.datetime(2019, 1, 1, 3, 46)


@pytest.mark.parametrize("junk", [b"\xff\xff\xff\xff", b"\x12\x80", b"\x0a"])
def test_garbage_and_truncated_raise_decode_error(junk: bytes) -> None:
    with pytest.raises(DecodeError):
        FeedDecoder().decode(junk)


def test_truncated_real_frame_raises() -> None:
    data = full_frame(KEY, 27300.2, T0, 20, 1000)
    with pytest.raises(DecodeError):
        FeedDecoder().decode(data[: len(data) // 2])

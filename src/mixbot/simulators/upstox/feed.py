"""Live instrument state and its encoding as Upstox V3 feed protobuf messages.

Messages are ``FeedResponse`` of ``upstox_client.feeder.proto.MarketDataFeedV3_pb2`` (the
official SDK's schema), serialised to bytes and sent as BINARY websocket frames:

* ``type=market_info``: ``marketInfo.segmentStatus`` maps segment (``NSE_EQ``, ``NSE_FO``,
  ``NSE_INDEX``) to a ``MarketStatus`` name; ``currentTs`` = simulated now, ms UTC epoch;
* ``type=initial_feed``: the snapshot of each newly subscribed instrument;
* ``type=live_feed``: one instrument per trade tick.

Per mode a ``Feed`` carries (prices INR, quantities in units, times ms since epoch UTC):

* ``ltpc``: ``ltpc`` {ltp, ltt, ltq, cp = previous session's close};
* ``full`` / ``full_d30``: ``fullFeed.marketFF`` {ltpc, marketLevel (5 / 30 synthetic
  bid/ask levels around ltp), marketOHLC [1d (today so far, ts = 00:00 IST), I1 (previous
  completed minute), I1 (current minute so far); ts = candle START], atp (VWAP of today),
  vtt (volume traded today), oi 0, tbq/tsq (synthetic)}, ``requestMode`` full_d5/full_d30;
* ``option_greeks``: ``firstLevelWithGreeks`` {ltpc, firstDepth, zero greeks, vtt}.

The I1 candle built from the ticks of a minute equals the data file's 1-minute bar once the
minute's last tick is out; the "previous" I1 candle is exactly the file's bar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from upstox_client.feeder.proto import MarketDataFeedV3_pb2 as pb

from mixbot.simulators.upstox.instruments import IST, Instrument
from mixbot.simulators.upstox.ticks import Tick

MODES = ("ltpc", "full", "option_greeks", "full_d30")
_REQUEST_MODE = {"ltpc": 0, "full": 1, "option_greeks": 2, "full_d30": 3}


@dataclass
class Candle:
    """An OHLCV candle; ``start_ms`` its start, ms epoch UTC; prices INR; volume units."""

    start_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: int

    def add(self, price: float, qty: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty


@dataclass
class InstState:
    """What the market looks like for one instrument at the simulated now."""

    inst: Instrument
    cp: float  # previous session close, INR
    ltp: float = 0.0
    ltt: int = 0
    ltq: int = 0
    day: Candle | None = None
    minute: Candle | None = None
    prev_minute: Candle | None = None
    turnover: float = 0.0
    ticks_today: int = 0
    _day_start: int = 0

    def new_day(self, day: dt.date) -> None:
        """Roll to ``day``: yesterday's last price becomes ``cp``; today's counters reset."""
        if self.day is not None:
            self.cp = self.ltp
        self.day = None
        self.minute = None
        self.prev_minute = None
        self.turnover = 0.0
        self.ticks_today = 0
        if self.ltp == 0.0:
            self.ltp = self.cp
        self._day_start = int(dt.datetime.combine(day, dt.time(0), IST).timestamp() * 1000)

    def apply(self, t: Tick, minute_ms: int = 60_000) -> None:
        """Update with one trade tick."""
        self.ltp, self.ltt, self.ltq = t.price, t.ltt, t.qty
        self.turnover += t.price * t.qty
        self.ticks_today += 1
        if self.day is None:
            self.day = Candle(self._day_start, t.price, t.price, t.price, t.price, t.qty)
        else:
            self.day.add(t.price, t.qty)
        start = t.ltt - t.ltt % minute_ms
        if self.minute is None or self.minute.start_ms != start:
            if self.minute is not None:
                self.prev_minute = self.minute
            self.minute = Candle(start, t.price, t.price, t.price, t.price, t.qty)
        else:
            self.minute.add(t.price, t.qty)

    # ------------------------------------------------------------------ encoding

    def _ltpc(self) -> pb.LTPC:
        return pb.LTPC(ltp=self.ltp, ltt=self.ltt, ltq=self.ltq, cp=self.cp)

    def _levels(self, n: int) -> list[pb.Quote]:
        tick = self.inst.tick
        lot = max(1, self.inst.lot_size)
        out = []
        for i in range(n):
            q = lot * (1 + (self.ltt // 7 + 3 * i) % 9)
            out.append(
                pb.Quote(
                    bidQ=q,
                    bidP=round(self.ltp - tick * i, 2),
                    askQ=lot * (1 + (self.ltt // 11 + 5 * i) % 9),
                    askP=round(self.ltp + tick * (i + 1), 2),
                )
            )
        return out

    @staticmethod
    def _ohlc(interval: str, c: Candle) -> pb.OHLC:
        return pb.OHLC(
            interval=interval,
            open=c.open,
            high=c.high,
            low=c.low,
            close=c.close,
            vol=c.volume,
            ts=c.start_ms,
        )

    def feed(self, mode: str) -> pb.Feed:
        """This state as a ``Feed`` in ``mode`` (one of :data:`MODES`)."""
        vtt = self.day.volume if self.day else 0
        if mode == "ltpc":
            return pb.Feed(ltpc=self._ltpc(), requestMode=_REQUEST_MODE[mode])
        if mode == "option_greeks":
            first = self._levels(1)[0]
            return pb.Feed(
                firstLevelWithGreeks=pb.FirstLevelWithGreeks(
                    ltpc=self._ltpc(), firstDepth=first, optionGreeks=pb.OptionGreeks(), vtt=vtt
                ),
                requestMode=_REQUEST_MODE[mode],
            )
        ohlc = []
        if self.day is not None:
            ohlc.append(self._ohlc("1d", self.day))
        if self.prev_minute is not None:
            ohlc.append(self._ohlc("I1", self.prev_minute))
        if self.minute is not None:
            ohlc.append(self._ohlc("I1", self.minute))
        depth = self._levels(30 if mode == "full_d30" else 5)
        mff = pb.MarketFullFeed(
            ltpc=self._ltpc(),
            marketLevel=pb.MarketLevel(bidAskQuote=depth),
            marketOHLC=pb.MarketOHLC(ohlc=ohlc),
            atp=round(self.turnover / vtt, 2) if vtt else self.ltp,
            vtt=vtt,
            oi=0.0,
            tbq=float(sum(q.bidQ for q in depth)),
            tsq=float(sum(q.askQ for q in depth)),
        )
        return pb.Feed(fullFeed=pb.FullFeed(marketFF=mff), requestMode=_REQUEST_MODE[mode])


def feed_message(kind: int, feeds: dict[str, pb.Feed], now_ms: int) -> bytes:
    """A serialised ``FeedResponse`` (``kind``: pb.initial_feed or pb.live_feed)."""
    msg = pb.FeedResponse(type=kind, currentTs=now_ms)
    for key, f in feeds.items():
        msg.feeds[key].CopyFrom(f)
    return bytes(msg.SerializeToString())


def market_info_message(statuses: dict[str, str], now_ms: int) -> bytes:
    """A serialised ``FeedResponse`` of type ``market_info``."""
    msg = pb.FeedResponse(type=pb.market_info, currentTs=now_ms)
    for seg, status in statuses.items():
        msg.marketInfo.segmentStatus[seg] = pb.MarketStatus.Value(status)
    return bytes(msg.SerializeToString())

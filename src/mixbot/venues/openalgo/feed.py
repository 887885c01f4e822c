"""``OpenAlgoFeed``: OpenAlgo's market-data websocket (quote mode) as a Backtrader live feed.

Flow: connect -> ``authenticate`` (API key) -> ``subscribe`` (mode 2, quote) -> warm-up
(``history``, 1-minute bars, pushed as DELAYED) -> LIVE. The socket (websocket-client, the
library the official ``openalgo`` client uses) speaks the JSON protocol the official
client speaks (:mod:`openalgo.feed`); it is our own loop so that it reconnects and sees the
server's close code.

Bars: a quote whose cumulative day ``volume`` rose is a TRADE of that many units at
``ltp``; a quote with the volume unchanged only moves the exchange clock. Trades go through
the project's one aggregator (:class:`~mixbot.feeds.aggregator.BarAggregator`) into
1-minute bars, and those into ``interval_minutes`` bars (as a file backtest does). A minute
closes when the exchange clock (the quotes' ``timestamp``, epoch ms UTC) reaches its end;
so a quiet market closes it at the next quote. The exchange clock never comes from the
local wall clock.

End: the server closing the socket normally (code 1000, the simulator after its replay)
ends the feed (bars in progress are flushed); any other close reconnects after
``backoff`` seconds (up to ``backoff_max``). A refused API key ends the feed and raises
:class:`~mixbot.venues.openalgo.config.OpenAlgoError` from ``cerebro.run()``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

from mixbot.feeds.aggregator import Bar, BarAggregator
from mixbot.feeds.live import LiveFeed
from mixbot.venues.openalgo.config import OpenAlgoError

log = logging.getLogger(__name__)
_EPOCH = dt.datetime(1970, 1, 1)


def ms_to_utc(ms: int) -> dt.datetime:
    """Naive UTC datetime of epoch ms."""
    return _EPOCH + dt.timedelta(milliseconds=int(ms))


class OpenAlgoFeed(LiveFeed):
    """Live feed of one OpenAlgo symbol (see the module docstring).

    Params:
        symbol, exchange: OpenAlgo symbol (``RELIANCE``) and exchange (``NSE``, ``NFO``...).
        ws_url, api_key: the websocket and key (the key is never logged).
        rest: an :class:`~mixbot.venues.openalgo.config.OpenAlgoRest` (history), or None.
        interval_minutes: strategy bar size (1440 = daily).
        session_open_min, session_close_min, market_tz: session bounds (minutes after local
            midnight) and their IANA zone (NSE: 555, 930, Asia/Kolkata).
        lookback_bars: strategy bars of history pushed (DELAYED) before going LIVE.
        backoff, backoff_max: reconnect delays, seconds.
    """

    params = (  # type: ignore[assignment]
        ("symbol", None),
        ("exchange", "NSE"),
        ("ws_url", "ws://127.0.0.1:8765"),
        ("api_key", None),
        ("rest", None),
        ("interval_minutes", 1),
        ("session_open_min", 555),
        ("session_close_min", 930),
        ("market_tz", "Asia/Kolkata"),
        ("lookback_bars", 0),
        ("backoff", 1.0),
        ("backoff_max", 30.0),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        if not self.p.symbol:
            raise ValueError("OpenAlgoFeed: symbol is required")
        self.error: BaseException | None = None
        self.last_price = 0.0  # LTP, INR (read by the broker)
        self.exchange_now: dt.datetime | None = None  # exchange clock, naive UTC
        self.consumed = 0  # bars the engine had processed when it last asked for data
        self._consumed_cond = threading.Condition()
        self.pushed = 0  # bars queued
        self.quote_ms = 0  # exchange time of the last quote fully handled, epoch ms
        self.ticks_seen = 0
        p = self.p
        self._agg1 = BarAggregator(1, p.session_open_min, p.session_close_min, p.market_tz)
        self._aggN = BarAggregator(
            p.interval_minutes, p.session_open_min, p.session_close_min, p.market_tz
        )
        self._volume: float | None = None
        self._last_min: dt.datetime | None = None
        self._ws: Any = None
        self._thread: threading.Thread | None = None
        self._ended = False
        self._warm = False

    # ------------------------------------------------------------------ engine side
    def wait_caught_up(self, ts_ms: int, timeout: float = 60.0) -> bool:
        """Block until the feed has handled every quote up to exchange time ``ts_ms`` (epoch
        ms) and the engine has processed every bar pushed so far (it asked for the next), or
        the feed ended; False after ``timeout`` s (tests step a simulator so, bar by bar)."""
        with self._consumed_cond:
            return self._consumed_cond.wait_for(
                lambda: self._ended or (self.quote_ms >= ts_ms and self.consumed >= self.pushed),
                timeout,
            )

    def push_bar(self, end_utc: Any, o: float, h: float, lo: float, c: float, v: float) -> bool:
        with self._consumed_cond:
            self.pushed += 1
        return super().push_bar(end_utc, o, h, lo, c, v)

    def _load(self) -> bool | None:
        with self._consumed_cond:
            self.consumed = self.bars_received
            self._consumed_cond.notify_all()
        got = super()._load()
        if got is False and self.error is not None:
            raise self.error
        return got

    def start_producer(self) -> None:
        self._thread = threading.Thread(target=self._run, name="openalgo-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        super().stop()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass

    # ------------------------------------------------------------------ socket
    def _run(self) -> None:
        import websocket

        delay = float(self.p.backoff)
        while not self.stopping and not self._ended:
            closed: dict[str, Any] = {}

            def on_close(ws: Any, code: Any, reason: Any, c: dict[str, Any] = closed) -> None:
                c.update(code=code, reason=reason)

            self._ws = websocket.WebSocketApp(
                self.p.ws_url,
                on_open=self._on_open,
                on_message=lambda ws, m: self._on_message(m),
                on_close=on_close,
            )
            self._ws.run_forever()
            if self.stopping or self._ended:
                break
            if closed.get("code") == 1000:
                log.info(
                    "OpenAlgo stream closed by the server (%s): feed ends", closed.get("reason")
                )
                self._finish()
                break
            log.warning("OpenAlgo stream lost (%s): reconnecting in %.1f s", closed, delay)
            self.push_status(self.CONNBROKEN)
            self._stop_event.wait(delay)
            delay = min(delay * 2, float(self.p.backoff_max))

    def _on_open(self, ws: Any) -> None:
        self.push_status(self.CONNECTED)
        ws.send(json.dumps({"action": "authenticate", "api_key": self.p.api_key}))

    def _on_message(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            log.warning("OpenAlgo stream: skipped a frame that is not JSON")
            return
        kind = msg.get("type")
        if kind == "auth":
            if msg.get("status") != "success":
                self.error = OpenAlgoError(
                    f"OpenAlgo websocket refused the API key: {msg.get('message')}"
                )
                self._finish()
                return
            self._ws.send(json.dumps({"action": "subscribe", "symbol": self.p.symbol,
                                      "exchange": self.p.exchange, "mode": 2, "depth": 5}))  # fmt: skip
        elif kind == "subscribe":
            subs = msg.get("subscriptions") or [{}]
            if subs[0].get("status") != "success":
                self.error = OpenAlgoError(
                    f"OpenAlgo refused the subscription of {self.p.exchange}:{self.p.symbol}: {subs[0].get('message') or msg.get('message')}"
                )
                self._finish()
        elif kind == "market_data" and msg.get("symbol") == self.p.symbol:
            self._on_quote(msg.get("data") or {})

    # ------------------------------------------------------------------ bars
    def _on_quote(self, d: dict[str, Any]) -> None:
        ts_ms = int(d.get("timestamp") or 0)
        if not ts_ms:
            return
        now = ms_to_utc(ts_ms)
        if not self._warm:
            self._warm = True
            self._warmup(now)
        self.exchange_now = now if self.exchange_now is None else max(self.exchange_now, now)
        ltp = float(d.get("ltp") or 0.0)
        vol = float(d.get("volume") or 0.0)
        prev = self._volume
        self._volume = vol
        traded = (
            vol - prev if prev is not None and vol >= prev else vol if prev is not None else 0.0
        )
        if prev is None:
            # the first quote: its cumulative volume is the day's so far; a trade only when
            # it is the bar's first print (its last_trade_quantity covers the volume)
            traded = vol if float(d.get("last_trade_quantity") or 0.0) >= vol > 0 else 0.0
        if ltp > 0:
            self.last_price = ltp
        if self._agg1.bar_is_complete(now):
            self._emit(self._agg1.flush())
        if traded > 0 and ltp > 0:
            self.ticks_seen += 1
            if self._last_min is None or now >= self._last_min:
                self._emit(self._agg1.add_tick(now, ltp, traded))
        if self._agg1.bar_is_complete(now):
            self._emit(self._agg1.flush())
        with self._consumed_cond:
            self.quote_ms = max(self.quote_ms, ts_ms)
            self._consumed_cond.notify_all()

    def _emit(self, minutes: list[Bar]) -> None:
        for b in minutes:
            if self._last_min is not None and b.end <= self._last_min:
                continue
            self._last_min = b.end
            done = self._aggN.add_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
            if self._aggN.bar_is_complete(b.end):
                done += self._aggN.flush()
            for bar in done:
                self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)

    def _warmup(self, now: dt.datetime) -> None:
        """Push ``lookback_bars`` strategy bars of history (DELAYED), then LIVE."""
        self.push_status(self.DELAYED)
        need = int(self.p.lookback_bars)
        if need > 0 and self.p.rest is not None:
            days = max(3, need * max(1, int(self.p.interval_minutes)) // 375 + 3)
            try:
                bars = history_minutes(self.p.rest, self.p.symbol, self.p.exchange, now, days)
            except OpenAlgoError as exc:
                log.warning("warm-up history unavailable: %s", exc)
                bars = []
            done: list[Bar] = []
            for b in bars:
                if b.end > now.replace(second=0, microsecond=0):
                    break
                self._last_min = b.end
                done += self._aggN.add_bar(b.end, b.open, b.high, b.low, b.close, b.volume)
                if self._aggN.bar_is_complete(b.end):
                    done += self._aggN.flush()
            for bar in done[-need:]:
                self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.push_status(self.LIVE)

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._emit(self._agg1.flush())
        for bar in self._aggN.flush():
            self.push_bar(bar.end, bar.open, bar.high, bar.low, bar.close, bar.volume)
        self.push_end()
        with self._consumed_cond:
            self._consumed_cond.notify_all()
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:  # noqa: BLE001
                pass


def history_minutes(
    rest: Any, symbol: str, exchange: str, now: dt.datetime, days: int
) -> list[Bar]:
    """1-minute bars of the ``days`` calendar days up to ``now`` (naive UTC) from OpenAlgo's
    ``history`` (its timestamps are bar STARTS; returned bars are END-labelled naive UTC).

    Raises:
        OpenAlgoError: the call failed.
    """
    import pandas as pd

    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    end_day = now.replace(tzinfo=dt.UTC).astimezone(ist).date()
    df = rest.call(
        "history", symbol=symbol, exchange=exchange, interval="1m",
        start_date=(end_day - dt.timedelta(days=days)).isoformat(), end_date=end_day.isoformat(),
    )  # fmt: skip
    if not isinstance(df, pd.DataFrame) or df.empty:
        return []
    out = []
    for ts, row in df.iterrows():
        start = pd.Timestamp(ts).tz_convert("UTC").tz_localize(None).to_pydatetime()
        out.append(Bar(start + dt.timedelta(minutes=1), float(row["open"]), float(row["high"]),
                       float(row["low"]), float(row["close"]), float(row["volume"])))  # fmt: skip
    return out

"""The simulator's HTTP routes (aiohttp): Yahoo's chart API, cookie, crumb, consent, control.

Every Yahoo host (``fc.yahoo.com``, ``query1``/``query2.finance.yahoo.com``,
``guce.yahoo.com``, ``consent.yahoo.com``) is this one server: the client's session rewrites
the scheme and host and keeps the path (:mod:`mixbot.venues.yahoo.hosts`).

* ``GET /`` (fc.yahoo.com): 404 with ``Set-Cookie: A3=...`` (what fc.yahoo.com does);
* ``GET /v1/test/getcrumb``: the crumb, ``text/plain``;
* ``GET /consent``, ``POST /v2/collectConsent``, ``GET /copyConsent``: the consent form
  yfinance's "csrf" cookie strategy walks through (a form with ``csrfToken``/``sessionId``);
* ``GET /v8/finance/chart/{symbol}?period1=&period2=`` or ``?range=`` with ``interval``
  (1m 2m 5m 15m 30m 60m 90m 1h 1d), ``includePrePost``, ``events``: the v8 chart JSON
  ``{"chart": {"result": [{"meta", "timestamp", "indicators": {"quote", "adjclose"}}],
  "error": null}}`` (see :func:`chart_json`); an unknown symbol is 404 ``Not Found`` "No data
  found, symbol may be delisted"; an intraday range Yahoo would refuse is 422
  ``Unprocessable Entity`` with Yahoo's wording (1m: 8 days a request, last 30 days; 2m-90m:
  last 60 days; 1h: last 730 days); a range without bars is a result without ``timestamp``;
* ``GET /_sim/status``, ``POST /_sim/faults`` (JSON ``{"rate_limit": K, "server_errors": K,
  "empty": K}``: the next K chart requests get 429 ``Too Many Requests`` / 503 Yahoo's "Will
  be right back" page / an empty result), ``POST /_sim/advance?seconds=S`` or ``?to=EPOCH``.

Shapes were taken from yfinance 1.7.0's parser (``yfinance/scrapers/history.py``,
``utils.parse_quotes``, ``format_history_metadata``) and from public chart answers; Yahoo
documents none of them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mixbot.simulators.yahoo.market import (
    CLOSE,
    IST,
    OPEN,
    ChartBars,
    SimClock,
    Ticker,
    at,
    daily_bars,
    intraday_bars,
    ist_date,
)

log = logging.getLogger(__name__)
INTERVALS = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
#: interval -> (days one request may span, days back from now it may start); Yahoo's
#: refusals as users report them (not documented by Yahoo)
LIMITS = {"1m": (8, 30), "60m": (None, 730), "1h": (None, 730)}
RANGES = {"1d": 1, "5d": 5, "1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731,
          "5y": 1827, "10y": 3653, "max": 40000}  # fmt: skip
DOWN_PAGE = "<html><body><h1>Will be right back...</h1></body></html>"
CRUMB = "SimCrumb0123"


@dataclass
class Faults:
    """Counters of pending faults (each chart request takes one); thread-safe."""

    rate_limit: int = 0
    server_errors: int = 0
    empty: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, **kw: int) -> None:
        with self._lock:
            for k, v in kw.items():
                if k not in ("rate_limit", "server_errors", "empty"):
                    raise ValueError(f"unknown fault {k!r}")
                setattr(self, k, int(v))

    def take(self) -> str | None:
        with self._lock:
            for k in ("rate_limit", "server_errors", "empty"):
                if getattr(self, k) > 0:
                    setattr(self, k, getattr(self, k) - 1)
                    return k
        return None


@dataclass
class Context:
    """What the handlers share: the tickers, the clock, faults and the request log."""

    tickers: dict[str, Ticker]
    clock: SimClock
    faults: Faults = field(default_factory=Faults)
    counts: Counter[str] = field(default_factory=Counter)
    #: every chart request: (symbol, interval, period1 or None, period2 or None, range or None)
    charts: list[tuple[str, str, int | None, int | None, str | None]] = field(default_factory=list)


CTX: web.AppKey[Context] = web.AppKey("ctx", Context)


def _error(status: int, code: str, description: str) -> web.Response:
    body = {"chart": {"result": None, "error": {"code": code, "description": description}}}
    return web.json_response(body, status=status)


def _period(tp_day: dt.date) -> dict[str, Any]:
    return {"timezone": "IST", "start": int(at(tp_day, OPEN)), "end": int(at(tp_day, CLOSE)),
            "gmtoffset": 19800}  # fmt: skip


def _meta(ctx: Context, t: Ticker, interval: str, bars: ChartBars, now: float) -> dict[str, Any]:
    day = ist_date(now)
    close_today = at(day, CLOSE)
    market_time = min(now, close_today) if ctx.clock.session_of(now) else now
    price = bars.c[-1] if bars.c else None
    return {
        "currency": "INR",
        "symbol": t.symbol,
        "exchangeName": "NSI",
        "fullExchangeName": "NSE",
        "instrumentType": "EQUITY",
        "firstTradeDate": int(at(ctx.clock.days[0], OPEN)),
        "regularMarketTime": int(market_time),
        "hasPrePostMarketData": False,
        "gmtoffset": 19800,
        "timezone": "IST",
        "exchangeTimezoneName": "Asia/Kolkata",
        "regularMarketPrice": price,
        "chartPreviousClose": bars.c[0] if bars.c else None,
        "priceHint": 2,
        "currentTradingPeriod": {k: _period(day) for k in ("pre", "regular", "post")},
        "dataGranularity": interval,
        "range": "",
        "validRanges": list(RANGES) + ["ytd"],
    }


def chart_json(ctx: Context, t: Ticker, interval: str, a: float, b: float) -> dict[str, Any]:
    """The chart answer for bars with START in ``[a, b)`` at the simulated now."""
    now = ctx.clock.now()
    if interval == "1d":
        bars = daily_bars(t, a, b, now)
    else:
        bars = intraday_bars(t, INTERVALS[interval], a, b, now)
    result: dict[str, Any] = {"meta": _meta(ctx, t, interval, bars, now)}
    if interval != "1d":
        days = sorted({ist_date(s) for s in bars.start})
        result["meta"]["tradingPeriods"] = [[_period(d)] for d in days]
    if bars.start:
        result["timestamp"] = bars.start
        result["indicators"] = {
            "quote": [{"open": bars.o, "high": bars.h, "low": bars.lo, "close": bars.c,
                       "volume": [int(v) for v in bars.v]}],
            "adjclose": [{"adjclose": bars.c}],
        }  # fmt: skip
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return {"chart": {"result": [result], "error": None}}


def _refusal(interval: str, a: float, b: float, now: float) -> str | None:
    """Yahoo's 422 wording for an intraday range it does not serve, else None."""
    if interval == "1d":
        return None
    span, back = LIMITS.get(interval, (None, 60))
    what = f"{interval} data not available for startTime={int(a)} and endTime={int(b)}."
    if span is not None and b - a > span * 86400:
        return f"{what} Only {span} days worth of {interval} granularity data are allowed to be fetched per request."
    if a < now - back * 86400:
        return f"{what} The requested range must be within the last {back} days."
    return None


async def chart(request: web.Request) -> web.Response:
    """``GET /v8/finance/chart/{symbol}`` (module doc)."""
    ctx: Context = request.app[CTX]
    q = request.query
    sym = request.match_info["symbol"].upper()
    interval = q.get("interval", "1d")
    p1, p2, rng = q.get("period1"), q.get("period2"), q.get("range")
    ctx.counts["chart"] += 1
    ctx.charts.append((sym, interval, int(p1) if p1 else None, int(p2) if p2 else None, rng))
    fault = ctx.faults.take()
    if fault == "rate_limit":
        return web.Response(status=429, text="Too Many Requests\r\n")
    if fault == "server_errors":
        return web.Response(status=503, text=DOWN_PAGE, content_type="text/html")
    t = ctx.tickers.get(sym)
    if t is None:
        return _error(404, "Not Found", "No data found, symbol may be delisted")
    if interval not in INTERVALS and interval != "1d":
        return _error(400, "Bad Request", f"Invalid input - interval={interval} is not supported.")
    now = ctx.clock.now()
    try:
        if p1 is not None or p2 is not None:
            a = float(p1) if p1 else now - 31 * 86400
            b = float(p2) if p2 else now
        else:
            days = RANGES.get(rng or "1mo")
            if days is None:
                return _error(422, "Unprocessable Entity", f"Invalid range={rng}")
            a, b = now - days * 86400, now + 1
            if rng == "1d":
                a = at(ist_date(now), dt.time(0, 0))
    except ValueError:
        return _error(400, "Bad Request", "Invalid input - period1/period2 must be integers")
    refused = _refusal(interval, a, b, now)
    if refused:
        return _error(422, "Unprocessable Entity", refused)
    if fault == "empty":
        a = b  # a range without bars
    return web.json_response(chart_json(ctx, t, interval, a, b))


async def cookie(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    ctx.counts["cookie"] += 1
    resp = web.Response(status=404, text="<html>Not Found</html>", content_type="text/html")
    resp.set_cookie("A3", "d=AQABBSimCookie&S=AQAAAsim", max_age=365 * 86400, path="/")
    return resp


async def crumb(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    ctx.counts["crumb"] += 1
    return web.Response(text=CRUMB, content_type="text/plain")


async def consent(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    ctx.counts["consent"] += 1
    form = ('<form method="post" action="/v2/collectConsent">'
            '<input name="csrfToken" value="simcsrf"><input name="sessionId" value="simsession">'
            "</form>")  # fmt: skip
    return web.Response(text=f"<html><body>{form}</body></html>", content_type="text/html")


async def consent_done(request: web.Request) -> web.Response:
    return web.Response(text="<html>ok</html>", content_type="text/html")


async def status(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    now = ctx.clock.now()
    return web.json_response(
        {
            "now": now,
            "now_ist": dt.datetime.fromtimestamp(now, IST).isoformat(),
            "finished": ctx.clock.finished,
            "tickers": sorted(ctx.tickers),
            "counts": dict(ctx.counts),
        }
    )


async def faults(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    try:
        body = json.loads(await request.text() or "{}")
        ctx.faults.set(**{k: int(v) for k, v in body.items()})
    except (ValueError, TypeError, AttributeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"ok": True})


async def advance(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    q = request.query
    try:
        now = (
            ctx.clock.set_time(float(q["to"]))
            if "to" in q
            else ctx.clock.advance(float(q.get("seconds", "60")))
        )
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"now": now})


def build_app(ctx: Context) -> web.Application:
    """The aiohttp application of the routes above."""
    app = web.Application()
    app[CTX] = ctx
    app.router.add_get("/", cookie)
    app.router.add_get("/v1/test/getcrumb", crumb)
    app.router.add_get("/consent", consent)
    app.router.add_post("/v2/collectConsent", consent_done)
    app.router.add_get("/copyConsent", consent_done)
    app.router.add_get("/v8/finance/chart/{symbol}", chart)
    app.router.add_get("/_sim/status", status)
    app.router.add_post("/_sim/faults", faults)
    app.router.add_post("/_sim/advance", advance)
    return app

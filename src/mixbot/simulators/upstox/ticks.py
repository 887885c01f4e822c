"""Synthesise trade ticks inside a real OHLCV bar, such that the ticks rebuild the bar exactly.

Conventions (the project's, see :mod:`mixbot.feeds.loaders`): a bar is labelled by its END
time, so the 1-minute bar labelled 09:16 IST spans [09:15:00, 09:16:00). Tick times here are
integer milliseconds since the Unix epoch (UTC), like Upstox's ``ltt``, and lie STRICTLY
inside the bar's span: ``start_ms < ltt < end_ms``, strictly increasing.

Price path: the first tick trades at the bar's open and the last at its close; the high and
the low are visited in between, low first when the close is nearer the high (O->L->H->C),
high first otherwise (O->H->L->C). Prices between those turning points are interpolated and
rounded to the tick size (INR 0.05 by default), clipped to [low, high], so that
``max(prices) == high`` and ``min(prices) == low`` hold exactly (the turning points carry the
bar's own float values).

Quantities (``ltq``) are integers that sum EXACTLY to the bar's volume; when the volume is a
multiple of the lot size they are whole lots. Every tick has quantity >= 1 except in the
degenerate case volume < number of turning points (then some ticks carry 0).

The synthesis is deterministic for a given ``seed`` (the simulator seeds with the instrument
key and bar time), so every client sees the same stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple

DEFAULT_TICKS_PER_BAR = 8


class Tick(NamedTuple):
    """One synthetic trade: ``ltt`` ms since epoch (UTC), ``price`` INR, ``qty`` units."""

    ltt: int
    price: float
    qty: int


@dataclass(frozen=True)
class BarOHLCV:
    """A bar rebuilt from ticks: prices INR, volume in units (shares/contracts)."""

    open: float
    high: float
    low: float
    close: float
    volume: int


def _waypoints(o: float, h: float, lo: float, c: float) -> list[float]:
    path = [o, lo, h, c] if (h - c) < (c - lo) else [o, h, lo, c]
    out = [path[0]]
    for p in path[1:]:
        if p != out[-1]:
            out.append(p)
    if len(out) == 1:  # O == H == L == C
        out.append(c)
    # the open is the first visit; make sure the high and low are present even if the
    # dedupe above merged them into the open (e.g. O == H)
    return out


def _quantities(volume: int, n: int, unit: int, rng: random.Random) -> list[int]:
    """Split ``volume`` into ``n`` integers (>= ``unit`` each when possible), sum exact."""
    if n <= 0:
        return []
    if unit > 1 and volume % unit == 0 and volume // unit >= n:
        return [q * unit for q in _quantities(volume // unit, n, 1, rng)]
    if volume >= n:
        cuts = sorted(rng.sample(range(1, volume), n - 1)) if n > 1 else []
        bounds = [0, *cuts, volume]
        return [bounds[i + 1] - bounds[i] for i in range(n)]
    qty = [1] * volume + [0] * (n - volume)
    rng.shuffle(qty)
    return qty


def _times(start_ms: int, end_ms: int, n: int, rng: random.Random) -> list[int]:
    span = end_ms - start_ms - 1  # usable integer instants strictly inside
    if n > span:
        raise ValueError(f"cannot fit {n} ticks strictly inside {end_ms - start_ms} ms")
    return sorted(rng.sample(range(start_ms + 1, end_ms), n))


def synth_ticks(
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: float,
    start_ms: int,
    end_ms: int,
    *,
    n: int = DEFAULT_TICKS_PER_BAR,
    tick_size: float = 0.05,
    lot: int = 1,
    seed: int | str = 0,
) -> list[Tick]:
    """Ticks inside one bar that rebuild its OHLCV exactly.

    Args:
        o, h, lo, c: the bar's prices (INR); ``lo <= min(o, c)``, ``h >= max(o, c)``.
        volume: the bar's volume (units); rounded to an integer.
        start_ms, end_ms: the bar's span, ms since epoch UTC (end = the bar's label).
        n: desired number of ticks (at most the volume; at least the number of turning
            points and 2).
        tick_size: price grid of the interpolated prices, INR.
        lot: contract size; quantities are whole lots when the volume allows.
        seed: makes the output deterministic.

    Returns:
        the ticks, in time order.

    Raises:
        ValueError: inconsistent prices, a negative volume or a span too short.
    """
    if not (lo <= min(o, c) and h >= max(o, c)):
        raise ValueError(f"inconsistent bar o={o} h={h} l={lo} c={c}")
    vol = round(volume)
    if vol < 0:
        raise ValueError(f"negative volume {volume}")
    rng = random.Random(str(seed))
    wp = _waypoints(o, h, lo, c)
    n = max(min(n, vol), len(wp), 2)  # no more ticks than units traded, if possible
    # positions of the turning points among the n ticks: first, last, spread in between
    inner = len(wp) - 2
    if inner > 0:
        slots = sorted(rng.sample(range(1, n - 1), inner))
    else:
        slots = []
    pos = [0, *slots, n - 1]
    prices: list[float] = [0.0] * n
    for k in range(len(wp) - 1):
        a, b = pos[k], pos[k + 1]
        pa, pb = wp[k], wp[k + 1]
        prices[a] = pa
        for i in range(a + 1, b):
            x = pa + (pb - pa) * (i - a) / (b - a)
            x += rng.uniform(-1.5, 1.5) * tick_size
            snapped = round(round(x / tick_size) * tick_size, 2)
            prices[i] = min(h, max(lo, snapped))
    prices[n - 1] = wp[-1]
    qty = _quantities(vol, n, max(1, lot), rng)
    times = _times(start_ms, end_ms, n, rng)
    return [Tick(t, p, q) for t, p, q in zip(times, prices, qty, strict=True)]


def rebuild(ticks: list[Tick]) -> BarOHLCV:
    """The OHLCV bar of a non-empty tick list (first/max/min/last price, summed quantity)."""
    if not ticks:
        raise ValueError("no ticks")
    prices = [t.price for t in ticks]
    return BarOHLCV(prices[0], max(prices), min(prices), prices[-1], sum(t.qty for t in ticks))

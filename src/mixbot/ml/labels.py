"""Triple-barrier labels for the ML model (SELL = 0, HOLD = 1, BUY = 2).

Source: M. Lopez de Prado, *Advances in Financial Machine Learning* (Wiley, 2018),
chapter 3 ("Labeling"), section 3.4 "The Triple-Barrier Method": two horizontal
barriers (profit-taking and stop-loss, here multiples of the ATR at the labelled bar)
and one vertical barrier (``horizon`` bars); the label is the first barrier touched.
The same ATR multipliers as the exit mixin are used, so a BUY label means "a long
entered at this close would have reached its take-profit before its stop".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

SELL, HOLD, BUY = 0, 1, 2
CLASS_NAMES: tuple[str, str, str] = ("SELL", "HOLD", "BUY")
#: Label of bars that cannot be labelled (ATR missing, or fewer than ``horizon`` bars follow).
UNDEFINED = -1


def _first_touch(
    path: npt.NDArray[np.float64], level: npt.NDArray[np.float64], m: int, horizon: int, above: bool
) -> npt.NDArray[np.int64]:
    """Offset ``h`` in ``1..horizon`` of the first bar whose ``path`` reaches ``level``.

    Row ``i < m`` compares ``path[i + h]`` with ``level[i]`` (``>=`` when ``above``, else
    ``<=``); rows never touched get ``horizon + 1``. One vectorised pass per offset.
    """
    first = np.full(m, horizon + 1, dtype=np.int64)
    for h in range(horizon, 0, -1):  # descending: the smallest touching offset wins
        seg = path[h : h + m]
        hit = seg >= level if above else seg <= level
        first[hit] = h
    return first


def triple_barrier(
    high: Any,
    low: Any,
    close: Any,
    atr: Any,
    sl_mult: float,
    tp_mult: float,
    horizon: int,
) -> npt.NDArray[np.int8]:
    """Label every bar BUY / SELL / HOLD by which ATR barrier the future touches first.

    For bar ``i`` with ``a = atr[i]`` and the bars ``i+1 .. i+horizon``:

    * long: take-profit ``close[i] + tp_mult * a`` (touched when ``high >= `` it), stop
      ``close[i] - sl_mult * a`` (touched when ``low <= `` it); BUY when the take-profit
      is touched on an EARLIER bar than the stop (or the stop is never touched). When
      both are touched in the same bar the stop counts first (the paper broker's
      conservative assumption), so that bar does not make a BUY.
    * short (mirror): take-profit ``close[i] - tp_mult * a`` (``low <=``), stop
      ``close[i] + sl_mult * a`` (``high >=``); SELL when its take-profit comes first.
    * both BUY and SELL qualify (possible only when ``tp_mult < sl_mult``): the side
      whose take-profit is touched first wins; the same bar for both gives HOLD.
    * HOLD when neither side qualifies within ``horizon`` bars (the vertical barrier).
    * -1 (:data:`UNDEFINED`) when ``atr[i]`` is NaN / non-finite / ``<= 0`` or fewer
      than ``horizon`` bars follow ``i`` (``i > n - 1 - horizon``).

    Args:
        high, low, close: prices (INR), float (n,).
        atr: ATR at each bar in price units, float (n,), NaN in its warm-up.
        sl_mult, tp_mult: stop-loss / take-profit distances in ATRs (> 0).
        horizon: the vertical barrier, in bars (>= 1).

    Returns:
        int8 (n,) of SELL (0), HOLD (1), BUY (2) or -1.

    Raises:
        ValueError: lengths differ, multipliers not > 0, or horizon < 1.
    """
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    a = np.asarray(atr, dtype=np.float64)
    n = c.shape[0]
    if not (h.shape == lo.shape == c.shape == a.shape) or c.ndim != 1:
        raise ValueError(
            f"triple_barrier: high/low/close/atr must be 1-D of one length, got "
            f"{h.shape}, {lo.shape}, {c.shape}, {a.shape}"
        )
    if not (sl_mult > 0 and tp_mult > 0):
        raise ValueError(f"sl_mult and tp_mult must be > 0, got {sl_mult!r}, {tp_mult!r}")
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    horizon = int(horizon)
    out = np.full(n, UNDEFINED, dtype=np.int8)
    m = n - horizon  # rows with `horizon` bars after them
    if m <= 0:
        return out
    cm, am = c[:m], a[:m]
    long_tp = _first_touch(h, cm + tp_mult * am, m, horizon, above=True)
    long_sl = _first_touch(lo, cm - sl_mult * am, m, horizon, above=False)
    short_tp = _first_touch(lo, cm - tp_mult * am, m, horizon, above=False)
    short_sl = _first_touch(h, cm + sl_mult * am, m, horizon, above=True)
    buy = (long_tp <= horizon) & (long_tp < long_sl)
    sell = (short_tp <= horizon) & (short_tp < short_sl)
    both = buy & sell
    lab = np.full(m, HOLD, dtype=np.int8)
    lab[buy & ~both] = BUY
    lab[sell & ~both] = SELL
    lab[both & (long_tp < short_tp)] = BUY
    lab[both & (short_tp < long_tp)] = SELL
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(am) & (am > 0)
    out[:m] = np.where(valid, lab, UNDEFINED)
    return out

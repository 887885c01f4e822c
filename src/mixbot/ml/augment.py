"""Trade-log augmentation: extra training samples from the bot's own closed trades.

The original Upstox bot (``../shared/spec/upstox-ml-bot.md``, "Data Augmentation") reads its
trade log and, for a profitable trade, duplicates the training sample of its entry with a
higher weight; for a significantly losing trade it adds a "contrary" sample, so the model
learns from its mistakes. :func:`augment` does the same on the window arrays of
``mixbot train``:

* each trade (a :meth:`mixbot.store.repository.Store.trades` row: ``entry_time`` /
  ``exit_time`` naive UTC, ``side`` ``"long"``/``"short"``, ``qty`` shares, ``entry_price``
  INR, ``pnl_net`` INR after charges, ``symbol``) is mapped to its SIGNAL bar: the last bar
  whose END time is strictly before ``entry_time``. Bar times are END times; the entry
  fills at the open of the bar after the signal bar, and a paper/backtest fill is stamped
  with that fill bar's END time (a live fill with the exchange time inside the fill bar),
  so ``bar_end[s] < entry_time <= bar_end[s + 1]``. A trade outside that (before the data,
  after its last bar) has no signal bar;
* a WINNER (``pnl_net > 0``) adds its signal bar's window again with the trade's side as
  the label (long -> BUY, short -> SELL) and weight ``win_weight``;
* a BIG LOSER (net loss of more than ``big_loss_pct`` percent of the entry notional
  ``entry_price * qty``; 0-100 scale, 1.0 = one percent) adds its window with the contrary
  label (long -> SELL, short -> BUY) and weight ``loss_weight``;
* other trades (small losses, break-even) add nothing.

Leakage: a trade's outcome is only known at its exit. Augmenting a training fold with a
trade whose signal bar OR exit lies in the out-of-sample part (the test fold, the purge
gap, the embargo) would teach the model the future it is then scored on. Pass ``allowed``
(a boolean mask over the bars, or a half-open bar range ``(lo, hi)``) holding only the
training portion: a trade is used only when its signal bar and its exit bar (the first bar
whose END time is at or after ``exit_time``) are both allowed. Every trade not used is
counted in the report under its reason; none is dropped silently.

No TensorFlow import here (the bot process and `mixbot validate` must not load it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mixbot.ml.labels import BUY, SELL

#: Report counters, each trade lands in exactly one (see :func:`augment`).
OUTCOMES = (
    "winners",  # used: window duplicated with the trade's side label
    "big_losers",  # used: window added with the contrary label
    "small",  # neither a winner nor a big loser: nothing added
    "other_symbol",  # a different instrument than ``symbol``
    "invalid",  # missing/unknown side, qty or price not positive, missing times
    "no_signal_bar",  # entry before the first bar or after the last one
    "no_window",  # the signal bar has no sample (warm-up, label horizon, not sampled)
    "not_allowed",  # signal bar or exit bar outside ``allowed`` (leak guard)
)


@dataclass(frozen=True)
class Augmentation:
    """Extra samples to append to a training set.

    Attributes:
        extra_index: (k,) int64 positions into ``sample_bar`` (the windows to repeat).
        extra_bar: (k,) int64 the signal bar index of each extra sample.
        extra_label: (k,) int8 class (:data:`~mixbot.ml.labels.SELL` / ``BUY``).
        extra_weight: (k,) float64 sample weight of each extra sample.
        report: JSON-able counts (:data:`OUTCOMES`, ``trades``, ``extra``), the weights and
            ``big_loss_pct`` used, ``extra_weight_total`` and up to 5 ``examples`` per
            reason a trade was not used (its ``entry_time`` ISO).
    """

    extra_index: npt.NDArray[np.int64]
    extra_bar: npt.NDArray[np.int64]
    extra_label: npt.NDArray[np.int8]
    extra_weight: npt.NDArray[np.float64]
    report: dict[str, Any] = field(default_factory=dict)


def _ns(when: Any) -> np.datetime64 | None:
    """``when`` (datetime / numpy / ISO string, naive UTC) as datetime64[ns]; None if absent."""
    if when is None:
        return None
    if isinstance(when, dt.datetime) and when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return np.datetime64(when, "ns")


def allowed_mask(allowed: Any, n: int) -> npt.NDArray[np.bool_] | None:
    """``allowed`` as a boolean mask over ``n`` bars: None stays None (every bar allowed), a
    ``(lo, hi)`` pair is the half-open bar range ``lo <= i < hi``, an array must be (n,).

    Raises:
        ValueError: an array of another length, or a pair that is not two integers.
    """
    if allowed is None:
        return None
    if isinstance(allowed, tuple | list) and len(allowed) == 2 and not isinstance(allowed[0], bool):
        lo, hi = (int(v) for v in allowed)
        mask = np.zeros(n, dtype=bool)
        mask[max(lo, 0) : max(min(hi, n), 0)] = True
        return mask
    mask = np.asarray(allowed, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"allowed mask has shape {mask.shape}, the bars are ({n},)")
    return mask


def signal_bars(bar_end: npt.NDArray[Any], times: Iterable[Any]) -> npt.NDArray[np.int64]:
    """The signal bar of each entry time: the last bar whose END time is strictly before it,
    when the bar after it (the fill bar) exists and ends at or after the entry time; -1
    otherwise (before the data or after its last bar).

    Args:
        bar_end: (n,) datetime64 naive UTC bar END times, increasing.
        times: entry times (naive UTC).
    """
    ends = np.asarray(bar_end, dtype="datetime64[ns]")
    t = np.array([_ns(x) for x in times], dtype="datetime64[ns]")
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    fill = np.searchsorted(ends, t, side="left")  # first bar ending at/after the entry
    sig = fill - 1
    ok = (fill < len(ends)) & (sig >= 0)
    return np.where(ok, sig, -1).astype(np.int64)


def _classify(
    tr: Mapping[str, Any], big_loss_pct: float, symbol: str | None
) -> tuple[str, int | None]:
    """(outcome, label) of trade ``tr`` from its fields alone (before the bar mapping):
    ``winners``/``big_losers`` with the label to add, or a reason it adds nothing."""
    if symbol is not None and tr.get("symbol") not in (None, symbol):
        return "other_symbol", None
    side = str(tr.get("side", "")).lower()
    try:
        qty = abs(float(tr["qty"]))
        price = float(tr["entry_price"])
        pnl = float(tr["pnl_net"])
    except (KeyError, TypeError, ValueError):
        return "invalid", None
    if side not in ("long", "short") or qty <= 0 or price <= 0 or tr.get("entry_time") is None:
        return "invalid", None
    if tr.get("exit_time") is None:
        return "invalid", None
    long = side == "long"
    if pnl > 0:
        return "winners", BUY if long else SELL
    if -pnl > big_loss_pct / 100.0 * price * qty:
        return "big_losers", SELL if long else BUY
    return "small", None


def augment(
    sample_bar: npt.NDArray[Any],
    bar_end: npt.NDArray[Any],
    trades: Iterable[Mapping[str, Any]],
    *,
    big_loss_pct: float = 1.0,
    win_weight: float = 2.0,
    loss_weight: float = 2.0,
    allowed: Any = None,
    symbol: str | None = None,
) -> Augmentation:
    """Extra samples from closed ``trades`` (see the module docstring for the rules).

    Args:
        sample_bar: (m,) int, the bar index of each window's LAST bar (the bar whose close
            the window's prediction is made at); expected unique (the first is used).
        bar_end: (n,) datetime64 naive UTC bar END times of the series the windows come from.
        trades: store trade rows (:meth:`~mixbot.store.repository.Store.trades`).
        big_loss_pct: a loss of more than this percent (0-100 scale) of the entry notional
            is a big loser. Default 1.0 %.
        win_weight, loss_weight: sample weights of the extra winner / loser samples.
        allowed: None, a (n,) boolean mask over bars, or a half-open bar range ``(lo, hi)``:
            only trades whose signal bar and exit bar are allowed are used (leak guard).
        symbol: only trades of this instrument (None: every trade).

    Returns:
        :class:`Augmentation` (extra samples in the order of ``trades``, and the report).

    Raises:
        ValueError: a negative weight or ``big_loss_pct``, or a bad ``allowed``.
    """
    if min(win_weight, loss_weight, big_loss_pct) < 0:
        raise ValueError("win_weight, loss_weight and big_loss_pct must be >= 0")
    ends = np.asarray(bar_end, dtype="datetime64[ns]")
    mask = allowed_mask(allowed, len(ends))
    window_of: dict[int, int] = {}
    for pos, b in enumerate(np.asarray(sample_bar, dtype=np.int64).tolist()):
        window_of.setdefault(int(b), pos)
    rows = list(trades)
    counts = dict.fromkeys(OUTCOMES, 0)
    examples: dict[str, list[str]] = {}
    idx: list[int] = []
    bars: list[int] = []
    labels: list[int] = []
    weights: list[float] = []
    for tr, (outcome, label, s) in zip(
        rows, _outcomes(rows, ends, mask, window_of, big_loss_pct, symbol), strict=True
    ):
        counts[outcome] += 1
        if label is None:
            if outcome != "small":
                _example(examples, outcome, tr)
            continue
        idx.append(window_of[s])
        bars.append(s)
        labels.append(label)
        weights.append(win_weight if outcome == "winners" else loss_weight)
    report: dict[str, Any] = {
        "trades": len(rows),
        **counts,
        "extra": len(idx),
        "win_weight": float(win_weight),
        "loss_weight": float(loss_weight),
        "big_loss_pct": float(big_loss_pct),
        "extra_weight_total": float(sum(weights)),
        "symbol": symbol,
        "examples": examples,
    }
    return Augmentation(
        np.asarray(idx, dtype=np.int64),
        np.asarray(bars, dtype=np.int64),
        np.asarray(labels, dtype=np.int8),
        np.asarray(weights, dtype=np.float64),
        report,
    )


def _outcomes(
    rows: list[Mapping[str, Any]],
    ends: npt.NDArray[Any],
    mask: npt.NDArray[np.bool_] | None,
    window_of: Mapping[int, int],
    big_loss_pct: float,
    symbol: str | None,
) -> list[tuple[str, int | None, int]]:
    """Per trade: (outcome of :data:`OUTCOMES`, label to add or None, signal bar or -1)."""
    classified = [_classify(tr, big_loss_pct, symbol) for tr in rows]
    mappable = [k for k, (o, _) in enumerate(classified) if o not in ("invalid", "other_symbol")]
    sig = signal_bars(ends, [rows[k]["entry_time"] for k in mappable])
    exits = np.array([_ns(rows[k]["exit_time"]) for k in mappable], dtype="datetime64[ns]")
    exit_bar = np.searchsorted(ends, exits, side="left")  # the bar the exit filled in
    where = {k: (int(s), int(e)) for k, s, e in zip(mappable, sig, exit_bar, strict=True)}
    out: list[tuple[str, int | None, int]] = []
    for k, (outcome, label) in enumerate(classified):
        s, e = where.get(k, (-1, -1))
        if k in where:  # a valid trade of the symbol: where its bars are decides
            if s < 0:
                outcome = "no_signal_bar"
            elif mask is not None and not (mask[s] and e < len(ends) and mask[e]):
                outcome = "not_allowed"
            elif s not in window_of:
                outcome = "no_window"
        used = outcome in ("winners", "big_losers")
        out.append((outcome, label if used else None, s))
    return out


def _example(examples: dict[str, list[str]], outcome: str, tr: Mapping[str, Any]) -> None:
    """Keep up to 5 entry times (ISO) per reason a trade was not used."""
    got = examples.setdefault(outcome, [])
    if len(got) < 5:
        got.append(str(tr.get("entry_time")))


def describe(report: Mapping[str, Any]) -> str:
    """One line for the console: what the augmentation added and why trades were skipped."""
    skipped = ", ".join(
        f"{report[k]} {k.replace('_', ' ')}"
        for k in OUTCOMES[2:]
        if report.get(k)  # only the non-zero reasons
    )
    return (
        f"trade-log augmentation: {report['trades']} trades -> {report['extra']} extra samples "
        f"({report['winners']} winners x{report['win_weight']:g}, {report['big_losers']} big "
        f"losers (> {report['big_loss_pct']:g} % of notional) x{report['loss_weight']:g}, "
        f"contrary label)" + (f"; not used: {skipped}" if skipped else "")
    )

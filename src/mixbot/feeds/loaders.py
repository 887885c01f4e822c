"""Load OHLCV bar files into a clean, end-labelled, UTC pandas frame with a quality report.

Every loader returns a :class:`LoadResult` whose ``frame`` has columns exactly
``["open", "high", "low", "close", "volume"]`` (float64; prices in the file's currency,
INR for NSE data; volume in the file's units, shares/contracts or base-asset amount) and a
tz-naive UTC :class:`pandas.DatetimeIndex` named ``"datetime"``, strictly increasing and
unique. Each bar is labelled by its END time:

* intraday vendor files (``SYMBOL,YYYYMMDD,HH:MM,...``) already carry the end minute;
* daily bars (date-only values) are labelled at ``session_close`` in ``tz``
  (15:30 Asia/Kolkata = 10:00 UTC by default);
* files labelled by bar OPEN time (Binance ``unix`` column, ``open_time``/``unix`` columns,
  yfinance intraday) are shifted forward by the bar interval (the median spacing).

Naive timestamps are read in ``tz`` unless the format is UTC (crypto ``unix`` files, epoch
numbers); strings with an explicit offset carry their own. All are converted to UTC.

Known layouts (``fmt``): ``yfinance``, ``vendor_1min``, ``binance``, ``backtrader_csv``,
``generic``; ``fmt="auto"`` sniffs the first lines. Parsing is vectorised
(:func:`pandas.read_csv`); the cleaning rules and their counts are in
:class:`mixbot.feeds.quality.QualityReport`.

This module holds the cleaning and the public API; layout sniffing and :data:`FORMATS` are
in :mod:`mixbot.feeds.layouts` (re-exported here with :func:`detect_format`), row parsing in
:mod:`mixbot.feeds.parsing` and text reading in :mod:`mixbot.feeds.text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixbot.errors import ConfigError, DataFileError
from mixbot.feeds.layouts import FORMATS, detect_format
from mixbot.feeds.parsing import _NS_PER_S, _parse_file, _Parsed
from mixbot.feeds.quality import MAX_EXAMPLES, QualityReport
from mixbot.feeds.text import IntArray

__all__ = ["COLUMNS", "FORMATS", "LoadResult", "detect_format", "load_bars", "load_many"]

#: Columns of every returned frame, in order.
COLUMNS = ["open", "high", "low", "close", "volume"]

JUMP_THRESHOLD = 0.25


@dataclass
class LoadResult:
    """A cleaned bar series and how it was obtained.

    Attributes:
        frame: DataFrame, shape (n_bars, 5), columns ``["open","high","low","close","volume"]``
            float64; index: tz-naive UTC DatetimeIndex named ``"datetime"`` (bar END times),
            strictly increasing and unique. Prices in the file's currency (INR for NSE).
        report: the :class:`~mixbot.feeds.quality.QualityReport` of the load.
        fmt: detected (or requested) format name, one of :data:`FORMATS`.
        interval_seconds: median spacing of the kept bars in seconds (86400 for daily,
            60 for 1-minute bars).
    """

    frame: pd.DataFrame
    report: QualityReport
    fmt: str
    interval_seconds: int


# --------------------------------------------------------------------------- cleaning


def _fmt_ts(ns: int) -> str:
    return str(pd.Timestamp(int(ns)).strftime("%Y-%m-%d %H:%M"))


def _examples(
    idx: npt.NDArray[np.intp], ts: IntArray, line: IntArray, fidx: IntArray, names: list[str]
) -> list[str]:
    out = []
    for i in idx[:MAX_EXAMPLES]:
        where = f"{names[fidx[i]]}:{line[i]}" if len(names) > 1 else f"line {line[i]}"
        out.append(f"{where} @ {_fmt_ts(int(ts[i]))}")
    return out


def _session_steps(ts: IntArray, interval_ns: int, tz: str, report: QualityReport) -> Any:
    """Which steps ts[i] -> ts[i+1] lie inside one day's regular session (local ``tz``).

    The regular session is the longest run of consecutive bar times of day that have a bar
    on at least half of the days; bars outside it (pre-open, post-close prints) are kept and
    counted in ``report.outside_session``, and steps touching them are not gaps.
    """
    local = pd.DatetimeIndex(ts).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    lns = local.as_unit("ns").asi8
    day = local.normalize().as_unit("ns").asi8
    tod = lns - day
    n_days = np.unique(day).size
    vals, counts = np.unique(tod, return_counts=True)
    common = vals[counts * 2 >= n_days]
    if common.size == 0:
        return np.zeros(ts.size - 1, dtype=bool)
    breaks = np.flatnonzero(np.diff(common) != interval_ns)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [common.size - 1]])
    k = int(np.argmax(ends - starts))
    lo, hi = int(common[starts[k]]), int(common[ends[k]])
    inside = (tod >= lo) & (tod <= hi)
    fmt = "%H:%M"
    lo_s = (pd.Timestamp(0) + pd.Timedelta(lo)).strftime(fmt)
    hi_s = (pd.Timestamp(0) + pd.Timedelta(hi)).strftime(fmt)
    report.session = f"{lo_s}-{hi_s} {tz}"
    out = np.flatnonzero(~inside)
    report.outside_session.add(
        int(out.size), [f"{_fmt_ts(int(ts[i]))}" for i in out[:MAX_EXAMPLES]]
    )
    return (day[1:] == day[:-1]) & inside[1:] & inside[:-1]


def _clean(path_label: str, parsed: list[_Parsed], tz: str, err_path: str) -> LoadResult:
    fmts = sorted({p.fmt for p in parsed})
    report = QualityReport(source=path_label, fmt="+".join(fmts))
    names = [p.name for p in parsed]
    ts = np.concatenate([p.ts for p in parsed])
    vals = np.concatenate([p.values for p in parsed])
    line = np.concatenate([p.line for p in parsed])
    fidx = np.concatenate([np.full(p.ts.size, k, dtype=np.int64) for k, p in enumerate(parsed)])
    report.rows_read = int(ts.size)
    report.blank_lines = sum(p.blank_lines for p in parsed)
    report.daily = all(p.daily for p in parsed)
    for p in parsed:  # notes once each (a folder of alike files repeats them)
        for n in p.notes:
            if n not in report.notes:
                report.notes.append(n)

    def ex(mask: npt.NDArray[np.bool_]) -> list[str]:
        return _examples(np.flatnonzero(mask), ts, line, fidx, names)

    o, h, lo, c, v = (vals[:, k] for k in range(5))
    with np.errstate(invalid="ignore"):
        bad_price = ~(np.isfinite(vals[:, :4]).all(axis=1) & (vals[:, :4] > 0).all(axis=1))
        bad_vol = ~bad_price & ~(np.isfinite(v) & (v >= 0))
        placeholder = ~bad_price & ~bad_vol & (v == 0) & (o == h) & (o == lo) & (o == c)
    report.bad_prices.add(int(bad_price.sum()), ex(bad_price))
    report.bad_volume.add(int(bad_vol.sum()), ex(bad_vol))
    report.zero_volume_placeholders.add(int(placeholder.sum()), ex(placeholder))
    keep = ~(bad_price | bad_vol | placeholder)
    ts, vals, line, fidx = ts[keep], vals[keep], line[keep], fidx[keep]

    # High/low repair.
    hi = vals[:, :4].max(axis=1)
    low = vals[:, :4].min(axis=1)
    fix = (vals[:, 1] != hi) | (vals[:, 2] != low)
    report.high_low_repaired.add(int(fix.sum()), ex(fix))
    vals[:, 1] = hi
    vals[:, 2] = low

    # Order.
    if ts.size > 1:
        steps = np.diff(ts)
        back = int((steps < 0).sum())
        if back:
            fwd = int((steps > 0).sum())
            report.order = "newest-first" if fwd == 0 or back > 10 * fwd else "unsorted"
            report.out_of_order = back
            order = np.argsort(ts, kind="stable")
            ts, vals, line, fidx = ts[order], vals[order], line[order], fidx[order]

    # Duplicates: same label, keep the last occurrence in file order (stable sort above).
    if ts.size > 1:
        dup = np.zeros(ts.size, dtype=bool)
        dup[:-1] = ts[:-1] == ts[1:]
        report.duplicates.add(int(dup.sum()), ex(dup))
        ts, vals, line, fidx = ts[~dup], vals[~dup], line[~dup], fidx[~dup]

    report.rows_kept = int(ts.size)
    if report.rows_kept == 0:
        raise DataFileError(
            err_path,
            f"no usable rows: all {report.rows_read} rows were dropped\n{report.render()}",
        )
    assert report.rows_read - report.dropped == report.rows_kept

    steps = np.diff(ts)
    interval_ns = (
        int(np.median(steps)) if steps.size else (86400 * _NS_PER_S if report.daily else 0)
    )
    interval = interval_ns // _NS_PER_S
    report.interval_seconds = interval
    report.first_bar = _fmt_ts(int(ts[0]))
    report.last_bar = _fmt_ts(int(ts[-1]))

    # Gaps.
    if steps.size:
        if report.daily:
            k = int(np.argmax(steps))
            report.largest_gap_days = float(steps[k]) / (86400 * _NS_PER_S)
            report.largest_gap_at = _fmt_ts(int(ts[k + 1]))[:10]
        elif interval_ns > 0:
            continuous = all(p.continuous for p in parsed)
            if continuous:
                in_session = np.ones(steps.size, dtype=bool)
            else:
                in_session = _session_steps(ts, interval_ns, tz, report)
            gap = in_session & (steps > interval_ns)
            missing = (steps[gap] + interval_ns - 1) // interval_ns - 1
            report.missing_bars = int(missing.sum())
            gi = np.flatnonzero(gap)
            report.gaps.add(
                int(gap.sum()),
                [
                    f"{_fmt_ts(int(ts[i]))} -> {_fmt_ts(int(ts[i + 1]))} ({int(m)} missing)"
                    for i, m in zip(gi[:MAX_EXAMPLES], missing[:MAX_EXAMPLES])
                ],
            )

    # Jumps (kept).
    close = vals[:, 3]
    if close.size > 1:
        rel = close[1:] / close[:-1] - 1.0
        jump = np.abs(rel) > JUMP_THRESHOLD
        ji = np.flatnonzero(jump)
        report.jumps.add(
            int(jump.sum()),
            [f"{_fmt_ts(int(ts[i + 1]))} {rel[i]:+.1%}" for i in ji[:MAX_EXAMPLES]],
        )

    # Wide bars (kept): high/low range above the threshold, e.g. a bad print.
    wide = vals[:, 1] / vals[:, 2] - 1.0 > JUMP_THRESHOLD
    wi = np.flatnonzero(wide)
    report.wide_bars.add(
        int(wide.sum()),
        [
            f"{_fmt_ts(int(ts[i]))} high {vals[i, 1]:g} low {vals[i, 2]:g}"
            for i in wi[:MAX_EXAMPLES]
        ],
    )

    index = pd.DatetimeIndex(ts.astype("datetime64[ns]"), name="datetime")
    frame = pd.DataFrame(vals, index=index, columns=COLUMNS, dtype=np.float64)
    return LoadResult(frame=frame, report=report, fmt=report.fmt, interval_seconds=interval)


# --------------------------------------------------------------------------- public API


def _check_args(tz: str, session_close: str) -> pd.Timedelta:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {tz!r} (use an IANA name such as 'Asia/Kolkata')"
        ) from exc
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", session_close.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"session_close {session_close!r} is not a time of day HH:MM")
    return pd.Timedelta(hours=int(m.group(1)), minutes=int(m.group(2)))


def load_bars(
    path: str | Path,
    *,
    tz: str = "Asia/Kolkata",
    fmt: str = "auto",
    session_close: str = "15:30",
) -> LoadResult:
    """Load one OHLCV bar file, clean it and report what was done.

    Args:
        path: the CSV/TXT file.
        tz: IANA time zone of naive timestamps in the file (and of ``session_close``).
            Ignored for UTC formats (``binance``, epoch numbers) and for strings that carry
            an offset.
        fmt: ``"auto"`` (sniff the first lines) or one of :data:`FORMATS`.
        session_close: ``"HH:MM"`` wall time in ``tz`` used to label daily bars
            (default 15:30 IST -> 10:00 UTC).

    Returns:
        :class:`LoadResult`; ``frame`` is (n_bars, 5) float64 OHLCV in the file's currency
        (INR for NSE) indexed by tz-naive UTC bar END times, strictly increasing and unique.

    Raises:
        DataFileError: file missing, empty, not UTF-8 or binary, unrecognised layout (the
            message lists the known ones), a row that cannot be parsed (message names its
            1-based line and shows the text), or no usable rows after cleaning.
        ConfigError: unknown ``fmt``, time zone or malformed ``session_close``.
    """
    offset = _check_args(tz, session_close)
    p = Path(path)
    return _clean(p.name, [_parse_file(p, tz, fmt, offset)], tz, str(p))


def load_many(
    paths: Iterable[str | Path],
    *,
    tz: str = "Asia/Kolkata",
    fmt: str = "auto",
    session_close: str = "15:30",
) -> LoadResult:
    """Load several bar files (e.g. one per month) as one series.

    Rows of all files are concatenated in the order of ``paths``, sorted by time and
    cleaned with the same rules as :func:`load_bars`; a timestamp present more than once
    (within or across files) keeps its LAST occurrence in that order and the others are
    reported as duplicates with ``file:line`` examples. Pass the files oldest first (e.g.
    ``sorted(folder.glob("*.txt"))``) so that a later file wins.

    Args:
        paths: the files (a folder is not expanded; glob it first). At least one.
        tz, fmt, session_close: as for :func:`load_bars`, applied to every file.

    Returns:
        One :class:`LoadResult`; ``fmt`` is the format name (``"a+b"`` when the files differ).

    Raises:
        DataFileError: as for :func:`load_bars` (naming the offending file), or no paths.
        ConfigError: as for :func:`load_bars`.
    """
    offset = _check_args(tz, session_close)
    plist: Sequence[Path] = [Path(p) for p in paths]
    if not plist:
        raise DataFileError("<no files>", "load_many needs at least one file")
    parsed = [_parse_file(p, tz, fmt, offset) for p in plist]
    if len(plist) == 1:
        label = plist[0].name
    else:
        label = f"{len(plist)} files: {plist[0].name} .. {plist[-1].name}"
    err = f"{plist[0].parent} ({label})" if len(plist) > 1 else str(plist[0])
    return _clean(label, parsed, tz, err)

"""Parsing the data rows of a bar file: numbers, timestamps, epoch values and bar labels.

:func:`_parse_file` reads one file (see :mod:`mixbot.feeds.text`), finds its layout (see
:mod:`mixbot.feeds.layouts`), tokenises the rows with :func:`pandas.read_csv` and returns a
:class:`_Parsed` with bar-END labels in ns since the epoch (UTC) and float64 OHLCV values,
one item per data row, before any cleaning. Rows that cannot be parsed raise
:class:`~mixbot.errors.DataFileError` naming the 1-based line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixbot.errors import DataFileError
from mixbot.feeds.layouts import _Layout, _layout
from mixbot.feeds.text import IntArray, _body, _fail, _fields, _Lines, _read_text

_OFFSET_RE = r"(?:Z|[+-]\d{2}:?\d{2})$"
_DATE_ONLY_RE = r"\d{4}-\d{2}-\d{2}"
_NS_PER_S = 1_000_000_000


@dataclass
class _Parsed:
    """One file after parsing, before cleaning; arrays are aligned, one item per data row."""

    name: str
    fmt: str
    ts: IntArray  # bar-end label, ns since epoch, UTC
    values: npt.NDArray[np.float64]  # (n, 5) open, high, low, close, volume
    line: IntArray  # 1-based line numbers
    daily: bool
    continuous: bool  # 24/7 data: gaps counted across midnight too
    blank_lines: int
    notes: list[str] = field(default_factory=list)


def _read_frame(path: Path, lay: _Layout, body: str, lineno: IntArray, lines: _Lines) -> Any:
    """Tokenise the data rows with pandas; time columns as strings, the rest inferred."""
    try:
        df = pd.read_csv(
            io.StringIO(body),
            header=None,
            dtype={c: str for c in lay.time_cols},
            skipinitialspace=True,
            skip_blank_lines=False,
            low_memory=False,
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            ln = int(lineno[int(m.group(2)) - 1])
            raise _fail(
                path, lines, ln, f"expected {m.group(1)} fields, found {m.group(3)}"
            ) from exc
        raise DataFileError(path, f"cannot parse as CSV: {exc}") from exc
    if df.shape[1] not in lay.nfields:
        want = " or ".join(str(n) for n in lay.nfields)
        raise _fail(path, lines, int(lineno[0]), f"expected {want} fields, found {df.shape[1]}")
    return df


def _check_short_rows(path: Path, lay: _Layout, df: Any, lineno: IntArray, lines: _Lines) -> None:
    """A row with missing trailing fields is an error (not a NaN price)."""
    need = max(max(lay.ohlcv), *lay.time_cols) + 1
    cols = sorted({*lay.ohlcv, *lay.time_cols})
    suspect = np.flatnonzero(df[cols].isna().to_numpy().any(axis=1))
    for i in suspect:
        ln = int(lineno[i])
        n = len(_fields(lines.get(ln)))
        if n < need:
            want = " or ".join(str(k) for k in lay.nfields)
            raise _fail(path, lines, ln, f"expected {want} fields, found {n}")


def _numeric(path: Path, df: Any, col: int, name: str, lineno: IntArray, lines: _Lines) -> Any:
    s = df[col]
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64)
    num = pd.to_numeric(s, errors="coerce")
    bad = np.flatnonzero((num.isna() & s.notna()).to_numpy())
    if bad.size:
        ln = int(lineno[bad[0]])
        raise _fail(path, lines, ln, f"cannot parse {name} {str(s.iloc[bad[0]])!r} as a number")
    return num.to_numpy(dtype=np.float64)


def _localize(
    path: Path, naive: pd.DatetimeIndex, tz: str, lineno: IntArray, lines: _Lines
) -> IntArray:
    """Naive local wall times in ``tz`` -> ns since epoch UTC; DST holes are an error."""
    if tz in ("UTC", "Etc/UTC"):
        return naive.as_unit("ns").asi8.copy()
    loc = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    bad = np.flatnonzero(np.asarray(loc.isna()) & ~np.asarray(naive.isna()))
    if bad.size:
        ln = int(lineno[bad[0]])
        raise _fail(
            path, lines, ln, f"local time does not exist or is ambiguous in {tz} (DST change)"
        )
    return loc.tz_convert("UTC").tz_localize(None).as_unit("ns").asi8.copy()


def _bad_time(
    path: Path, parsed: Any, raw: pd.Series, lineno: IntArray, lines: _Lines, what: str
) -> None:
    bad = np.flatnonzero(np.asarray(pd.isna(parsed)))
    if bad.size:
        ln = int(lineno[bad[0]])
        val = raw.iloc[bad[0]]
        shown = "missing" if pd.isna(val) else repr(str(val))
        raise _fail(path, lines, ln, f"cannot parse {what} ({shown})")


def _epoch_ns(values: npt.NDArray[np.float64]) -> tuple[IntArray, dict[str, int]]:
    """Epoch numbers -> ns UTC; unit chosen per value by magnitude (s, ms, us, ns)."""
    a = np.abs(values)
    ms_factor = np.select([a < 1e11, a < 1e14, a < 1e17], [1e3, 1.0, 1e-3], default=1e-6)
    ms = np.round(values * ms_factor).astype(np.int64)
    units = {
        "seconds": int((a < 1e11).sum()),
        "milliseconds": int(((a >= 1e11) & (a < 1e14)).sum()),
        "microseconds": int(((a >= 1e14) & (a < 1e17)).sum()),
        "nanoseconds": int((a >= 1e17).sum()),
    }
    return ms * 1_000_000, {k: v for k, v in units.items() if v}


def _parse_times(
    path: Path,
    lay: _Layout,
    df: Any,
    tz: str,
    close_offset: pd.Timedelta,
    lineno: IntArray,
    lines: _Lines,
    notes: list[str],
) -> tuple[IntArray, bool, bool, bool]:
    """Return (ns UTC labels as in the file, is_daily, open_labelled, continuous)."""
    if len(lay.time_cols) == 2:
        d = df[lay.time_cols[0]].str.strip()
        t = df[lay.time_cols[1]].str.strip()
        tfmt = "%H:%M:%S" if t.str.len().max() > 5 else "%H:%M"
        dfmt = "%Y%m%d" if d.str.len().max() == 8 and d.str.isdigit().all() else "%Y-%m-%d"
        raw = d + " " + t
        naive = pd.to_datetime(raw, format=f"{dfmt} {tfmt}", errors="coerce")
        _bad_time(path, naive, raw, lineno, lines, f"date/time (want {dfmt} {tfmt})")
        ns = _localize(path, pd.DatetimeIndex(naive), tz, lineno, lines)
        notes.append(f"naive times read as {tz}")
        open_lab = bool(lay.open_labelled)
        return ns, False, open_lab, False

    raw = df[lay.time_cols[0]].str.strip()
    _bad_time(path, raw.where(raw != ""), raw, lineno, lines, lay.time_name)
    num = pd.to_numeric(raw, errors="coerce")
    numeric_share = float(num.notna().mean()) if len(num) else 0.0
    if numeric_share > 0.5:
        _bad_time(path, num, raw, lineno, lines, f"{lay.time_name} as a number")
        vals = num.to_numpy(dtype=np.float64)
        is_int = np.all(vals == np.round(vals))
        if is_int and np.all((vals >= 19000101) & (vals <= 21001231)):
            dates = pd.to_datetime(raw, format="%Y%m%d", errors="coerce")
            _bad_time(path, dates, raw, lineno, lines, "date (want YYYYMMDD)")
            naive = pd.DatetimeIndex(dates) + close_offset
            notes.append(f"daily bars labelled at the session close in {tz}")
            return _localize(path, naive, tz, lineno, lines), True, False, False
        ns, units = _epoch_ns(vals)
        notes.append(
            "epoch times (UTC) in "
            + ", ".join(f"{k} x{v}" for k, v in units.items())
            + (" - MIXED units, detected per value" if len(units) > 1 else "")
        )
        open_lab = bool(lay.open_labelled)
        return ns, False, open_lab, True

    if bool(raw.str.fullmatch(_DATE_ONLY_RE).all()):
        dates = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
        _bad_time(path, dates, raw, lineno, lines, "date (want YYYY-MM-DD)")
        naive = pd.DatetimeIndex(dates) + close_offset
        notes.append(f"daily bars labelled at the session close in {tz}")
        return _localize(path, naive, tz, lineno, lines), True, False, False

    has_off = raw.str.contains(_OFFSET_RE, regex=True).to_numpy(dtype=bool)
    ns = np.zeros(len(raw), dtype=np.int64)
    if has_off.any():
        part = raw[has_off]
        aware = pd.to_datetime(part, format="ISO8601", utc=True, errors="coerce")
        _bad_time(path, aware, part, lineno[has_off], lines, f"{lay.time_name} (want ISO 8601)")
        ns[has_off] = pd.DatetimeIndex(aware).tz_localize(None).as_unit("ns").asi8
        notes.append("timestamps carry their own UTC offset")
    if (~has_off).any():
        part = raw[~has_off]
        naive = pd.to_datetime(part, format="ISO8601", errors="coerce")
        sub_lines = lineno[~has_off]
        _bad_time(path, naive, part, sub_lines, lines, f"{lay.time_name} (want ISO 8601)")
        zone = "UTC" if lay.utc else tz
        ns[~has_off] = _localize(path, pd.DatetimeIndex(naive), zone, sub_lines, lines)
        notes.append(f"naive times read as {zone}")
    continuous = lay.utc or bool(has_off.all())
    open_lab = True if lay.open_labelled is None else lay.open_labelled
    return ns, False, open_lab, continuous


def _median_step(ns: IntArray) -> int:
    u = np.unique(ns)
    if u.size < 2:
        return 0
    return int(np.median(np.diff(u)))


def _parse_file(path: Path, tz: str, fmt: str, close_offset: pd.Timedelta) -> _Parsed:
    text = _read_text(path)
    lay = _layout(path, text, fmt)
    lines = _Lines(text)
    body, lineno, blanks = _body(text, lay.first_data_line)
    if not body:
        raise DataFileError(path, f"no data rows after the header ({lay.fmt} layout)")
    df = _read_frame(path, lay, body, lineno, lines)
    if len(df) != len(lineno):  # pragma: no cover - defensive: tokenizer disagreed with us
        raise DataFileError(path, f"read {len(df)} rows but the file has {len(lineno)} lines")
    _check_short_rows(path, lay, df, lineno, lines)
    notes = list(lay.notes)
    names = ("open", "high", "low", "close", "volume")
    values = np.column_stack(
        [_numeric(path, df, c, n, lineno, lines) for c, n in zip(lay.ohlcv, names)]
    ).astype(np.float64)
    ns, daily, open_lab, continuous = _parse_times(
        path, lay, df, tz, close_offset, lineno, lines, notes
    )
    if open_lab:
        step = _median_step(ns)
        if step > 0:
            ns = ns + step
            notes.append(f"bar OPEN times shifted by +{step // _NS_PER_S} s to bar END labels")
    return _Parsed(
        name=path.name,
        fmt=lay.fmt,
        ts=ns,
        values=values,
        line=lineno,
        daily=daily,
        continuous=continuous,
        blank_lines=blanks,
        notes=notes,
    )

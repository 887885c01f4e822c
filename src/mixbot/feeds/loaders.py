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
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from mixbot.errors import ConfigError, DataFileError
from mixbot.feeds.quality import MAX_EXAMPLES, QualityReport

__all__ = ["COLUMNS", "FORMATS", "LoadResult", "detect_format", "load_bars", "load_many"]

#: Columns of every returned frame, in order.
COLUMNS = ["open", "high", "low", "close", "volume"]

#: Format names accepted by ``fmt`` (plus ``"auto"``), with a one-line description.
FORMATS: dict[str, str] = {
    "yfinance": "yfinance 3-line header 'Price,Adj Close,Close,...' / 'Ticker,...' / 'Date,,,'",
    "vendor_1min": "no header: SYMBOL,YYYYMMDD,HH:MM,open,high,low,close,volume[,oi]",
    "binance": "CryptoDataDownload 'unix,date,symbol,open,high,low,close,Volume XXX,...'",
    "backtrader_csv": "'Date,Open,High,Low,Close,Adj Close,Volume'",
    "generic": (
        "a header with a date/datetime/time/timestamp/open_time/unix column and "
        "open,high,low,close,volume (any case, extra columns ignored)"
    ),
}

JUMP_THRESHOLD = 0.25
_UTC_FORMATS = {"binance"}
_TIME_NAMES_PRIORITY = ("open_time", "unix", "timestamp", "datetime", "date", "time")
_OPEN_LABELLED_NAMES = {"open_time", "unix"}
_VENDOR_RE = re.compile(r"^[^,]*,\d{8},\d{1,2}:\d{2}(?::\d{2})?(?:,[^,]*){5,6}$")
_OFFSET_RE = r"(?:Z|[+-]\d{2}:?\d{2})$"
_DATE_ONLY_RE = r"\d{4}-\d{2}-\d{2}"
_NS_PER_S = 1_000_000_000

IntArray = npt.NDArray[np.int64]


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


@dataclass(frozen=True)
class _Layout:
    """Where things are in a file of one format (positions are 0-based field indexes)."""

    fmt: str
    first_data_line: int  # 0-based index of the first data line in the normalised text
    nfields: tuple[int, ...]  # accepted number of fields per data row
    time_cols: tuple[int, ...]  # one column, or (date, time) to be joined
    time_name: str
    ohlcv: tuple[int, int, int, int, int]
    open_labelled: bool | None  # None: decide from the values (intraday -> open)
    utc: bool  # naive values are UTC, not ``tz``
    notes: tuple[str, ...] = ()


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


# --------------------------------------------------------------------------- reading text


def _read_text(path: Path) -> str:
    """Return the file's text with line endings normalised to ``\\n`` (LF, CRLF, CR)."""
    if not path.exists():
        raise DataFileError(path, "file not found")
    if path.is_dir():
        raise DataFileError(path, "is a folder, not a data file (use load_many for a folder)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DataFileError(path, "file is empty")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    norm = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"\x00" in norm[:65536]:
        line = norm[: norm.index(b"\x00")].count(b"\n") + 1
        raise DataFileError(path, "binary file (NUL bytes), not CSV text", line=line)
    try:
        return norm.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = norm[: exc.start].count(b"\n") + 1
        bad = norm[exc.start : exc.start + 1].hex()
        raise DataFileError(
            path,
            f"not UTF-8 text (byte 0x{bad} at offset {exc.start}); re-save the file as UTF-8",
            line=line,
        ) from exc


def _head_lines(text: str, n: int = 6) -> list[tuple[int, str]]:
    """The first ``n`` non-blank lines as (0-based line index, text)."""
    out: list[tuple[int, str]] = []
    pos = 0
    idx = 0
    while len(out) < n and pos <= len(text):
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        line = text[pos:end]
        if line.strip():
            out.append((idx, line))
        pos = end + 1
        idx += 1
    return out


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _short(text: str, limit: int = 80) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- layouts


def _layout_yfinance(head: list[tuple[int, str]]) -> _Layout | None:
    if len(head) < 3:
        return None
    f0 = [x.strip().lower() for x in _fields(head[0][1])]
    f1 = _fields(head[1][1])
    f2 = _fields(head[2][1])
    if not (f0 and f0[0] == "price" and f1 and f1[0].strip().lower() == "ticker"):
        return None
    if not (f2 and f2[0].strip().lower() in ("date", "datetime")):
        return None
    try:
        o, h, lo, c, v = (f0.index(k) for k in ("open", "high", "low", "close", "volume"))
    except ValueError:
        return None
    ticker = f1[c].strip() if c < len(f1) else "?"
    return _Layout(
        fmt="yfinance",
        first_data_line=head[2][0] + 1,
        nfields=(len(f0),),
        time_cols=(0,),
        time_name=f2[0].strip(),
        ohlcv=(o, h, lo, c, v),
        open_labelled=None,
        utc=False,
        notes=(f"ticker {ticker}; prices from 'Close' (not 'Adj Close')",),
    )


def _layout_binance(head: list[tuple[int, str]]) -> _Layout | None:
    if not head:
        return None
    i = 1 if head[0][1].lower().startswith("http") and len(head) > 1 else 0
    names = [x.strip().lower() for x in _fields(head[i][1])]
    if names[:3] != ["unix", "date", "symbol"]:
        return None
    vols = [k for k, n in enumerate(names) if n.startswith("volume")]
    try:
        o, h, lo, c = (names.index(k) for k in ("open", "high", "low", "close"))
    except ValueError:
        return None
    if not vols:
        return None
    raw_names = _fields(head[i][1])
    return _Layout(
        fmt="binance",
        first_data_line=head[i][0] + 1,
        nfields=(len(names),),
        time_cols=(0,),
        time_name="unix",
        ohlcv=(o, h, lo, c, vols[0]),
        open_labelled=True,
        utc=True,
        notes=(f"volume from column '{raw_names[vols[0]].strip()}'",),
    )


def _layout_backtrader(head: list[tuple[int, str]]) -> _Layout | None:
    if not head:
        return None
    names = [x.strip().lower() for x in _fields(head[0][1])]
    if names != ["date", "open", "high", "low", "close", "adj close", "volume"]:
        return None
    return _Layout(
        fmt="backtrader_csv",
        first_data_line=head[0][0] + 1,
        nfields=(7,),
        time_cols=(0,),
        time_name="Date",
        ohlcv=(1, 2, 3, 4, 6),
        open_labelled=None,
        utc=False,
        notes=("prices from 'Close' (not 'Adj Close')",),
    )


def _layout_vendor(head: list[tuple[int, str]]) -> _Layout | None:
    if not head or not _VENDOR_RE.match(head[0][1].strip()):
        return None
    return _Layout(
        fmt="vendor_1min",
        first_data_line=head[0][0],
        nfields=(8, 9),
        time_cols=(1, 2),
        time_name="date+time",
        ohlcv=(3, 4, 5, 6, 7),
        open_labelled=False,
        utc=False,
        notes=(f"symbol {_fields(head[0][1])[0].strip()}; times are bar-end minutes",),
    )


def _layout_generic(head: list[tuple[int, str]]) -> _Layout | None:
    if not head:
        return None
    raw = _fields(head[0][1])
    names = [x.strip().strip('"').lower() for x in raw]
    try:
        o, h, lo, c, v = (names.index(k) for k in ("open", "high", "low", "close", "volume"))
    except ValueError:
        return None
    present = [n for n in _TIME_NAMES_PRIORITY if n in names]
    if not present:
        return None
    tname = present[0]
    tcols: tuple[int, ...] = (names.index(tname),)
    if tname == "date" and "time" in names:
        tcols = (names.index("date"), names.index("time"))
        tname = "date+time"
    notes: list[str] = []
    if names[0] in ("", "unnamed: 0", "index"):
        notes.append("leading index column ignored")
    return _Layout(
        fmt="generic",
        first_data_line=head[0][0] + 1,
        nfields=(len(names),),
        time_cols=tcols,
        time_name=tname,
        ohlcv=(o, h, lo, c, v),
        open_labelled=tname in _OPEN_LABELLED_NAMES,
        utc=False,
        notes=tuple(notes),
    )


_BUILDERS = {
    "yfinance": _layout_yfinance,
    "binance": _layout_binance,
    "backtrader_csv": _layout_backtrader,
    "vendor_1min": _layout_vendor,
    "generic": _layout_generic,
}


def _known_layouts() -> str:
    return "; ".join(f"{k}: {v}" for k, v in FORMATS.items())


def _layout(path: Path, text: str, fmt: str) -> _Layout:
    head = _head_lines(text)
    if fmt == "auto":
        for builder in _BUILDERS.values():
            lay = builder(head)
            if lay is not None:
                return lay
        first = head[0][1] if head else ""
        raise DataFileError(
            path,
            f"unrecognised layout, first line {_short(first)!r}. Known layouts: {_known_layouts()}",
            line=(head[0][0] + 1) if head else None,
        )
    if fmt not in _BUILDERS:
        raise ConfigError(f"unknown bar file format {fmt!r}; use 'auto' or one of {list(FORMATS)}")
    lay = _BUILDERS[fmt](head)
    if lay is None:
        first = head[0][1] if head else ""
        raise DataFileError(
            path,
            f"does not match format {fmt!r} ({FORMATS[fmt]}); first line {_short(first)!r}",
            line=(head[0][0] + 1) if head else None,
        )
    return lay


def detect_format(path: str | Path) -> str:
    """Return the format name of a bar file by sniffing its first lines.

    Args:
        path: the file.

    Returns:
        One of :data:`FORMATS` (``"yfinance"``, ``"vendor_1min"``, ``"binance"``,
        ``"backtrader_csv"``, ``"generic"``).

    Raises:
        DataFileError: file missing, empty, not UTF-8, or in no known layout (the message
            lists the known layouts).
    """
    p = Path(path)
    return _layout(p, _read_text(p), "auto").fmt


# --------------------------------------------------------------------------- parsing


class _Lines:
    """Lazy access to raw lines of a text, for error messages."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: list[str] | None = None

    def get(self, lineno: int) -> str:
        if self._lines is None:
            self._lines = self._text.split("\n")
        return self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else ""


def _fail(path: Path, lines: _Lines, lineno: int, problem: str) -> DataFileError:
    return DataFileError(path, f"{problem}: {_short(lines.get(lineno))!r}", line=lineno)


def _body(text: str, first_data_line: int) -> tuple[str, IntArray, int]:
    """Data part of the text, 1-based line number of each data line, blank-line count."""
    pos = 0
    for _ in range(first_data_line):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return "", np.zeros(0, dtype=np.int64), 0
        pos = nxt + 1
    body = text[pos:]
    stripped = body.rstrip("\n")
    if not stripped.strip():
        return "", np.zeros(0, dtype=np.int64), 0
    if re.search(r"(?:^|\n)[ \t]*(?:\n|$)", stripped) is None:
        n = stripped.count("\n") + 1
        return stripped, np.arange(n, dtype=np.int64) + first_data_line + 1, 0
    parts = stripped.split("\n")
    keep = [i for i, s in enumerate(parts) if s.strip()]
    blanks = len(parts) - len(keep)
    return (
        "\n".join(parts[i] for i in keep),
        np.asarray(keep, dtype=np.int64) + first_data_line + 1,
        blanks,
    )


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

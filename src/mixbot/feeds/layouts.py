"""Bar file layouts: the known formats (:data:`FORMATS`) and sniffing which one a file is in.

A :class:`_Layout` says where the time and OHLCV columns of one format are, which line the
data starts on and how its timestamps are labelled; :func:`detect_format` and
:func:`_layout` choose it from the first non-blank lines of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mixbot.errors import ConfigError, DataFileError
from mixbot.feeds.text import _fields, _head_lines, _read_text, _short

__all__ = ["FORMATS", "detect_format"]

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

_UTC_FORMATS = {"binance"}
_TIME_NAMES_PRIORITY = ("open_time", "unix", "timestamp", "datetime", "date", "time")
_OPEN_LABELLED_NAMES = {"open_time", "unix"}
_VENDOR_RE = re.compile(r"^[^,]*,\d{8},\d{1,2}:\d{2}(?::\d{2})?(?:,[^,]*){5,6}$")


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

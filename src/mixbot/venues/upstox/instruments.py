"""The Upstox instruments master: download, cache, and symbol -> instrument key resolution.

Files (https://upstox.com/developer/api-documentation/instruments), gzip JSON arrays refreshed
daily before the open, under :func:`mixbot.venues.upstox.http.hosts.assets_base`
(``$MIXBOT_UPSTOX_ASSETS``)::

    {assets}/market-quote/instruments/exchange/NSE.json.gz
    {assets}/market-quote/instruments/exchange/BSE.json.gz
    {assets}/market-quote/instruments/exchange/complete.json.gz

One record (equity)::

    {"segment": "NSE_EQ", "name": "RELIANCE INDUSTRIES LTD", "exchange": "NSE",
     "isin": "INE002A01018", "instrument_type": "EQ", "instrument_key": "NSE_EQ|INE002A01018",
     "lot_size": 1, "freeze_quantity": 100000.0, "exchange_token": "2885", "tick_size": 5.0,
     "trading_symbol": "RELIANCE", "short_name": "Reliance Industries", "security_type": "NORMAL"}

Indices have ``segment`` ``NSE_INDEX`` and keys like ``NSE_INDEX|Nifty 50``. Derivatives carry
``expiry`` as epoch milliseconds. In the JSON files ``tick_size`` is in PAISE (5.0 = INR 0.05;
the deprecated CSV files gave INR): :class:`Instrument` converts it to INR.

Cached under ``data/upstox/instruments/`` (relative to the working directory unless given),
refreshed when older than a day; when the download fails, a stale cache is used with a warning.
"""

from __future__ import annotations

import datetime as dt
import difflib
import gzip
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mixbot.errors import ConfigError
from mixbot.venues.upstox.http import hosts
from mixbot.venues.upstox.http.errors import UnknownInstrumentError, UpstoxError

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
DEFAULT_CACHE_DIR = Path("data") / "upstox" / "instruments"
MASTER_FILES = {"NSE": "NSE.json.gz", "BSE": "BSE.json.gz", "complete": "complete.json.gz"}
MAX_AGE = dt.timedelta(days=1)

#: ``SEGMENT|rest``: e.g. ``NSE_EQ|INE002A01018``, ``NSE_INDEX|Nifty 50``, ``NSE_FO|35001``.
KEY_RE = re.compile(r"^[A-Z]{2,4}_[A-Z]{2,6}\|\S(?:.*\S)?$")


@dataclass(frozen=True)
class Instrument:
    """One row of the instruments master.

    Attributes:
        instrument_key: Upstox's id, e.g. ``"NSE_EQ|INE002A01018"`` (use it in every API call).
        trading_symbol: exchange symbol, e.g. ``"RELIANCE"``.
        name: company or index name.
        segment: ``NSE_EQ``, ``NSE_INDEX``, ``NSE_FO``, ``BSE_EQ``, ...
        exchange: ``NSE``, ``BSE``, ...
        instrument_type: ``EQ``, ``INDEX``, ``FUT``, ``CE``, ``PE``, ...
        lot_size: shares per lot (1 for cash equities).
        tick_size: minimum price step in INR (converted from the file's paise).
        freeze_quantity: exchange freeze quantity (max shares per order), or None.
        isin, exchange_token: or None.
        expiry: derivative expiry date (IST), or None.
    """

    instrument_key: str
    trading_symbol: str
    name: str
    segment: str
    exchange: str
    instrument_type: str
    lot_size: int = 1
    tick_size: float = 0.05
    freeze_quantity: float | None = None
    isin: str | None = None
    exchange_token: str | None = None
    expiry: dt.date | None = None

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Instrument:
        """Build from one JSON record of the master (see the module docstring)."""
        key = str(row["instrument_key"])
        segment = str(row.get("segment") or key.split("|", 1)[0])
        tick = row.get("tick_size")
        return cls(
            instrument_key=key,
            trading_symbol=str(row.get("trading_symbol") or row.get("tradingsymbol") or ""),
            name=str(row.get("name") or ""),
            segment=segment,
            exchange=str(row.get("exchange") or segment.split("_", 1)[0]),
            instrument_type=str(row.get("instrument_type") or ""),
            lot_size=int(row.get("lot_size") or 1),
            tick_size=round(float(tick) / 100.0, 6) if tick not in (None, "") else 0.05,
            freeze_quantity=_float_or_none(row.get("freeze_quantity")),
            isin=row.get("isin") or None,
            exchange_token=str(row["exchange_token"]) if row.get("exchange_token") else None,
            expiry=_expiry(row.get("expiry")),
        )


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _expiry(value: Any) -> dt.date | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float):  # epoch milliseconds
        return dt.datetime.fromtimestamp(float(value) / 1000.0, IST).date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def master_url(name: str = "NSE") -> str:
    """URL of a master file: ``name`` is ``"NSE"``, ``"BSE"`` or ``"complete"``."""
    try:
        fname = MASTER_FILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown instruments file {name!r}: use one of {', '.join(MASTER_FILES)}"
        ) from None
    return f"{hosts.assets_base()}/market-quote/instruments/exchange/{fname}"


def download_master(
    name: str = "NSE",
    *,
    cache_dir: Path | None = None,
    max_age: dt.timedelta = MAX_AGE,
    client: Any = None,
    offline: bool = False,
) -> Path:
    """The cached master file, downloaded when missing or older than ``max_age``.

    Args:
        name: ``"NSE"``, ``"BSE"`` or ``"complete"``.
        cache_dir: default ``data/upstox/instruments``.
        max_age: refresh age.
        client: an :class:`~mixbot.venues.upstox.http.client.UpstoxClient` (default: a new one).
        offline: never download; use the cache whatever its age.

    Raises:
        UpstoxError: the download failed and there is no cached copy (or ``offline`` and none).
    """
    from mixbot.venues.upstox.http.client import UpstoxClient

    url = master_url(name)
    d = cache_dir or DEFAULT_CACHE_DIR
    path = d / MASTER_FILES[name]
    if path.is_file():
        age = dt.timedelta(seconds=time.time() - path.stat().st_mtime)
        if offline or age < max_age:
            return path
    elif offline:
        raise UpstoxError(f"no cached instruments file {path} (offline): run once online")
    own = client is None
    cl = client or UpstoxClient()
    try:
        data = cl.download(url)
        _check_gzip_json(data, url)
    except UpstoxError as exc:
        if path.is_file():
            log.warning("instruments download failed (%s); using the cached %s", exc, path)
            return path
        raise
    finally:
        if own:
            cl.close()
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=d)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    log.info("downloaded %s (%d bytes) to %s", url, len(data), path)
    return path


def _check_gzip_json(data: bytes, url: str) -> None:
    if not data.startswith(b"\x1f\x8b"):
        raise UpstoxError(f"{url} is not a gzip file ({data[:40]!r}...)")


def read_master(path: Path) -> list[Instrument]:
    """Parse a gzip (or plain) JSON master file.

    Raises:
        ConfigError: the file is not a JSON array of instrument records.
    """
    raw = path.read_bytes()
    try:
        text = gzip.decompress(raw) if raw.startswith(b"\x1f\x8b") else raw
        rows = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not an instruments JSON file ({exc})") from None
    if not isinstance(rows, list):
        raise ConfigError(f"{path}: expected a JSON array of instruments")
    out = []
    for row in rows:
        if isinstance(row, dict) and row.get("instrument_key"):
            out.append(Instrument.from_json(row))
    return out


def _norm(text: str) -> str:
    return " ".join(text.upper().split())


def _squash(text: str) -> str:
    return "".join(text.upper().split())


#: Segment preference per exchange for a bare symbol (cash equity first, then index).
_SEGMENT_ORDER = {
    "NSE": ("NSE_EQ", "NSE_INDEX", "NSE_FO"),
    "BSE": ("BSE_EQ", "BSE_INDEX", "BSE_FO"),
}
_EQ_TYPE_ORDER = ("EQ", "BE", "BZ", "SM", "ST")


class InstrumentMaster:
    """Look-ups over a list of :class:`Instrument` (build with :meth:`load` or from rows)."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_key: dict[str, Instrument] = {}
        self._by_symbol: dict[str, list[Instrument]] = {}
        self._index_alias: dict[str, list[Instrument]] = {}
        for ins in instruments:
            self._by_key[ins.instrument_key] = ins
            self._by_symbol.setdefault(_norm(ins.trading_symbol), []).append(ins)
            if ins.segment.endswith("_INDEX"):
                aliases = {
                    _squash(ins.trading_symbol),
                    _squash(ins.name),
                    _squash(ins.instrument_key.split("|", 1)[1]),
                }
                for alias in aliases - {""}:
                    self._index_alias.setdefault(alias, []).append(ins)

    @classmethod
    def load(
        cls,
        files: Iterable[str] = ("NSE",),
        *,
        cache_dir: Path | None = None,
        client: Any = None,
        offline: bool = False,
        max_age: dt.timedelta = MAX_AGE,
    ) -> InstrumentMaster:
        """Download (or reuse the cache of) the named master files and index them.

        Raises:
            UpstoxError: a file cannot be downloaded and is not cached.
        """
        rows: list[Instrument] = []
        for name in files:
            path = download_master(
                name, cache_dir=cache_dir, client=client, offline=offline, max_age=max_age
            )
            rows.extend(read_master(path))
        return cls(rows)

    @classmethod
    def from_file(cls, path: Path) -> InstrumentMaster:
        """Index one master file (gzip or plain JSON)."""
        return cls(read_master(path))

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, instrument_key: str) -> Instrument | None:
        """The instrument with this exact key, or None."""
        return self._by_key.get(instrument_key)

    def resolve(self, symbol: str, exchange: str = "NSE") -> Instrument:
        """The instrument for a symbol, index name or instrument key.

        * ``"NSE_EQ|INE002A01018"``: an instrument key, checked against the master;
        * ``"RELIANCE"``: the cash equity on ``exchange`` (``NSE_EQ``, series EQ preferred),
          else an index, else a derivative with that exact trading symbol;
        * ``"NIFTY 50"``, ``"Nifty 50"``, ``"NIFTY50"``: the index (``NSE_INDEX|Nifty 50``),
          matched on trading symbol, name or key without case or spaces;
        * ``"BSE:RELIANCE"``: an explicit exchange prefix overrides ``exchange``.

        Raises:
            UnknownInstrumentError: not found; the message lists close matches.
        """
        text = symbol.strip()
        exch = exchange.strip().upper()
        if "|" in text:
            if not KEY_RE.match(text):
                raise UnknownInstrumentError(
                    f"{text!r} is not an Upstox instrument key (like NSE_EQ|INE002A01018)"
                )
            ins = self._by_key.get(text)
            if ins is None:
                near = difflib.get_close_matches(text, list(self._by_key), n=5, cutoff=0.8)
                raise UnknownInstrumentError(
                    f"instrument key {text!r} is not in the Upstox instruments master"
                    + _did_you_mean(near),
                    near,
                )
            return ins
        m = re.match(r"^([A-Za-z]{3}):(.+)$", text)
        if m:
            exch, text = m.group(1).upper(), m.group(2).strip()
        order = _SEGMENT_ORDER.get(exch, (f"{exch}_EQ", f"{exch}_INDEX", f"{exch}_FO"))
        rank = {seg: i for i, seg in enumerate(order)}
        found = [
            ins
            for ins in self._by_symbol.get(_norm(text), [])
            if ins.exchange.upper() == exch or ins.segment in rank
        ]
        found += [
            ins
            for ins in self._index_alias.get(_squash(text), [])
            if ins.segment in rank and ins not in found
        ]
        if found:

            def score(ins: Instrument) -> tuple[int, int, str]:
                t = ins.instrument_type.upper()
                eq = _EQ_TYPE_ORDER.index(t) if t in _EQ_TYPE_ORDER else len(_EQ_TYPE_ORDER)
                return (rank.get(ins.segment, len(rank)), eq, ins.instrument_key)

            return min(found, key=score)
        candidates = sorted(
            {
                ins.trading_symbol
                for ins in self._by_key.values()
                if ins.segment in (f"{exch}_EQ", f"{exch}_INDEX")
            }
            | {
                ins.name
                for ins in self._by_key.values()
                if ins.segment == f"{exch}_INDEX" and ins.name
            }
        )
        upper = {c.upper(): c for c in candidates}
        near = [upper[c] for c in difflib.get_close_matches(text.upper(), list(upper), n=5)]
        raise UnknownInstrumentError(
            f"no {exch} instrument {text!r} in the Upstox instruments master" + _did_you_mean(near),
            near,
        )


def _did_you_mean(near: list[str]) -> str:
    return f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""

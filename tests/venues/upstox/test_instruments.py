"""Instruments master: download + cache, parsing of the real JSON format, symbol resolution."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mixbot.errors import ConfigError
from mixbot.venues.upstox.http.client import UpstoxClient
from mixbot.venues.upstox.http.errors import UnknownInstrumentError, UpstoxError
from mixbot.venues.upstox.instruments import (
    InstrumentMaster,
    download_master,
    master_url,
    read_master,
)

# Records in the layout of Upstox's JSON BOD files (tick_size in paise, expiry in epoch ms).
ROWS: list[dict[str, Any]] = [
    {
        "segment": "NSE_EQ",
        "name": "RELIANCE INDUSTRIES LTD",
        "exchange": "NSE",
        "isin": "INE002A01018",
        "instrument_type": "EQ",
        "instrument_key": "NSE_EQ|INE002A01018",
        "lot_size": 1,
        "freeze_quantity": 100000.0,
        "exchange_token": "2885",
        "tick_size": 10.0,
        "trading_symbol": "RELIANCE",
        "short_name": "Reliance Industries",
        "security_type": "NORMAL",
    },
    {
        "segment": "NSE_EQ",
        "name": "TATA CONSULTANCY SERV LT",
        "exchange": "NSE",
        "isin": "INE467B01029",
        "instrument_type": "EQ",
        "instrument_key": "NSE_EQ|INE467B01029",
        "lot_size": 1,
        "freeze_quantity": 100000.0,
        "exchange_token": "11536",
        "tick_size": 5.0,
        "trading_symbol": "TCS",
    },
    {  # same symbol in a trade-for-trade series: EQ must win
        "segment": "NSE_EQ",
        "name": "RELIANCE INDUSTRIES LTD",
        "exchange": "NSE",
        "instrument_type": "BE",
        "instrument_key": "NSE_EQ|INE002A01XXX",
        "trading_symbol": "RELIANCE",
        "tick_size": 5.0,
    },
    {
        "segment": "BSE_EQ",
        "name": "RELIANCE INDUSTRIES LTD.",
        "exchange": "BSE",
        "isin": "INE002A01018",
        "instrument_type": "A",
        "instrument_key": "BSE_EQ|INE002A01018",
        "exchange_token": "500325",
        "tick_size": 5.0,
        "trading_symbol": "RELIANCE",
        "lot_size": 1,
    },
    {
        "segment": "NSE_INDEX",
        "name": "Nifty 50",
        "exchange": "NSE",
        "instrument_type": "INDEX",
        "instrument_key": "NSE_INDEX|Nifty 50",
        "exchange_token": "26000",
        "trading_symbol": "NIFTY",
    },
    {
        "segment": "NSE_INDEX",
        "name": "Nifty Bank",
        "exchange": "NSE",
        "instrument_type": "INDEX",
        "instrument_key": "NSE_INDEX|Nifty Bank",
        "exchange_token": "26009",
        "trading_symbol": "BANKNIFTY",
    },
    {
        "segment": "NSE_FO",
        "name": "BANKNIFTY",
        "exchange": "NSE",
        "expiry": 1738261799000,  # 2025-01-30 23:59:59 IST
        "instrument_type": "FUT",
        "asset_symbol": "BANKNIFTY",
        "underlying_symbol": "BANKNIFTY",
        "instrument_key": "NSE_FO|35005",
        "lot_size": 30,
        "freeze_quantity": 900.0,
        "exchange_token": "35005",
        "tick_size": 20.0,
        "trading_symbol": "BANKNIFTY FUT 30 JAN 25",
        "underlying_key": "NSE_INDEX|Nifty Bank",
    },
]


def write_master(path: Path, rows: list[dict] = ROWS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(rows).encode()))
    return path


@pytest.fixture
def master(tmp_path: Path) -> InstrumentMaster:
    return InstrumentMaster.from_file(write_master(tmp_path / "NSE.json.gz"))


def test_parse_real_format(tmp_path: Path) -> None:
    rows = read_master(write_master(tmp_path / "m.json.gz"))
    rel = rows[0]
    assert rel.instrument_key == "NSE_EQ|INE002A01018"
    assert rel.trading_symbol == "RELIANCE" and rel.segment == "NSE_EQ"
    assert rel.tick_size == pytest.approx(0.10)  # paise -> INR
    assert rel.lot_size == 1 and rel.freeze_quantity == 100000.0
    assert rel.isin == "INE002A01018" and rel.exchange_token == "2885" and rel.expiry is None
    fut = rows[-1]
    assert fut.expiry == dt.date(2025, 1, 30) and fut.lot_size == 30
    assert fut.tick_size == pytest.approx(0.20)


def test_resolve_equity_prefers_nse_eq_series_eq(master: InstrumentMaster) -> None:
    ins = master.resolve("RELIANCE")
    assert ins.instrument_key == "NSE_EQ|INE002A01018"
    assert master.resolve(" reliance ").instrument_key == "NSE_EQ|INE002A01018"
    assert master.resolve("RELIANCE", exchange="BSE").instrument_key == "BSE_EQ|INE002A01018"
    assert master.resolve("BSE:RELIANCE").instrument_key == "BSE_EQ|INE002A01018"
    assert master.resolve("NSE:TCS").instrument_key == "NSE_EQ|INE467B01029"


@pytest.mark.parametrize("text", ["NIFTY 50", "Nifty 50", "nifty50", "NIFTY", " Nifty  50 "])
def test_resolve_index_aliases(master: InstrumentMaster, text: str) -> None:
    ins = master.resolve(text)
    assert ins.instrument_key == "NSE_INDEX|Nifty 50" and ins.instrument_type == "INDEX"


def test_resolve_banknifty_is_the_index_not_the_future(master: InstrumentMaster) -> None:
    assert master.resolve("BANKNIFTY").instrument_key == "NSE_INDEX|Nifty Bank"
    assert master.resolve("Nifty Bank").instrument_key == "NSE_INDEX|Nifty Bank"
    assert master.resolve("BANKNIFTY FUT 30 JAN 25").instrument_key == "NSE_FO|35005"


def test_resolve_key_passes_through_and_is_validated(master: InstrumentMaster) -> None:
    assert master.resolve("NSE_FO|35005").trading_symbol == "BANKNIFTY FUT 30 JAN 25"
    assert master.resolve("NSE_INDEX|Nifty 50").name == "Nifty 50"
    with pytest.raises(UnknownInstrumentError, match="not in the Upstox instruments master") as ei:
        master.resolve("NSE_EQ|INE002A01019")
    assert "NSE_EQ|INE002A01018" in ei.value.suggestions
    with pytest.raises(UnknownInstrumentError, match="not an Upstox instrument key"):
        master.resolve("nse|x")


def test_unknown_symbol_did_you_mean(master: InstrumentMaster) -> None:
    with pytest.raises(UnknownInstrumentError) as ei:
        master.resolve("RELIANC")
    assert "did you mean 'RELIANCE'" in str(ei.value)
    assert isinstance(ei.value, ConfigError)  # the CLI prints it as a user error
    with pytest.raises(UnknownInstrumentError) as ei:
        master.resolve("NIFTY 5O")
    assert "NIFTY" in ei.value.suggestions[0].upper()
    with pytest.raises(UnknownInstrumentError, match="no NSE instrument 'ZZZZZZ'"):
        master.resolve("ZZZZZZ")


# -- download and cache --------------------------------------------------------------------------


class Assets:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.urls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        if self.status != 200:
            return httpx.Response(self.status, text="down")
        return httpx.Response(200, content=gzip.compress(json.dumps(ROWS).encode()))

    def client(self) -> UpstoxClient:
        return UpstoxClient(
            token="t", transport=httpx.MockTransport(self), sleep=lambda s: None, max_attempts=2
        )


def test_master_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXBOT_UPSTOX_ASSETS", "https://sim:8443/")
    assert master_url("NSE") == "https://sim:8443/market-quote/instruments/exchange/NSE.json.gz"
    assert master_url("complete").endswith("/exchange/complete.json.gz")
    with pytest.raises(ConfigError):
        master_url("NFO")


def test_download_cache_refresh_and_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIXBOT_UPSTOX_ASSETS", "https://assets.test")
    srv = Assets()
    cache = tmp_path / "data" / "upstox" / "instruments"
    path = download_master("NSE", cache_dir=cache, client=srv.client())
    assert path == cache / "NSE.json.gz" and path.is_file()
    assert srv.urls == ["https://assets.test/market-quote/instruments/exchange/NSE.json.gz"]
    download_master("NSE", cache_dir=cache, client=srv.client())
    assert len(srv.urls) == 1  # fresh cache: no download
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))
    download_master("NSE", cache_dir=cache, client=srv.client())
    assert len(srv.urls) == 2  # older than a day: refreshed
    os.utime(path, (old, old))
    down = Assets(status=503)
    assert download_master("NSE", cache_dir=cache, client=down.client()) == path  # stale cache
    assert len(down.urls) == 2  # retried (bounded), then fell back to the cache
    master = InstrumentMaster.load(["NSE"], cache_dir=cache, offline=True)
    assert master.resolve("TCS").instrument_key == "NSE_EQ|INE467B01029"
    assert sorted(p.name for p in cache.iterdir()) == ["NSE.json.gz"]


def test_download_failure_without_cache(tmp_path: Path) -> None:
    with pytest.raises(UpstoxError):
        download_master("BSE", cache_dir=tmp_path, client=Assets(status=404).client())
    with pytest.raises(UpstoxError, match="offline"):
        download_master("BSE", cache_dir=tmp_path, offline=True)


def test_download_rejects_non_gzip(tmp_path: Path) -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login</html>")

    client = UpstoxClient(token="t", transport=httpx.MockTransport(html))
    with pytest.raises(UpstoxError, match="not a gzip"):
        download_master("NSE", cache_dir=tmp_path, client=client)
    assert not (tmp_path / "NSE.json.gz").exists()


def test_corrupt_master(tmp_path: Path) -> None:
    bad = tmp_path / "NSE.json.gz"
    bad.write_bytes(gzip.compress(b"{oops"))
    with pytest.raises(ConfigError, match="not an instruments JSON"):
        read_master(bad)


# -- integration: the local Upstox simulator with real data (skipped when unavailable) ----------


# `sim` and `sim_env` fixtures: tests/venues/upstox/conftest.py


def test_sim_master(sim_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with UpstoxClient() as c:
        master = InstrumentMaster.load(["NSE"], cache_dir=tmp_path, client=c)
    assert master.resolve("RELIANCE").instrument_key == "NSE_EQ|INE002A01018"
    assert master.resolve("RELIANCE").tick_size == pytest.approx(0.05)
    fut = master.resolve("NSE_FO|35005")
    assert fut.instrument_type == "FUT" and fut.lot_size > 1
    assert (tmp_path / "NSE.json.gz").is_file()

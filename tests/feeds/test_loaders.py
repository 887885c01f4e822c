"""Tests of mixbot.feeds.loaders on the real market data (../shared/data) and on bad input.

Expected counts were checked independently with plain pandas (read_csv + boolean masks), not
with the loader itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixbot.errors import ConfigError, DataFileError
from mixbot.feeds.loaders import COLUMNS, LoadResult, detect_format, load_bars, load_many

TS = pd.Timestamp


def assert_clean_frame(res: LoadResult) -> None:
    """The frame contract every loader result must meet."""
    f = res.frame
    assert list(f.columns) == COLUMNS
    assert all(f[c].dtype == np.float64 for c in COLUMNS)
    assert isinstance(f.index, pd.DatetimeIndex)
    assert f.index.name == "datetime"
    assert f.index.tz is None
    assert f.index.is_unique
    assert f.index.is_monotonic_increasing
    assert (f[["open", "high", "low", "close"]] > 0).all().all()
    assert (f["high"] >= f[["open", "close", "low"]].max(axis=1)).all()
    assert (f["low"] <= f[["open", "close", "high"]].min(axis=1)).all()
    rep = res.report
    assert rep.rows_kept == len(f)
    assert rep.rows_read - rep.dropped == rep.rows_kept


# --------------------------------------------------------------------------- real data


def test_reliance_yfinance_daily(data_dir: Path) -> None:
    path = data_dir / "nse_daily" / "RELIANCE.csv"
    res = load_bars(path)  # its speed: benchmarks/data_speed.py
    assert_clean_frame(res)
    assert res.fmt == "yfinance"
    assert res.interval_seconds == 86400
    rep = res.report
    # pandas: 7255 data rows, 115 with O=H=L=C and Volume 0 (first on 1996-01-26, line 23).
    assert rep.rows_read == 7255
    assert rep.zero_volume_placeholders.count == 115
    assert rep.zero_volume_placeholders.examples[0] == "line 23 @ 1996-01-26 10:00"
    assert rep.dropped == 115
    assert rep.rows_kept == 7140
    assert rep.daily
    # every daily bar is labelled at 15:30 IST = 10:00 UTC
    assert set(zip(res.frame.index.hour, res.frame.index.minute)) == {(10, 0)}
    assert res.frame.index[0] == TS("1996-01-01 10:00")
    assert res.frame.index[-1] == TS("2024-11-22 10:00")
    assert TS("2019-10-27 10:00") in res.frame.index  # Muhurat session on a Sunday
    assert TS("1996-01-26 10:00") not in res.frame.index  # a placeholder
    # Close, not Adj Close (3.6130...) on the first row
    assert res.frame["close"].iloc[0] == pytest.approx(7.345901012420654)
    assert res.frame["volume"].iloc[-1] == 20467050.0
    assert rep.jumps.count == 2
    text = rep.render()
    assert text.splitlines()[0].startswith("RELIANCE.csv: kept 7140 of 7255 rows")
    assert "115 zero-volume placeholder" in text
    d = rep.to_dict()
    assert d["dropped"] == 115 and d["rows_read"] == 7255


def test_infy_high_low_repaired(data_dir: Path) -> None:
    # pandas: 120 placeholders; 40 of the remaining rows have high < max(o,l,c) or low > min.
    res = load_bars(data_dir / "nse_daily" / "INFY.csv")
    assert_clean_frame(res)
    assert res.report.rows_read == 7258
    assert res.report.zero_volume_placeholders.count == 120
    assert res.report.high_low_repaired.count == 40
    assert "repaired high/low on 40 bars" in res.report.render()


def test_banknifty_2019h1_vendor_1min(data_dir: Path) -> None:
    res = load_bars(data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt")
    assert_clean_frame(res)
    assert res.fmt == "vendor_1min"
    assert res.interval_seconds == 60
    assert res.report.rows_read == 45964
    assert res.report.rows_kept == 45964
    assert res.report.dropped == 0
    f = res.frame
    # first bar of 2019-01-01 ends at 09:16 IST = 03:46 UTC; last is a 16:36 IST straggler
    assert f.index[0] == TS("2019-01-01 03:46")
    assert f.index[-1] == TS("2019-06-28 11:06")
    assert f.iloc[0].tolist() == [27300.20, 27368.10, 27300.20, 27314.95, 18300.0]
    assert res.report.session == "09:16-15:31 Asia/Kolkata"


def test_cr_only_nifty_month(data_dir: Path) -> None:
    folder = data_dir / "nse_1min" / "NIFTY"
    cr_only = []
    for p in sorted(folder.iterdir()):
        raw = p.read_bytes()
        if b"\r" in raw and b"\r\n" not in raw and b"\n" not in raw:
            cr_only.append(p)
    assert [p.name for p in cr_only] == ["2017SepNIFTY.csv"]
    res = load_bars(cr_only[0])
    assert_clean_frame(res)
    assert res.fmt == "vendor_1min"
    assert res.report.rows_read == 7915 == res.report.rows_kept
    assert res.frame.index[0] == TS("2017-09-01 03:46")
    assert res.frame.index[-1] == TS("2017-09-29 11:01")  # 16:31 IST
    assert res.frame["open"].iloc[0] == 9945.3
    assert res.frame["volume"].iloc[0] == 132300.0


def test_banknifty_folder_load_many(data_dir: Path) -> None:
    files = sorted((data_dir / "nse_1min" / "BANKNIFTY").glob("*.txt"))
    assert len(files) == 27
    # independent count of rows and of July 2016 distinct minutes with plain pandas
    n_rows = sum(len(pd.read_csv(p, header=None)) for p in files)
    jul = pd.read_csv(data_dir / "nse_1min" / "BANKNIFTY" / "2016_GJUL.txt", header=None)
    jul_unique = (jul[1].astype(str) + jul[2]).nunique()
    assert (len(jul), jul_unique) == (14625, 7500)

    res = load_many(files)  # its speed: benchmarks/data_speed.py
    assert_clean_frame(res)
    rep = res.report
    assert rep.rows_read == n_rows == 215330
    # 7125 repeated July 2016 minutes + 377 repeated October 2017 minutes (all identical rows)
    assert rep.duplicates.count == 7502
    assert rep.duplicates.examples[0] == "2016_GJUL.txt:1 @ 2016-07-01 03:46"
    assert rep.rows_kept == 215330 - 7502
    assert rep.order == "unsorted"
    july = res.frame.loc["2016-07-01":"2016-07-31 23:59"]
    assert len(july) == 7500
    assert res.frame.index[0] == TS("2016-01-01 03:46")
    assert "kept the LAST occurrence" in rep.render()


def test_binance_hourly_reverse_mixed_epoch_duplicates(data_dir: Path) -> None:
    path = data_dir / "crypto" / "Binance_BTCUSDT_1h.csv"
    res = load_bars(path, tz="UTC")
    assert_clean_frame(res)
    assert res.fmt == "binance"
    assert res.interval_seconds == 3600
    rep = res.report
    # pandas: 36062 rows; unix < 1e11 are seconds (28584), others ms (7478); after per-value
    # units 2649 duplicated hours; 117 placeholders; 16 missing hours in the raw grid.
    assert rep.rows_read == 36062
    assert rep.order == "newest-first"
    assert rep.duplicates.count == 2649
    assert rep.zero_volume_placeholders.count == 117
    assert rep.rows_kept == 36062 - 2649 - 117 == 33296
    assert rep.missing_bars == 16 + 117
    assert any("seconds x28584, milliseconds x7478" in n for n in rep.notes)
    # open times shifted one hour to bar-end labels
    assert res.frame.index[0] == TS("2017-08-17 05:00")
    assert res.frame.index[-1] == TS("2021-06-10 01:00")
    assert res.frame["close"].iloc[-1] == 37584.76
    assert res.frame["volume"].iloc[-1] == 798.276499  # 'Volume BTC'
    # the bad first print is reported as a wide bar (kept)
    assert rep.wide_bars.examples[0].startswith("2017-08-17 05:00")
    # UTC epoch data ignores tz
    res_ist = load_bars(path)
    assert res_ist.frame.index.equals(res.frame.index)


def test_nifty50_index_leading_unnamed_column(data_dir: Path) -> None:
    res = load_bars(data_dir / "nse_index_daily" / "NIFTY50.csv")
    assert_clean_frame(res)
    assert res.fmt == "generic"
    assert res.report.rows_read == 4954 == res.report.rows_kept
    assert res.frame.index[0] == TS("2000-01-03 10:00")
    assert res.frame.index[-1] == TS("2019-12-02 10:00")
    assert res.frame.iloc[0].tolist() == [1482.15, 1592.9, 1482.15, 1592.2, 25358322.0]
    assert "leading index column ignored" in res.report.notes


def test_binanceus_minute_offset_in_text(data_dir: Path) -> None:
    res = load_bars(data_dir / "crypto" / "BinanceUS_BTCUSDT_1m_20230301_20230321.csv")
    assert_clean_frame(res)
    assert res.fmt == "generic"
    assert res.interval_seconds == 60
    rep = res.report
    # pandas: 30240 rows, 658 with volume 0, all of them O=H=L=C
    assert rep.rows_read == 30240
    assert rep.zero_volume_placeholders.count == 658
    assert rep.rows_kept == 29582
    assert rep.missing_bars == 658  # the grid was complete before dropping them
    # open_time 2023-03-01 00:00:00+00:00 -> end label 00:01 UTC (tz argument irrelevant)
    assert res.frame.index[0] == TS("2023-03-01 00:01")
    assert res.frame.index[-1] == TS("2023-03-22 00:00")
    assert res.frame["open"].iloc[0] == 23140.48


def test_orcl_backtrader_csv_new_york(data_dir: Path) -> None:
    path = data_dir / "us_daily" / "orcl-1995-2014.txt"
    res = load_bars(path, tz="America/New_York", session_close="16:00")
    assert_clean_frame(res)
    assert res.fmt == "backtrader_csv"
    assert res.report.rows_read == 5036 == res.report.rows_kept
    assert res.frame.index[0] == TS("1995-01-03 21:00")  # 16:00 EST
    assert TS("1995-08-07 20:00") in res.frame.index  # 16:00 EDT
    assert res.frame["close"].iloc[0] == 2.117284  # Close, not Adj Close 1.883304
    assert res.frame["volume"].iloc[0] == 36301200.0


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("nse_daily/TCS.csv", "yfinance"),
        ("nse_1min/BANKNIFTY/2017_GJUL.txt", "vendor_1min"),
        ("nse_1min/NIFTY/2016JanNIFTY.csv", "vendor_1min"),
        ("crypto/Binance_BTCUSDT_1h.csv", "binance"),
        ("us_daily/nvda-1999-2014.txt", "backtrader_csv"),
        ("nse_index_daily/NIFTY50.csv", "generic"),
        ("crypto/BinanceUS_BTCUSDT_1m_20230301_20230321.csv", "generic"),
    ],
)
def test_detect_format(data_dir: Path, rel: str, fmt: str) -> None:
    assert detect_format(data_dir / rel) == fmt


def test_explicit_fmt_matches_auto(data_dir: Path) -> None:
    path = data_dir / "nse_index_daily" / "NIFTY50.csv"
    assert load_bars(path, fmt="generic").frame.equals(load_bars(path).frame)
    with pytest.raises(DataFileError, match="does not match format 'vendor_1min'"):
        load_bars(path, fmt="vendor_1min")


# --------------------------------------------------------------------------- synthetic


VENDOR_OK = "NIFTY_F1,20160101,09:16,7942.00,7950.00,7935.00,7937.15,117825,1\n"


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8", newline="")
    return p


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="file not found"):
        load_bars(tmp_path / "nope.csv")


@pytest.mark.parametrize("content", ["", "\n\n   \r\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    with pytest.raises(DataFileError, match="file is empty"):
        load_bars(write(tmp_path, "e.csv", content))


def test_binary_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="binary file"):
        load_bars(write(tmp_path, "b.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00"))


def test_not_utf8_names_line(tmp_path: Path) -> None:
    data = (
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-01,1,2,0.5,1.5,1.5,100\n"
        "2020-01-02,1,2,0.5,1.5,1.5,caf\xe9\n"
    ).encode("latin-1")
    with pytest.raises(DataFileError, match="not UTF-8") as ei:
        load_bars(write(tmp_path, "l.csv", data))
    assert ei.value.line == 3


def test_unrecognised_layout_lists_known(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="unrecognised layout") as ei:
        load_bars(write(tmp_path, "g.csv", "foo;bar;baz\n1;2;3\n"))
    for name in ("yfinance", "vendor_1min", "binance", "backtrader_csv", "generic"):
        assert name in ei.value.problem


def test_bad_row_in_middle_names_line(tmp_path: Path) -> None:
    rows = [VENDOR_OK.replace("09:16", f"09:{m}") for m in (16, 17, 18, 19)]
    rows[2] = rows[2].replace("7942.00", "79x2.00")
    with pytest.raises(DataFileError) as ei:
        load_bars(write(tmp_path, "v.txt", "".join(rows)))
    assert ei.value.line == 3
    assert "79x2.00" in ei.value.problem and "open" in ei.value.problem


def test_bad_timestamp_after_blank_line_names_file_line(tmp_path: Path) -> None:
    data = (
        "date,open,high,low,close,volume\n"
        "2020-01-01,1,2,1,1,5\n"
        "\n"
        "2020-01-02,1,2,1,1,5\n"
        "2020-01-0x,1,2,1,1,5\n"
    )
    with pytest.raises(DataFileError, match="2020-01-0x") as ei:
        load_bars(write(tmp_path, "d.csv", data))
    assert ei.value.line == 5


@pytest.mark.parametrize(
    ("row", "msg"),
    [
        ("NIFTY_F1,20160101,09:17,7938.00,7938.10\n", "expected 8 or 9 fields, found 5"),
        ("NIFTY_F1,20160101,09:17,7938.00,7938.10,7932.55,7933.25,43200,1,5\n", "found 10"),
        ("NIFTY_F1,20160132,09:17,7938.00,7938.10,7932.55,7933.25,43200,1\n", "20160132"),
    ],
)
def test_malformed_rows(tmp_path: Path, row: str, msg: str) -> None:
    with pytest.raises(DataFileError, match=msg) as ei:
        load_bars(write(tmp_path, "m.txt", VENDOR_OK + row + VENDOR_OK))
    assert ei.value.line == 2


def test_all_rows_invalid(tmp_path: Path) -> None:
    data = (
        "date,open,high,low,close,volume\n"
        "2020-01-01,0,0,0,0,0\n"
        "2020-01-02,-1,2,1,1,5\n"
        "2020-01-03,5,5,5,5,0\n"
        "2020-01-04,NaN,1,1,1,1\n"
    )
    with pytest.raises(DataFileError, match="no usable rows: all 4 rows were dropped"):
        load_bars(write(tmp_path, "a.csv", data))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no data rows"):
        load_bars(write(tmp_path, "h.csv", "date,open,high,low,close,volume\n"))


def test_bad_arguments(tmp_path: Path) -> None:
    p = write(tmp_path, "v.txt", VENDOR_OK)
    with pytest.raises(ConfigError, match="unknown bar file format"):
        load_bars(p, fmt="excel")
    with pytest.raises(ConfigError, match="time zone"):
        load_bars(p, tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="session_close"):
        load_bars(p, session_close="25:00")


def test_cleaning_rules_counted(tmp_path: Path) -> None:
    data = (
        "Date,Time,Open,High,Low,Close,Volume,Extra\n"
        "2024-01-02,09:17,100,101,99,100.5,10,x\n"  # line 2
        "2024-01-02,09:16,100,101,99,100,10,x\n"  # line 3: out of order
        "2024-01-02,09:17,200,201,199,200,10,x\n"  # line 4: duplicate of line 2, kept
        "2024-01-02,09:18,100,100,100,100,0,x\n"  # line 5: placeholder
        "2024-01-02,09:19,100,99,101,100,10,x\n"  # line 6: high/low swapped -> repaired
        "2024-01-02,09:22,,101,99,100,10,x\n"  # line 7: NaN open
        "2024-01-02,09:23,100,101,99,100,-5,x\n"  # line 8: negative volume
    )
    res = load_bars(write(tmp_path, "c.csv", data))
    assert_clean_frame(res)
    rep = res.report
    assert rep.rows_read == 7
    assert rep.duplicates.count == 1
    assert rep.duplicates.examples == ["line 2 @ 2024-01-02 03:47"]
    assert rep.zero_volume_placeholders.count == 1
    assert rep.bad_prices.count == 1 and rep.bad_prices.examples[0].startswith("line 7")
    assert rep.bad_volume.count == 1 and rep.bad_volume.examples[0].startswith("line 8")
    assert rep.high_low_repaired.count == 1
    assert rep.order == "unsorted"
    assert rep.rows_kept == 3
    assert res.frame.index.tolist() == [
        TS("2024-01-02 03:46"),
        TS("2024-01-02 03:47"),
        TS("2024-01-02 03:49"),
    ]
    assert res.frame.loc[TS("2024-01-02 03:47"), "close"] == 200.0  # LAST occurrence
    assert res.frame.loc[TS("2024-01-02 03:49"), ["high", "low"]].tolist() == [101.0, 99.0]


def test_mixed_epoch_units_and_open_time_shift(tmp_path: Path) -> None:
    data = (
        "open_time,open,high,low,close,volume\n"
        "1700000000,1,2,1,1.5,3\n"
        "1700000060000,1,2,1,1.5,3\n"
        "1700000120.0,1,2,1,1.5,3\n"
    )
    res = load_bars(write(tmp_path, "e.csv", data))
    assert res.frame.index.tolist() == [
        TS("2023-11-14 22:14:20"),
        TS("2023-11-14 22:15:20"),
        TS("2023-11-14 22:16:20"),
    ]
    assert res.interval_seconds == 60
    assert any("MIXED" in n for n in res.report.notes)


def test_load_many_later_file_wins(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", VENDOR_OK)
    b = write(tmp_path, "b.txt", VENDOR_OK.replace("7937.15", "7940.00"))
    res = load_many([a, b])
    assert res.report.duplicates.examples == ["a.txt:1 @ 2016-01-01 03:46"]
    assert res.frame["close"].tolist() == [7940.0]
    with pytest.raises(DataFileError):
        load_many([])

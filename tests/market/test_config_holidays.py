"""``market.holidays``: a year's exchange holidays listed in the bot config, for a year the
installed pandas_market_calendars does not know yet (its NSE list ends with 2026)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mixbot.config.digest import config_hash
from mixbot.config.load import load_config
from mixbot.config.validate import validate_file
from mixbot.market import CalendarCoverageError, calendar_for
from mixbot.market.registry import profile_for
from mixbot.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "config" / "trading" / "0001.json"
D = dt.date.fromisoformat


def _config(tmp_path: Path, holidays: list[str] | None) -> Path:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    if holidays is not None:
        doc.setdefault("market", {})["holidays"] = holidays
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _next_unknown_year() -> int:
    cal = calendar_for(profile_for(load_config(EXAMPLE)))
    assert cal is not None
    return cal.last_year + 1


def test_a_listed_year_becomes_known(tmp_path: Path, data_dir: Path) -> None:
    year = _next_unknown_year()
    jan26 = dt.date(year, 1, 26)
    listed = [jan26.isoformat(), f"{year}-03-10"]
    cfg = load_config(_config(tmp_path, listed))
    cal = calendar_for(profile_for(cfg))
    assert cal is not None
    for day in listed:  # listed holidays are no trading days ...
        if D(day).weekday() < 5:
            assert cal.session_on(D(day)) is None, day
    first_monday = min(
        dt.date(year, 1, d) for d in range(4, 11) if dt.date(year, 1, d).weekday() == 0
    )
    s = cal.session_on(first_monday)  # ... other weekdays are regular sessions
    assert s is not None and s.kind == "regular"
    assert s.open == dt.datetime.combine(first_monday, dt.time(3, 45), dt.UTC)  # 09:15 IST
    days = [dt.date(year, 1, 1) + dt.timedelta(i) for i in range(366)]
    weekdays = [d for d in days if d.year == year and d.weekday() < 5]
    sessions = cal.sessions(dt.date(year, 1, 1), dt.date(year, 12, 31))
    assert [x.day for x in sessions] == [d for d in weekdays if d.isoformat() not in listed]
    with pytest.raises(CalendarCoverageError):  # the year after is still refused
        cal.session_on(dt.date(year + 1, 1, 5))


def test_without_the_list_the_year_is_refused_with_the_fix(tmp_path: Path, data_dir: Path) -> None:
    year = _next_unknown_year()
    cfg = load_config(_config(tmp_path, None))
    assert "holidays" not in cfg.raw["market"]  # no default: the config hash of old configs holds
    cal = calendar_for(profile_for(cfg))
    assert cal is not None
    with pytest.raises(CalendarCoverageError, match=rf"List {year}'s holidays .* market\.holidays"):
        cal.session_on(dt.date(year, 1, 5))


def test_a_listed_date_in_a_known_year_is_a_holiday_too(tmp_path: Path, data_dir: Path) -> None:
    # 2024-11-04 was a regular NSE session; a config may declare a late-announced closure
    cfg = load_config(_config(tmp_path, ["2024-11-04"]))
    cal = calendar_for(profile_for(cfg))
    assert cal is not None
    assert cal.session_on(D("2024-11-04")) is None
    assert cal.session_on(D("2024-11-05")) is not None
    assert cal.session_on(D("2024-11-01")) is not None  # the Muhurat session stays
    assert cal.session_on(D("2024-11-01")).kind == "muhurat"  # type: ignore[union-attr]


def test_validate_names_a_bad_date_and_warns_on_a_weekend(tmp_path: Path, data_dir: Path) -> None:
    report = validate_file(_config(tmp_path, ["2027-02-30", "2027-01-30", "27-1-1"]), env={})
    by_path = {p.path: p for p in report.problems}
    bad = by_path["$.market.holidays[0]"]
    assert bad.severity == "error" and "not a date" in bad.message and bad.line is not None
    weekend = by_path["$.market.holidays[1]"]
    assert weekend.severity == "warning" and "Saturday" in weekend.message
    assert by_path["$.market.holidays[2]"].severity == "error"  # the schema's YYYY-MM-DD pattern


def test_adding_holidays_keeps_the_config_hash(tmp_path: Path, data_dir: Path) -> None:
    """A running bot whose user adds next year's holidays still resumes its stored session."""
    before = load_config(_config(tmp_path, None))
    after = load_config(_config(tmp_path, ["2027-01-26"]))
    assert after.market.holidays == (D("2027-01-26"),)
    assert config_hash(after) == config_hash(before)
    other = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    other["market"] = {**other.get("market", {}), "square_off_at": "15:10"}
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(other), encoding="utf-8")
    assert config_hash(load_config(changed)) != config_hash(before)  # other keys still count

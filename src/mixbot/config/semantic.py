"""Checks the JSON Schema cannot express: cross-field rules, venues, files and secrets.

Each check reads the config with defaults filled and returns Problems; a check that
meets a value of the wrong type skips it (the schema step already reported it).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mixbot.config.problems import Problem, json_path
from mixbot.config.secrets import referenced_vars
from mixbot.config.source import Source
from mixbot.venues import registry as venues

# Venue facts (which names exist, are supported, are live, their intervals and secrets)
# come from the venue registry, :mod:`mixbot.venues.registry`.


def _get(doc: Any, *parts: str) -> Any:
    node = doc
    for p in parts:
        if not isinstance(node, dict):
            return None
        node = node.get(p)
    return node


def _minutes(hhmm: Any) -> int | None:
    if isinstance(hhmm, str) and re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", hhmm):
        return int(hhmm[:2]) * 60 + int(hhmm[3:])
    return None


class _Ctx:
    def __init__(
        self, doc: dict[str, Any], src: Source, base_dir: Path | None, env: dict[str, str] | None
    ):
        self.doc = doc
        self.src = src
        self.base_dir = base_dir
        self.env = os.environ if env is None else env

    def problem(
        self,
        parts: tuple[str | int, ...],
        message: str,
        hint: str = "",
        severity: str = "error",
        key: bool = False,
    ) -> Problem:
        line, col = self.src.locate(parts, key=key)
        return Problem(self.src.file, json_path(parts), message, line, col, hint, severity)


def _supported(kind: str) -> str:
    names = [
        n
        for v in venues.venues()
        if v.available
        for n in (v.broker_types if kind == "broker" else v.data_sources)
    ]
    return "use " + ", ".join(names[:-1]) + " or " + names[-1]


def _unsupported(c: _Ctx) -> Iterator[Problem]:
    btype = _get(c.doc, "broker", "type")
    bvenue = venues.for_broker(btype) if isinstance(btype, str) else None
    if bvenue is not None and not bvenue.available:
        yield c.problem(
            ("broker", "type"),
            f"broker type {btype!r} is not supported yet",
            _supported("broker"),
        )
    source = _get(c.doc, "data", "data_source")
    svenue = venues.for_source(source) if isinstance(source, str) else None
    if svenue is not None and not svenue.available:
        yield c.problem(
            ("data", "data_source"),
            f"data source {source!r} is not supported yet",
            _supported("source"),
        )


def _interval(c: _Ctx) -> Iterator[Problem]:
    source, interval = _get(c.doc, "data", "data_source"), _get(c.doc, "data", "interval")
    venue = venues.for_source(source) if isinstance(source, str) else None
    ok = venue.intervals if venue is not None and venue.available else None
    if ok is not None and isinstance(interval, str) and interval not in ok:
        yield c.problem(
            ("data", "interval"),
            f"interval {interval!r} is not available from {source}",
            f"{source} offers: {', '.join(sorted(ok))}",
        )


def _trailing(c: _Ctx) -> Iterator[Problem]:
    ts = _get(c.doc, "risk_management", "trailing_stop")
    if not isinstance(ts, dict) or ts.get("enabled") is not True:
        return
    trail, act = ts.get("trailing_pct"), ts.get("activation_pct")
    sl = _get(c.doc, "risk_management", "stop_loss_pct")
    tp = _get(c.doc, "risk_management", "take_profit_pct")
    if isinstance(tp, (int, float)) and isinstance(act, (int, float)) and act >= tp:
        yield c.problem(
            ("risk_management", "trailing_stop", "activation_pct"),
            f"activation_pct {act} is not below take_profit_pct {tp}: the trail would never arm",
            "lower activation_pct or raise take_profit_pct",
        )
    if (
        isinstance(sl, (int, float))
        and isinstance(trail, (int, float))
        and isinstance(act, (int, float))
        and act == 0
        and trail > sl
    ):
        yield c.problem(
            ("risk_management", "trailing_stop", "trailing_pct"),
            f"trailing_pct {trail} is wider than stop_loss_pct {sl} with activation_pct 0: "
            "the trailing stop can never act before the stop-loss",
            severity="warning",
        )


def _live_source(btype: Any) -> str | None:
    """The data source a live broker type needs (its venue's first), else None."""
    venue = venues.for_broker(btype) if isinstance(btype, str) else None
    return venue.data_sources[0] if venue is not None and venue.live else None


def _venue_pairing(c: _Ctx) -> Iterator[Problem]:
    btype, source = _get(c.doc, "broker", "type"), _get(c.doc, "data", "data_source")
    need = _live_source(btype)
    venue = venues.for_broker(btype) if need else None
    if need and venue is not None and source not in venue.data_sources:
        yield c.problem(
            ("data", "data_source"),
            f"broker {btype!r} sends real orders and needs the live {need!r} feed, not {source!r}",
            f'set data.data_source to "{need}", or use broker type "paper" to test on files',
        )


def _venue_rules(c: _Ctx) -> Iterator[Problem]:
    btype = _get(c.doc, "broker", "type")
    venue = venues.for_broker(btype) if isinstance(btype, str) else None
    if venue is None or venue.check_config is None:
        return
    bot_id = c.doc.get("bot_id") or Path(str(c.src.file)).stem
    for parts, problem, hint in venue.check_config(c.doc, str(bot_id)):
        yield c.problem(parts, problem, hint)


def _files(c: _Ctx) -> Iterator[Problem]:
    from mixbot.paths import expand_data_path, sample_data_dir

    source, path = _get(c.doc, "data", "data_source"), _get(c.doc, "data", "path")
    if source not in ("csv", "replay"):
        return
    if not isinstance(path, str):
        yield c.problem(
            ("data", "path"),
            f"data source {source!r} needs data.path (the file to read)",
            'e.g. "path": "@data/nse_daily/RELIANCE.csv"',
            key=True,
        )
        return
    if path.startswith("@data/") and sample_data_dir() is None:
        yield c.problem(
            ("data", "path"),
            "the market-data folder is not available for @data/ paths",
            "set MIXBOT_DATA to the folder holding nse_daily/ and nse_1min/, or put it at ../shared/data",
        )
        return
    full = expand_data_path(path, c.base_dir)
    try:
        found = full.is_file() or (full.is_dir() and any(p.is_file() for p in full.iterdir()))
    except (OSError, ValueError) as exc:  # name too long, NUL byte, permission denied
        yield c.problem(("data", "path"), f"cannot use this path: {exc}")
        return
    if not found:
        what = "is a folder with no data files in it" if full.is_dir() else "file not found"
        yield c.problem(("data", "path"), f"{what}: {full}", "check the path or MIXBOT_DATA")


def _symbol_problem(source: Any, sym: str) -> tuple[str, str] | None:
    """``(problem, hint)`` from the venue serving ``source`` (None: no rule, or fine)."""
    venue = venues.for_source(source) if isinstance(source, str) else None
    if venue is None or venue.check_symbol is None:
        return None
    return venue.check_symbol(sym)


def _symbols(c: _Ctx) -> Iterator[Problem]:
    trading = _get(c.doc, "trading")
    source = _get(c.doc, "data", "data_source")
    if not isinstance(trading, dict):
        return
    has_one, has_many = "symbol" in trading, "symbols" in trading
    if has_one and has_many:
        yield c.problem(
            ("trading", "symbols"),
            "give either trading.symbol or trading.symbols, not both",
            key=True,
        )
    if not has_one and not has_many and not isinstance(_get(c.doc, "data", "symbol"), str):
        yield c.problem(("trading",), 'no symbol: set trading.symbol (e.g. "RELIANCE")')
    btype = _get(c.doc, "broker", "type")
    venue_source = _live_source(btype) or source
    items: list[tuple[tuple[str | int, ...], Any]] = [
        (("trading", "symbol"), trading.get("symbol"))
    ]
    if isinstance(trading.get("symbols"), list):
        items += [(("trading", "symbols", i), s) for i, s in enumerate(trading["symbols"])]
    items.append((("data", "symbol"), _get(c.doc, "data", "symbol")))
    for parts, sym in items:
        if not isinstance(sym, str):
            continue
        src_for = source if parts[0] == "data" else venue_source
        found = _symbol_problem(src_for, sym)
        if found:
            yield c.problem(parts, f"{sym!r} is {found[0]}", found[1])
    if (
        isinstance(trading.get("symbols"), list)
        and len(trading["symbols"]) > 1
        and source in ("csv", "replay")
    ):
        yield c.problem(
            ("trading", "symbols"), "csv/replay sources read one file: use a single symbol"
        )


def _market(c: _Ctx) -> Iterator[Problem]:
    m = _get(c.doc, "market")
    if not isinstance(m, dict):
        return
    tz = m.get("timezone")
    if isinstance(tz, str):
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(tz)
        except Exception:
            yield c.problem(
                ("market", "timezone"),
                f"unknown time zone {tz!r}",
                "use an IANA name such as Asia/Kolkata",
            )
    yield from _holidays(c, m.get("holidays"))
    o, cl = _minutes(m.get("session_open")), _minutes(m.get("session_close"))
    if o is not None and cl is not None and o >= cl:
        yield c.problem(("market", "session_close"), "session_close must be after session_open")
        return
    for name in ("no_new_entry_after", "square_off_at"):
        t = _minutes(m.get(name))
        if t is not None and o is not None and cl is not None and not (o < t <= cl):
            yield c.problem(
                ("market", name),
                f"{name} {m.get(name)} is outside the session "
                f"{m.get('session_open')}-{m.get('session_close')}",
            )
    ne, so = _minutes(m.get("no_new_entry_after")), _minutes(m.get("square_off_at"))
    if (
        ne is not None
        and so is not None
        and ne > so
        and _get(c.doc, "trading", "product") == "intraday"
    ):
        yield c.problem(
            ("market", "no_new_entry_after"),
            "no_new_entry_after is later than square_off_at: entries could open after the square-off",
            severity="warning",
        )


def _holidays(c: _Ctx, days: Any) -> Iterator[Problem]:
    """market.holidays: real dates; a weekend date is a warning (it is no trading day anyway)."""
    if not isinstance(days, list):
        return
    for i, d in enumerate(days):
        if not isinstance(d, str):
            continue
        try:
            day = dt.date.fromisoformat(d)
        except ValueError:
            yield c.problem(("market", "holidays", i), f"{d!r} is not a date", "write YYYY-MM-DD")
            continue
        if day.weekday() >= 5:
            yield c.problem(
                ("market", "holidays", i),
                f"{d} is a {day:%A}: weekends are never trading days, no need to list it",
                severity="warning",
            )


def _sizes(c: _Ctx) -> Iterator[Problem]:
    a = _get(c.doc, "trading", "position_size")
    b = _get(c.doc, "strategy", "position_size")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a != b:
        yield c.problem(
            ("strategy", "position_size"),
            f"strategy.position_size {b} overrides trading.position_size {a}",
            severity="warning",
        )
    exp = _get(c.doc, "trading", "max_exposure")
    size = b if isinstance(b, (int, float)) else a
    if isinstance(exp, (int, float)) and isinstance(size, (int, float)) and exp < size <= 1:
        yield c.problem(
            ("trading", "max_exposure"),
            f"max_exposure {exp} is below one position's size {size}: no entry could ever be taken",
        )
    if _get(c.doc, "data", "interval") == "1d" and _get(c.doc, "trading", "product") == "intraday":
        yield c.problem(
            ("trading", "product"),
            "intraday product with daily bars: every position would be "
            "squared off on its entry bar",
            'use an intraday interval or product "delivery"',
        )


def _secrets(c: _Ctx) -> Iterator[Problem]:
    needs: list[tuple[tuple[str, ...], str]] = []
    btype = _get(c.doc, "broker", "type")
    source = _get(c.doc, "data", "data_source")
    btype = btype if isinstance(btype, str) else None
    source = source if isinstance(source, str) else None
    seen: list[Any] = []
    for venue in (venues.for_broker(btype or ""), venues.for_source(source or "")):
        if venue is None or venue in seen or venue.secrets is None:
            continue
        seen.append(venue)
        needs += [n for n in venue.secrets(btype, source) if n not in needs]
    # A bot's notification channels take their credentials from the host settings
    # (config/mixbot.json, checked by `mixbot validate` on that file), not from the bot.
    for parts, what in needs:
        ref = _get(c.doc, *parts)
        if not isinstance(ref, str):
            continue
        for var in referenced_vars(ref):
            if not c.env.get(var):
                yield c.problem(
                    parts,
                    f"environment variable {var} is not set ({what})",
                    f"export {var}=... or add it to a .env file next to where you run mixbot",
                )


def _ml(c: _Ctx) -> Iterator[Problem]:
    """Two ML mixins share one model: they must agree on its window and horizon; a SELL
    cannot open a short in this long-only engine (``sides: both`` is a warning)."""
    entry, exit_ = _get(c.doc, "strategy", "entry_logic"), _get(c.doc, "strategy", "exit_logic")
    ep, xp = entry.get("params") or {}, exit_.get("params") or {}
    both = entry.get("name") == "MLModelEntryMixin" and exit_.get("name") == "MLModelExitMixin"
    for name in ("window", "horizon", "model") if both else ():
        if name in ep and name in xp and ep[name] != xp[name]:
            yield c.problem(
                ("strategy", "exit_logic", "params", name),
                f"exit_logic.params.{name} {xp[name]!r} differs from entry_logic.params.{name} "
                f"{ep[name]!r}: both ML mixins use one model",
                f"set both to {ep[name]!r}",
            )
    if entry.get("name") == "MLModelEntryMixin" and ep.get("sides") == "both":
        yield c.problem(
            ("strategy", "entry_logic", "params", "sides"),
            "sides 'both': this engine is long-only, so a SELL signal only closes a long "
            "(through MLModelExitMixin), it opens no short",
            "use sides 'long' until short selling is supported",
            severity="warning",
        )


CHECKS: tuple[Callable[[_Ctx], Iterator[Problem]], ...] = (
    _unsupported,
    _interval,
    _trailing,
    _venue_pairing,
    _venue_rules,
    _files,
    _symbols,
    _market,
    _sizes,
    _secrets,
    _ml,
)


def check(
    doc: dict[str, Any],
    src: Source,
    base_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> list[Problem]:
    """Run every semantic check on ``doc`` (defaults filled); returns the problems found."""
    ctx = _Ctx(doc, src, base_dir, env)
    out: list[Problem] = []
    for chk in CHECKS:
        try:
            out.extend(chk(ctx))
        except (TypeError, AttributeError, ValueError, KeyError, OSError):
            continue  # a value of the wrong type (the schema step reported it) or odd path
    return out

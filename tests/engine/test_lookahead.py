"""The lookahead check (``mixbot.engine.lookahead``, ``mixbot lookahead``): cheating mixins
that read the next bar fail, with the offending bar and indicator named; every registered
mixin and every example config passes on real data."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mixbot.cli import main
from mixbot.config.load import load_config
from mixbot.engine.lookahead import (
    Offence,
    check_config,
    check_mixin,
    config_factory,
    pick_cuts,
)
from mixbot.errors import MixbotError
from mixbot.paths import REPO_ROOT
from mixbot.strategy import registry
from mixbot.strategy.exit.atr import ATRExitMixin
from mixbot.strategy.mixin import Bars, EntryMixin, ExitMixin, PositionState
from mixbot.venues.files import file_series

CFG_DIR = REPO_ROOT / "config" / "trading"
BANKNIFTY = "@data/nse_1min/BANKNIFTY_F1_2019H1.txt"
CUTS = 12  # per mixin: enough to catch a one-bar peek, fast enough for the suite


# ------------------------------------------------------------------ cheating mixins
# Plain subclasses, never passed through registry.register: the global registry stays clean.
class PeekEntryMixin(EntryMixin):
    """Cheats: long when the NEXT bar closes higher (reads close[i + 1] when available)."""

    def compute(self, bars: Bars) -> None:
        self._close = bars.close.tolist()

    def should_enter(self, bars: Bars, i: int) -> bool:
        return i + 1 < len(self._close) and self._close[i + 1] > self._close[i]


class CenteredSMAEntryMixin(EntryMixin):
    """Cheats in an indicator: a centred 5-bar mean (bar j averages closes j-2 .. j+2)."""

    def warmup(self) -> int:
        return 5

    def compute(self, bars: Bars) -> None:
        self._cma = np.convolve(bars.close, np.ones(5) / 5.0, mode="same")

    def should_enter(self, bars: Bars, i: int) -> bool:
        return bool(bars.close[i] < self._cma[i])


class HiddenPeekEntryMixin(EntryMixin):
    """Cheats in state that is no per-bar attribute (like a model's cache keyed by bar), and
    never signals: only its ``signal_inputs`` hook shows the peek."""

    def compute(self, bars: Bars) -> None:
        close = bars.close
        self.model = SimpleNamespace(
            nxt={i: close[min(i + 1, len(close) - 1)] for i in range(len(close))}
        )

    def signal_inputs(self, bars: Bars, i: int) -> dict[str, Any]:
        return {"next_close": self.model.nxt[bars.offset + i]}

    def should_enter(self, bars: Bars, i: int) -> bool:
        return False


class PeekExitMixin(ExitMixin):
    """Cheats: exits when the next bar closes lower (reads close[i + 1] when available)."""

    def compute(self, bars: Bars) -> None:
        self._close = bars.close.tolist()

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        nxt = self._close[i + 1] if i + 1 < len(self._close) else self._close[i]
        return "signal" if nxt < self._close[i] else None


class UnguardedPeekExitMixin(PeekExitMixin):
    """Cheats without a guard: close[i + 1] raises IndexError at the end of the bars."""

    def should_exit(self, bars: Bars, i: int, state: PositionState) -> str | None:
        return "signal" if self._close[i + 1] < self._close[i] else None


class NextATRExitMixin(ATRExitMixin):
    """Cheats at entry: freezes the NEXT bar's ATR (when there is one) into the state."""

    def on_entry(self, bars: Bars, i: int, state: PositionState) -> None:
        state.entry_atr = self._atr[min(i + 1, len(self._atr) - 1)]


@pytest.fixture(scope="module")
def daily(data_dir: Path) -> tuple[Bars, Any]:
    """RELIANCE daily bars (config 0001, from 2005) and that config."""
    cfg = load_config(CFG_DIR / "0001.json")
    return Bars.from_series(file_series(cfg, True, None, None)), cfg


@pytest.fixture(scope="module")
def minute(data_dir: Path) -> tuple[Bars, Any]:
    """BANKNIFTY 1-minute bars, January-February 2019, and their config (0003)."""
    cfg = load_config(CFG_DIR / "0003.json")
    return Bars.from_series(file_series(cfg, True, "2019-01-01", "2019-02-28")), cfg


def unusable(cfg: Any) -> str | None:
    """Why ``cfg``'s mixins cannot be built here (e.g. an ML mixin whose model is not
    trained on this machine), or None."""
    for kind, choice in (("entry", cfg.entry), ("exit", cfg.exit)):
        try:
            config_factory(registry.get(kind, choice.name).cls, choice.params, cfg)()
        except MixbotError as exc:
            return f"{choice.name} cannot be set up here: {exc}"
    return None


def test_registry_has_no_test_mixins() -> None:
    for kind in ("entry", "exit"):
        assert not [n for n in registry.names(kind) if "Peek" in n or "Centered" in n]  # type: ignore[arg-type]


def test_peek_at_next_close_fails_at_the_first_cut_where_it_matters(
    daily: tuple[Bars, Any],
) -> None:
    bars, _ = daily
    res = check_mixin(PeekEntryMixin, bars, CUTS, seed=3)
    assert not res.passed and res.kind == "entry" and res.name == "PeekEntryMixin"
    close = bars.close
    # the whole-series run signals exactly where the next close is higher; the truncated
    # run cannot see it, so those cuts (and only those) fail, the earliest one reported
    rising = [c for c in res.cuts if close[c + 1] > close[c]]
    assert rising and res.failed_cuts == rising
    assert res.first == Offence(rising[0], rising[0], "should_enter", "True", "False")


def test_lookahead_inside_an_indicator_is_named(daily: tuple[Bars, Any]) -> None:
    bars, _ = daily
    res = check_mixin(CenteredSMAEntryMixin, bars, CUTS)
    assert res.indicators == ["_cma"]
    assert res.failed_cuts == res.cuts  # every cut: the last two means need later bars
    first = res.first
    assert first is not None and first.indicator == "_cma"
    # at the first cut c, bar c-2 averages c-4..c (all known): the first bar that differs is
    # c-1, whose full-series mean includes close[c+1]
    c = res.cuts[0]
    assert (first.cut, first.bar) == (c, c - 1)
    assert float(first.full) == pytest.approx(bars.close[c - 3 : c + 2].mean(), rel=1e-9)


def test_signal_inputs_hook_shows_state_kept_elsewhere(daily: tuple[Bars, Any]) -> None:
    bars, _ = daily
    res = check_mixin(HiddenPeekEntryMixin, bars, CUTS)
    assert res.indicators == [] and res.failed_cuts == res.cuts
    first = res.first
    assert first is not None and first.indicator == "signal_inputs.next_close"
    c = res.cuts[0]
    assert (first.bar, float(first.full), float(first.truncated)) == (
        c,
        pytest.approx(bars.close[c + 1], rel=1e-9),
        pytest.approx(bars.close[c], rel=1e-9),
    )


def test_exit_peeking_at_next_bar_fails(daily: tuple[Bars, Any]) -> None:
    bars, _ = daily
    res = check_mixin(PeekExitMixin, bars, CUTS)
    assert not res.passed and res.kind == "exit"
    assert res.first is not None and res.first.indicator == "should_exit"
    c = res.first.cut
    assert res.first.bar == c and bars.close[c + 1] < bars.close[c]
    assert (res.first.full, res.first.truncated) == ("'signal'", "None")


def test_on_entry_peeking_at_the_fill_bar_fails(daily: tuple[Bars, Any]) -> None:
    # backtest and live call on_entry at the fill, before the fill bar's close: the fill bar
    # is not in a live bot's bars yet, so reading it is lookahead, caught at every cut
    bars, _ = daily
    res = check_mixin(NextATRExitMixin, bars, CUTS)
    assert res.failed_cuts == res.cuts
    first = res.first
    assert first is not None and first.indicator == "state.entry_atr"
    assert first.bar == first.cut == res.cuts[0]


def test_reading_past_the_end_is_reported_as_an_error(daily: tuple[Bars, Any]) -> None:
    bars, _ = daily
    res = check_mixin(UnguardedPeekExitMixin, bars, CUTS)
    assert res.failed_cuts == res.cuts
    assert res.first is not None and res.first.indicator == "error"
    assert res.first.truncated.startswith("IndexError")


def test_cuts_are_seeded_spread_and_after_the_warmup() -> None:
    a = pick_cuts(10_000, 50, 100, seed=1)
    assert a == pick_cuts(10_000, 50, 100, seed=1) != pick_cuts(10_000, 50, 100, seed=2)
    assert len(a) == 50 and a == sorted(set(a))
    assert a[0] >= 100 and a[-1] <= 10_000 - 2
    # one cut in each of 50 equal strata of [100, 9998]
    width = (10_000 - 1 - 100) / 50
    assert [int((c - 100) // width) for c in a] == list(range(50))
    assert pick_cuts(30, 50, 20, seed=0) == list(range(20, 29))  # short: every bar
    with pytest.raises(ValueError, match="10 bars"):
        pick_cuts(10, 5, 20, seed=0)


def test_explicit_cuts(daily: tuple[Bars, Any]) -> None:
    bars, _ = daily
    n = len(bars)
    res = check_mixin(PeekEntryMixin, bars, [n - 2, 500, 100])
    assert res.cuts == [100, 500, n - 2]
    assert res.failed_cuts == [c for c in res.cuts if bars.close[c + 1] > bars.close[c]]
    with pytest.raises(ValueError, match="a bar follows each cut"):
        check_mixin(PeekEntryMixin, bars, [n - 1])


def _variants(kind: str) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = [
        (name, {})
        for name in registry.names(kind)  # type: ignore[arg-type]
    ]
    if kind == "exit":
        out += [
            ("ATRExitMixin", {"x_trailing": True}),
            ("TimeBasedExitMixin", {"x_exit_time": "15:00"}),
        ]
    return out


@pytest.mark.parametrize(
    ("kind", "name", "params"),
    [(k, n, p) for k in ("entry", "exit") for n, p in _variants(k)],
)
def test_every_registered_mixin_is_causal_on_real_data(
    kind: str,
    name: str,
    params: dict[str, Any],
    daily: tuple[Bars, Any],
    minute: tuple[Bars, Any],
) -> None:
    cls = registry.get(kind, name).cls  # type: ignore[arg-type]
    for bars, cfg in (daily, minute):
        factory = config_factory(cls, params, cfg)  # configured as the engine does
        try:
            factory()
        except MixbotError as exc:  # e.g. an ML mixin: no model trained for this bot here
            pytest.skip(f"{name} cannot be set up with the config of {cfg.bot_id}: {exc}")
        res = check_mixin(factory, bars, CUTS, seed=11)
        assert res.passed, res.first
        assert len(res.cuts) == CUTS


def test_check_config_reports_exchange_times(data_dir: Path) -> None:
    res = check_config(load_config(CFG_DIR / "0004.json"), 5, seed=0)
    assert res.passed and [c.kind for c in res.checks] == ["entry", "exit"]
    assert [c.name for c in res.checks] == ["RSIIchimokuEntryMixin", "TimeBasedExitMixin"]
    assert res.first_time == "2005-01-03 15:30 IST"  # INFY daily bars end at the close


# ------------------------------------------------------------------ the command
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lookahead", *args])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


EXAMPLES = sorted(p.name for p in CFG_DIR.glob("*.json"))
#: bars of the same instrument for the example configs on a live data source
LIVE_DATA = {
    "binance": "crypto/BinanceUS_BTCUSDT_1m_20230301_20230321.csv",
    "yahoo": "nse_daily/RELIANCE.csv",
}


def test_the_examples_are_there() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_config_passes(
    name: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = unusable(load_config(CFG_DIR / name))
    if reason is not None:
        pytest.skip(reason)
    cfg = load_config(CFG_DIR / name)
    extra: list[str] = []
    if cfg.data.path is None:  # a live data source: its mixins checked on a file of its bars
        if cfg.data.data_source not in LIVE_DATA:
            pytest.skip(f"no bar file for live data source {cfg.data.data_source}")
        extra = ["--data", str(data_dir / LIVE_DATA[cfg.data.data_source])]
    code, out, err = run(capsys, str(CFG_DIR / name), "--cuts", str(CUTS), *extra)
    assert (code, err) == (0, "")
    assert out.count("PASS") == 3 and "FAIL" not in out  # two mixins, then the summary


def test_live_configs_pass_on_a_data_file(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # live configs read a venue's feed, not a file: their mixins are checked on --data; the
    # token only has to be set for the config to load (nothing connects)
    monkeypatch.setenv("UPSTOX_ACCESS_TOKEN", "unused-by-this-test")
    monkeypatch.setenv("OPENALGO_API_KEY", "unused-by-this-test")
    files = sorted(str(p) for p in (CFG_DIR / "live").glob("*.json"))
    code, out, err = run(capsys, *files)
    assert code == 2 and err.count("--data FILE") == len(files)
    code, out, err = run(capsys, *files, "--data", BANKNIFTY, "--cuts", str(CUTS))
    assert (code, err) == (0, "")
    assert out.count("PASS") == 2 * len(files) + 1


def test_a_cheating_config_fails_with_bar_time_and_indicator(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.load_builtin()
    spec = registry.MixinSpec(
        "PeekEntryMixin", "entry", PeekEntryMixin, {"type": "object", "properties": {}}, ""
    )
    # registered for this test only: monkeypatch removes it again afterwards
    monkeypatch.setitem(registry._REGISTRY["entry"], "PeekEntryMixin", spec)
    doc = json.loads((CFG_DIR / "0001.json").read_text())
    doc["strategy"]["entry_logic"] = {"name": "PeekEntryMixin", "params": {}}
    cheat = tmp_path / "cheat.json"
    cheat.write_text(json.dumps(doc))
    code, out, err = run(capsys, str(cheat), str(CFG_DIR / "0002.json"), "--cuts", str(CUTS))
    assert (code, err) == (1, "")
    assert "FAIL" in out and "should_enter" in out and "PASS" in out  # 0002 still passes
    res = check_config(load_config(cheat), CUTS)
    first = res.checks[0].first
    assert first is not None and first.time is not None
    assert first.time.endswith("15:30 IST") and first.time in out
    assert f"{len(res.checks[0].failed_cuts)} of {CUTS} cuts differ" in out


def test_bad_input_exits_2_and_still_checks_the_rest(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(CFG_DIR / "0001.json")
    code, out, err = run(capsys, str(tmp_path / "missing.json"), good, "--cuts", "3")
    assert code == 2 and "file not found" in err and out.count("PASS") == 2
    code, _, err = run(capsys, good, "--from", "2024-11-01")
    assert code == 2 and "the check needs more than" in err
    with pytest.raises(SystemExit) as exc:
        main(["lookahead", good, "--cuts", "0"])
    assert exc.value.code == 2


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["lookahead", "--help"])
    out = capsys.readouterr().out
    for text in ("cut", "whole-series", "IST", "Exit code", "examples:", "--data", "--cuts"):
        assert text in out

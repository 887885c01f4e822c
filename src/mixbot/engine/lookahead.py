"""Lookahead-bias check of entry and exit mixins: truncate the bars, compare the answers.

A mixin is causal when what it says about bar ``c`` depends on bars ``0..c`` only. The
check computes a mixin once over the whole series (as a backtest does) and again, on a
second instance, over the series truncated after bar ``c`` (what a live bot has at the close
of ``c``), for many cut bars ``c`` in increasing order, and compares, at the bars
``c - context .. c``:

* every indicator the mixin set in ``compute``: its attributes that are numpy arrays or
  lists with one element (or row, for 2-D arrays) per bar, within ``rtol = atol = 1e-9``
  (NaN equals NaN). Both runs start at the same bar, so Wilder-smoothed values agree exactly.
  A mixin keeping its state elsewhere (a model's probabilities) may define
  ``signal_inputs(bars, i) -> dict[str, value]``: those values are compared too;
* entry mixins: ``should_enter``;
* exit mixins: a position entered on the close of bar ``e = c - hold`` (``hold`` = 1 +
  ``c`` mod ``max_hold``), filled at ``open[e + 1]``, the same :class:`PositionState` built
  for both runs, ``on_entry`` at ``e``, then ``should_exit`` at every bar ``e+1 .. c`` with
  the highest/lowest close updated first, as :class:`~mixbot.strategy.custom.CustomStrategy`
  does; the reasons and the state after each bar. And a position entered on the close of
  ``c`` itself: a live bot's ``on_entry`` (at the fill) has no bar after ``c`` either.

A difference, or an exception raised on the truncated series (an ``IndexError`` from reading
bar ``c + 1``), is an offence; the earliest one is reported with the indicator and both
values. Cut bars are seeded random, one uniform pick in each of N equal strata of the bars
after the warm-up, so they spread over the whole series and repeat for a seed. Nothing
is special-cased: any EntryMixin / ExitMixin subclass (the ML mixins too) is checked alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixbot.strategy.mixin import Bars, EntryMixin, ExitMixin, Mixin, PositionState

#: relative and absolute tolerance of indicator comparisons (float noise only)
RTOL = ATOL = 1e-9


@dataclass(frozen=True)
class Offence:
    """One difference between the full and the truncated run.

    Attributes:
        cut: last bar (0-based index into the bars) of the truncated series.
        bar: the bar whose values differ (at or before ``cut``).
        indicator: the attribute that differs, ``should_enter`` / ``should_exit``,
            ``state.<field>`` (exit position state) or ``error`` (an exception while comparing:
            normally the truncated run reading past its last bar).
        full, truncated: the two values, as text.
        time: the bar's END time in the market time zone (set by :func:`check_config`).
    """

    cut: int
    bar: int
    indicator: str
    full: str
    truncated: str
    time: str | None = None


@dataclass
class MixinCheck:
    """The result of :func:`check_mixin` for one mixin.

    Attributes:
        name: the mixin's class name; kind: ``"entry"`` or ``"exit"``.
        cuts: the cut bars checked (ascending); failed_cuts: those with an offence.
        first: the earliest offence (by bar), or None when every cut agreed.
        indicators: the per-bar attributes compared.
    """

    name: str
    kind: str
    cuts: list[int]
    failed_cuts: list[int] = field(default_factory=list)
    first: Offence | None = None
    indicators: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no cut showed a difference."""
        return self.first is None


def truncate(bars: Bars, cut: int) -> Bars:
    """The bars ``0..cut`` (inclusive) of ``bars``: every per-bar array field sliced (prices,
    volume, minutes, END times when set), the offset kept."""
    arrays: dict[str, Any] = {
        f.name: getattr(bars, f.name)[: cut + 1]
        for f in dataclasses.fields(bars)
        if isinstance(getattr(bars, f.name), np.ndarray)
    }
    return dataclasses.replace(bars, **arrays)


def series_attrs(mixin: Mixin, n: int) -> dict[str, Any]:
    """The mixin's per-bar attributes: numpy arrays whose first dimension is ``n`` and lists
    of length ``n`` (the indicators its ``compute`` set), by attribute name."""
    out: dict[str, Any] = {}
    for name, value in sorted(vars(mixin).items()):
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
            out[name] = value
        elif isinstance(value, list) and len(value) == n:
            out[name] = value
    return out


class Tolerant:
    """A value compared within ``atol`` instead of :data:`ATOL` (a mixin's ``signal_atol``:
    model probabilities from LiteRT's batch-1 and batch-256 flatbuffers agree to ~1e-7)."""

    def __init__(self, value: Any, atol: float) -> None:
        self.value, self.atol = value, atol

    def __repr__(self) -> str:
        return _fmt(self.value)


def same(a: Any, b: Any, atol: float = ATOL) -> bool:
    """Equal values: numbers and arrays within RTOL/ATOL (NaN equals NaN), dicts key by key,
    None only to None, anything else ``==``; :class:`Tolerant` values within their ``atol``."""
    if isinstance(a, Tolerant) or isinstance(b, Tolerant):
        tol = max(x.atol for x in (a, b) if isinstance(x, Tolerant))
        ua = a.value if isinstance(a, Tolerant) else a
        ub = b.value if isinstance(b, Tolerant) else b
        return same(ua, ub, tol)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], atol) for k in a)
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    try:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return bool(a == b)
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=RTOL, atol=atol, equal_nan=True))


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.10g}"
    if isinstance(v, np.ndarray):
        return np.array2string(v, precision=6, threshold=6)
    return repr(v)


def pick_cuts(n: int, n_cuts: int, start: int, seed: int) -> list[int]:
    """Cut bars in ``[start, n - 2]`` (a bar follows each cut): one uniform pick in each of
    ``n_cuts`` equal strata (all bars when fewer), ascending, the same for the same seed.

    Raises:
        ValueError: ``n_cuts < 1``, or no bar in that range (too short for the warm-up).
    """
    last = n - 2
    if n_cuts < 1:
        raise ValueError(f"n_cuts must be at least 1, got {n_cuts}")
    if last < start:
        raise ValueError(f"{n} bars: the check needs more than {start + 1} (warm-up + margin)")
    if last - start + 1 <= n_cuts:
        return list(range(start, last + 1))
    edges = np.linspace(start, last + 1, n_cuts + 1).astype(np.int64)  # strata wider than 1
    picks = np.random.default_rng(seed).integers(edges[:-1], edges[1:])
    return [int(p) for p in picks]


def values_at(mixin: Mixin, attrs: dict[str, Any], bars: Bars, j: int) -> dict[str, Any]:
    """What the mixin's answer at bar ``j`` rests on: each per-bar attribute's value at ``j``
    and, when the mixin defines ``signal_inputs(bars, j) -> dict`` (for state that is not a
    per-bar attribute, e.g. a model's probabilities), those values as ``signal_inputs.<name>``."""
    out = {name: values[j] for name, values in attrs.items()}
    hook = getattr(mixin, "signal_inputs", None)
    if hook is not None:
        atol = float(getattr(mixin, "signal_atol", ATOL))
        out.update({f"signal_inputs.{k}": Tolerant(v, atol) for k, v in hook(bars, j).items()})
    return out


def _indicator_offence(
    full: dict[str, Any], part: dict[str, Any], cut: int, row: int
) -> Offence | None:
    """The first value of ``full`` (see :func:`values_at`) that ``part`` lacks or differs in."""
    for name, value in full.items():
        if name not in part:
            return Offence(cut, row, name, _fmt(value), "missing or of the wrong length")
        if not same(value, part[name]):
            return Offence(cut, row, name, _fmt(value), _fmt(part[name]))
    return None


def _entry_offence(full: Mixin, part: Mixin, bars: Bars, cut: int, context: int) -> Offence | None:
    """Compare an entry mixin's indicators and ``should_enter`` at bars ``cut-context..cut``."""
    assert isinstance(full, EntryMixin) and isinstance(part, EntryMixin)
    short = truncate(bars, cut)
    rows = range(max(0, cut - context), cut + 1)
    full_ind, part_ind = series_attrs(full, len(bars)), series_attrs(part, len(short))
    for j in rows:
        off = _indicator_offence(
            values_at(full, full_ind, bars, j), values_at(part, part_ind, short, j), cut, j
        )
        if off is not None:
            return off
        a, b = bool(full.should_enter(bars, j)), bool(part.should_enter(short, j))
        if a != b:
            return Offence(cut, j, "should_enter", repr(a), repr(b))
    return None


def _exit_walk(
    mixin: ExitMixin, bars: Bars, entry: int, cut: int, price: float
) -> dict[int, tuple[Any, dict[str, Any]]]:
    """Hold a position from the close of ``entry`` (filled at ``price``) to bar ``cut``
    without closing it: ``{bar: (should_exit reason, state as a dict)}``, the entry bar's
    reason None (after ``on_entry``)."""
    st = PositionState(price, bars.offset + entry, 1.0, price, price)
    mixin.on_entry(bars, entry, st)
    out: dict[int, tuple[Any, dict[str, Any]]] = {entry: (None, dataclasses.asdict(st))}
    for j in range(entry + 1, cut + 1):
        close = float(bars.close[j])
        st.highest_close = max(st.highest_close, close)
        st.lowest_close = min(st.lowest_close, close)
        out[j] = (mixin.should_exit(bars, j, st), dataclasses.asdict(st))
    return out


def _walk_offence(
    full: ExitMixin, part: ExitMixin, bars: Bars, short: Bars, entry: int, cut: int
) -> Offence | None:
    """The first bar where the two runs' held positions differ (reason or state field)."""
    price = float(bars.open[entry + 1])  # the fill: known to both runs, as to a live bot
    walk_full = _exit_walk(full, bars, entry, cut, price)
    walk_part = _exit_walk(part, short, entry, cut, price)
    for j, (ra, sa) in walk_full.items():
        rb, sb = walk_part[j]
        if ra != rb:
            return Offence(cut, j, "should_exit", repr(ra), repr(rb))
        for key in sa:
            if not same(sa[key], sb[key]):
                return Offence(cut, j, f"state.{key}", _fmt(sa[key]), _fmt(sb[key]))
    return None


def _exit_offence(
    full: Mixin, part: Mixin, bars: Bars, cut: int, context: int, max_hold: int
) -> Offence | None:
    """Compare an exit mixin's indicators at the entry bar and ``cut-context..cut``, then
    the reasons and state of a position held from ``cut - hold`` to ``cut`` and of one
    entered at ``cut`` (its ``on_entry`` sees no later bar, as live); the earliest offence."""
    assert isinstance(full, ExitMixin) and isinstance(part, ExitMixin)
    short = truncate(bars, cut)
    entry = max(0, cut - (1 + cut % max_hold))
    full_ind, part_ind = series_attrs(full, len(bars)), series_attrs(part, len(short))
    rows = sorted({entry, *range(max(0, cut - context), cut + 1)})
    ind = (
        _indicator_offence(
            values_at(full, full_ind, bars, j), values_at(part, part_ind, short, j), cut, j
        )
        for j in rows
    )
    found = [
        next((o for o in ind if o is not None), None),
        _walk_offence(full, part, bars, short, entry, cut),
        _walk_offence(full, part, bars, short, cut, cut),
    ]
    offences = [o for o in found if o is not None]
    return min(offences, key=lambda o: o.bar) if offences else None


def check_mixin(
    factory: Callable[[], Mixin],
    bars: Bars,
    cuts: Sequence[int] | int,
    *,
    seed: int = 0,
    context: int = 3,
    max_hold: int = 20,
) -> MixinCheck:
    """Check one mixin for lookahead bias on ``bars`` (see the module docstring).

    Args:
        factory: makes a fresh mixin with its params (called twice: full and truncated run).
        bars: the whole series (backtest bars, oldest first).
        cuts: the cut bars, or how many to pick with :func:`pick_cuts` after the warm-up.
        seed: seed of the picked cuts; context: bars before each cut also compared;
        max_hold: exit mixins: longest simulated holding, bars.

    Raises:
        ValueError: ``cuts`` is a count and the series is too short for the warm-up, or a
            given cut is not followed by a bar.
        TypeError: the mixin is neither an entry nor an exit mixin.
        Exception: whatever the mixin raises on the FULL series (a bug, not lookahead).
    """
    full, part = factory(), factory()
    if not isinstance(full, EntryMixin | ExitMixin):
        raise TypeError(f"{type(full).__name__} is neither an EntryMixin nor an ExitMixin")
    kind = "entry" if isinstance(full, EntryMixin) else "exit"
    if isinstance(cuts, int):
        start = max(full.warmup(), 1) + (context if kind == "entry" else max_hold)
        cuts = pick_cuts(len(bars), cuts, start, seed)
    elif any(not 0 <= c <= len(bars) - 2 for c in cuts):
        raise ValueError(f"cut bars must lie in [0, {len(bars) - 2}] (a bar follows each cut)")
    full.compute(bars)
    result = MixinCheck(type(full).__name__, kind, sorted(cuts))
    result.indicators = list(series_attrs(full, len(bars)))
    for cut in result.cuts:
        try:
            part.compute(truncate(bars, cut))
            if kind == "entry":
                off = _entry_offence(full, part, bars, cut, context)
            else:
                off = _exit_offence(full, part, bars, cut, context, max_hold)
        except Exception as exc:  # reading past the truncated end, typically
            off = Offence(cut, cut, "error", "-", f"{type(exc).__name__}: {exc}")
        if off is not None:
            result.failed_cuts.append(cut)
            if result.first is None or off.bar < result.first.bar:
                result.first = off
    return result


@dataclass
class ConfigCheck:
    """The result of :func:`check_config`: the entry and the exit mixin of one config.

    Attributes:
        source: the config file; bot_id: its bot.
        data: the data file checked; n_bars: bars after aggregation to the config's bar size.
        first_time, last_time: END times of the first and last bar, market time zone.
        checks: entry then exit :class:`MixinCheck` (offence times filled in).
    """

    source: str
    bot_id: str
    data: str
    n_bars: int
    first_time: str
    last_time: str
    checks: list[MixinCheck]

    @property
    def passed(self) -> bool:
        """True when both mixins passed."""
        return all(c.passed for c in self.checks)


def config_factory(cls: type, params: dict[str, Any], cfg: Any) -> Callable[[], Mixin]:
    """A factory of ``cls(params)`` configured as the engine does (``configure(cfg)``), each
    with a config object of its own: caches keyed by the config object (the ML mixins'
    predictor, shared by a bot's entry and exit) never join the full and truncated runs."""

    def make() -> Mixin:
        mixin: Mixin = cls(params)
        configure = getattr(mixin, "configure", None)
        if configure is not None:
            configure(dataclasses.replace(cfg))
        return mixin

    return make


def local_time(end: np.ndarray, i: int, tz: str) -> str:
    """``YYYY-MM-DD HH:MM <zone>`` of the naive-UTC datetime64 ``end[i]`` in ``tz``."""
    import pandas as pd

    return pd.Timestamp(end[i]).tz_localize("UTC").tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z")


def check_config(
    cfg: Any,
    n_cuts: int = 50,
    seed: int = 0,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    context: int = 3,
    max_hold: int = 20,
) -> ConfigCheck:
    """Check a config's entry and exit mixins (with its params) on its data file.

    Args:
        cfg: a :class:`~mixbot.config.model.BotConfig` with ``data.path`` set.
        n_cuts: cut bars per mixin; seed: their seed (the exit mixin's is ``seed + 1``).
        date_from, date_to: ISO dates (market time zone) overriding the config's range.
        context, max_hold: see :func:`check_mixin`.

    Raises:
        ConfigError: no data file, too few bars for the mixins' warm-up, or a mixin's
            ``configure`` refused the config (e.g. an ML mixin with no trained model).
        DataFileError: the data file cannot be read.
    """
    from mixbot.errors import ConfigError
    from mixbot.strategy import registry
    from mixbot.venues.files import file_series

    series = file_series(cfg, True, date_from, date_to)
    bars = Bars.from_series(series)
    tz = cfg.market.timezone
    if len(bars) == 0:
        raise ConfigError(f"{cfg.source_file}: no bars in {cfg.data.path} for the date range")
    checks = []
    kinds: tuple[registry.Kind, registry.Kind] = ("entry", "exit")
    for k, (kind, choice) in enumerate(zip(kinds, (cfg.entry, cfg.exit))):
        cls = registry.get(kind, choice.name).cls
        try:
            res = check_mixin(
                config_factory(cls, choice.params, cfg),
                bars,
                n_cuts,
                seed=seed + k,
                context=context,
                max_hold=max_hold,
            )
        except ValueError as exc:
            raise ConfigError(
                f"{cfg.source_file}: {choice.name} on {cfg.data.path}: {exc}"
            ) from exc
        if res.first is not None:
            res.first = dataclasses.replace(
                res.first, time=local_time(series.end, res.first.bar, tz)
            )
        checks.append(res)
    return ConfigCheck(
        str(cfg.source_file),
        cfg.bot_id,
        str(cfg.data.path),
        len(bars),
        local_time(series.end, 0, tz),
        local_time(series.end, len(bars) - 1, tz),
        checks,
    )

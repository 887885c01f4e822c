"""Adaptive ATR stop-loss / take-profit multipliers, per symbol, from the bot's own trades.

The original Upstox bot (``../shared/spec/upstox-ml-bot.md``, "Strategy Adaptation",
``adapt_strategy_parameters_for_symbol``) adjusts each symbol's SL and TP ATR multipliers
from its live results: "if a symbol has a low win rate and high SL hit frequency, its SL
multiplier might be increased (loosening the SL)". The stop is
``entry - sl * ATR_entry`` and the target ``entry + tp * ATR_entry`` (long; mirrored for a
short), as :class:`mixbot.strategy.exit.atr.ATRExitMixin` and the triple-barrier labels use.

Statistics over the ``recent`` newest closed trades of the symbol (by exit time), all as
FRACTIONS 0-1:

* ``win_rate``: share of trades with ``pnl_net > 0`` (INR, after charges);
* ``sl_share``: share whose ``exit_reason`` is a stop (:data:`STOP_REASONS`);
* ``tp_share``: share whose ``exit_reason`` is a target (:data:`TARGET_REASONS`).

The rule set (:class:`Rules`; at most one fires, checked in this order):

1. fewer than ``min_trades`` trades: unchanged (too little evidence);
2. ``win_rate < 0.40`` and ``sl_share > 0.50``: the stop is hit too often, too close to
   the noise: LOOSEN it, ``sl += step`` (the original's rule);
3. ``win_rate > 0.60`` and ``tp_share < 0.20``: the trades win but rarely reach the target
   (they leave on a signal / time / square-off): bring the target CLOSER, ``tp -= step``;
4. ``tp_share > 0.50`` and ``win_rate > 0.50``: the target is reached most of the time:
   LET IT RUN, ``tp += step``;
5. otherwise unchanged.

Results are clamped to ``sl_bounds`` / ``tp_bounds`` (ATR multiples), so repeated runs
converge inside the configured range. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

#: Exit reasons counted as a stop-loss hit. ``trailing_stop`` is not one: it is a separate
#: mechanism (often closing winners) not set by the stop multiplier alone.
STOP_REASONS: tuple[str, ...] = ("stop_loss", "stop")
#: Exit reasons counted as a take-profit hit.
TARGET_REASONS: tuple[str, ...] = ("take_profit", "target")


@dataclass(frozen=True)
class Rules:
    """Thresholds of the rule set (fractions 0-1; see the module docstring)."""

    low_win: float = 0.40  # rule 2: win rate below this ...
    many_sl: float = 0.50  # ... and stop share above this -> sl += step
    high_win: float = 0.60  # rule 3: win rate above this ...
    few_tp: float = 0.20  # ... and target share below this -> tp -= step
    many_tp: float = 0.50  # rule 4: target share above this ...
    run_win: float = 0.50  # ... and win rate above this -> tp += step


@dataclass(frozen=True)
class AdaptResult:
    """The adapted multipliers of one symbol.

    Attributes:
        sl, tp: the new stop / target multipliers (ATR multiples).
        reason: which rule fired (or why nothing changed), for people.
        stats: ``n`` (trades used), ``win_rate``, ``sl_share``, ``tp_share`` (fractions 0-1,
            None without trades), ``net_pnl`` (INR, sum of ``pnl_net``).
        old_sl, old_tp: the multipliers before.
        rule: machine tag: ``too_few``, ``loosen_stop``, ``closer_target``, ``extend_target``,
            ``unchanged``.
        source: where ``old_sl`` / ``old_tp`` came from (:func:`current_multipliers`).
    """

    sl: float
    tp: float
    reason: str
    stats: dict[str, Any] = field(default_factory=dict)
    old_sl: float = 0.0
    old_tp: float = 0.0
    rule: str = "unchanged"
    source: str = ""

    @property
    def changed(self) -> bool:
        """True when either multiplier moved."""
        return self.sl != self.old_sl or self.tp != self.old_tp

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what ``mixbot adapt --write`` records with the model)."""
        return {**asdict(self), "changed": self.changed}


def _clamp(v: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(min(max(v, lo), hi))


def trade_stats(
    trades: Iterable[Mapping[str, Any]],
    recent: int = 50,
    stop_reasons: tuple[str, ...] = STOP_REASONS,
    target_reasons: tuple[str, ...] = TARGET_REASONS,
) -> dict[str, Any]:
    """Statistics of the ``recent`` newest ``trades`` (store rows, ordered by ``exit_time``;
    see the module docstring): ``n``, ``win_rate``, ``sl_share``, ``tp_share`` (fractions
    0-1, None when n is 0) and ``net_pnl`` (INR)."""
    rows = sorted(trades, key=lambda t: str(t.get("exit_time")))[-recent:] if recent > 0 else []
    n = len(rows)
    if n == 0:
        return {"n": 0, "win_rate": None, "sl_share": None, "tp_share": None, "net_pnl": 0.0}
    wins = sum(1 for t in rows if float(t["pnl_net"]) > 0)
    sl = sum(1 for t in rows if t.get("exit_reason") in stop_reasons)
    tp = sum(1 for t in rows if t.get("exit_reason") in target_reasons)
    return {
        "n": n,
        "win_rate": wins / n,
        "sl_share": sl / n,
        "tp_share": tp / n,
        "net_pnl": float(sum(float(t["pnl_net"]) for t in rows)),
    }


def adapt_stops(
    trades: Iterable[Mapping[str, Any]],
    sl: float,
    tp: float,
    *,
    sl_bounds: tuple[float, float] = (1.0, 4.0),
    tp_bounds: tuple[float, float] = (1.5, 6.0),
    min_trades: int = 10,
    recent: int = 50,
    step: float = 0.25,
    rules: Rules | None = None,
    stop_reasons: tuple[str, ...] = STOP_REASONS,
    target_reasons: tuple[str, ...] = TARGET_REASONS,
) -> AdaptResult:
    """Move the stop ``sl`` / target ``tp`` multipliers (ATR multiples) by the rule set of
    the module docstring, from ``trades`` (store rows of ONE symbol), clamped to the bounds.

    Raises:
        ValueError: bounds with low > high, or a negative ``step``.
    """
    for name, (lo, hi) in (("sl_bounds", sl_bounds), ("tp_bounds", tp_bounds)):
        if lo > hi:
            raise ValueError(f"{name} {lo}..{hi}: the low bound is above the high one")
    if step < 0:
        raise ValueError(f"step {step} must be >= 0")
    r = rules or Rules()
    st = trade_stats(trades, recent, stop_reasons, target_reasons)
    n, wr, sls, tps = st["n"], st["win_rate"], st["sl_share"], st["tp_share"]
    new_sl, new_tp = sl, tp
    if n < min_trades:
        rule, why = "too_few", f"{n} trades < min_trades {min_trades}: unchanged"
    elif wr < r.low_win and sls > r.many_sl:
        rule, why = (
            "loosen_stop",
            (
                f"win rate {wr:.0%} < {r.low_win:.0%} and stop exits {sls:.0%} > {r.many_sl:.0%}: "
                f"stop loosened by {step:g} ATR"
            ),
        )
        new_sl = sl + step
    elif wr > r.high_win and tps < r.few_tp:
        rule, why = (
            "closer_target",
            (
                f"win rate {wr:.0%} > {r.high_win:.0%} but target exits {tps:.0%} < "
                f"{r.few_tp:.0%}: target brought {step:g} ATR closer"
            ),
        )
        new_tp = tp - step
    elif tps > r.many_tp and wr > r.run_win:
        rule, why = (
            "extend_target",
            (
                f"target exits {tps:.0%} > {r.many_tp:.0%} with win rate {wr:.0%} > "
                f"{r.run_win:.0%}: target extended by {step:g} ATR"
            ),
        )
        new_tp = tp + step
    else:
        rule, why = "unchanged", "no rule fired: unchanged"
    out_sl, out_tp = _clamp(new_sl, sl_bounds), _clamp(new_tp, tp_bounds)
    if (out_sl, out_tp) != (new_sl, new_tp):
        why += f" (clamped to sl {sl_bounds[0]:g}..{sl_bounds[1]:g}, tp {tp_bounds[0]:g}..{tp_bounds[1]:g})"
    return AdaptResult(out_sl, out_tp, why, st, float(sl), float(tp), rule)


def adapt_per_symbol(
    trades: Iterable[Mapping[str, Any]],
    sl: float,
    tp: float,
    symbols: Iterable[str] = (),
    **kw: Any,
) -> dict[str, AdaptResult]:
    """:func:`adapt_stops` for each symbol of ``trades`` (grouped by their ``symbol``) and of
    ``symbols`` (a configured symbol without trades gets a ``too_few`` result), sorted by
    symbol. ``kw`` goes to :func:`adapt_stops`."""
    groups: dict[str, list[Mapping[str, Any]]] = {s: [] for s in symbols}
    for t in trades:
        groups.setdefault(str(t.get("symbol")), []).append(t)
    return {s: adapt_stops(groups[s], sl, tp, **kw) for s in sorted(groups)}


#: Param names of the exit mixin holding the stop / target ATR multipliers.
SL_PARAM, TP_PARAM = "x_sl_multiplier", "x_tp_multiplier"


def _model_stops(rec: Any) -> tuple[float, float] | None:
    """(sl, tp) of a registry record's stops; None when it has none."""
    try:
        st = rec.stops
        return float(st["sl_multiplier"]), float(st["tp_multiplier"])
    except (KeyError, TypeError, ValueError):
        return None


def current_multipliers(cfg: Any) -> tuple[float, float, str]:
    """The stop / target ATR multipliers the bot of ``cfg`` (a
    :class:`~mixbot.config.model.BotConfig`) trades with now, and where they come from:

    1. its newest registered model's stops (:attr:`mixbot.ml.registry.ModelRecord.stops`:
       the last ``mixbot adapt --write``, else training's), source ``"model vNNNN"``;
    2. else its exit mixin's ``x_sl_multiplier`` / ``x_tp_multiplier`` params, source
       ``"config"``.

    Raises:
        ConfigError: neither exists (pass ``sl`` / ``tp`` explicitly).
    """
    from mixbot.errors import ConfigError
    from mixbot.ml import registry

    found = registry.versions(cfg.bot_id)
    st = _model_stops(found[-1]) if found else None
    if st is not None:
        return st[0], st[1], f"model {found[-1].version}"
    params = cfg.exit.params
    if SL_PARAM in params and TP_PARAM in params:
        return float(params[SL_PARAM]), float(params[TP_PARAM]), "config"
    raise ConfigError(
        f"{cfg.source_file}: no trained model and exit mixin {cfg.exit.name} has no ATR "
        f"multipliers ({SL_PARAM} / {TP_PARAM}): nothing to adapt (give --sl and --tp)"
    )


def adapt_for_config(
    path: str | Path,
    *,
    service: Any = None,
    sl: float | None = None,
    tp: float | None = None,
    **kw: Any,
) -> dict[str, AdaptResult]:
    """Adapt the multipliers of the bot of config ``path`` from its closed trades in the
    store, read through :class:`~mixbot.service.bots.BotService` (the config's database
    and store mode: paper or live), per symbol (the config's ``data.symbol``, the symbol its
    trades are stored under, always appears).

    Args:
        path: the bot config file.
        service: a BotService to use (default a new one, closed afterwards).
        sl, tp: the current multipliers (default :func:`current_multipliers`; each result's
            ``source`` says which was used).
        kw: :func:`adapt_stops` options (bounds, min_trades, recent, step, rules).

    Raises:
        ConfigError: the config is invalid, or has no multipliers and none were given.
        StoreError: the database exists but cannot be read.
    """
    from mixbot.service.bots import BotService

    svc = service or BotService()
    try:
        ref = svc.ref(path)
        source = "given"
        if sl is None or tp is None:
            csl, ctp, source = current_multipliers(ref.cfg)
            sl, tp = csl if sl is None else sl, ctp if tp is None else tp
        store = svc.store(ref)
        trades = store.trades() if store is not None else []
    finally:
        if service is None:
            svc.close()
    out = adapt_per_symbol(trades, sl, tp, (ref.cfg.data.symbol,), **kw)
    return {s: replace(r, source=source) for s, r in out.items()}

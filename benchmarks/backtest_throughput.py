"""Backtest throughput: mixbot vs a hand-written Backtrader strategy, same bars, same rules.

Runs RSIBBEntryMixin + ATRExitMixin (default params) through mixbot's backtest job on the
2016-2018 NSE 1-minute futures folders (``nse_1min/BANKNIFTY`` and ``nse_1min/NIFTY``,
about 415,000 real bars), and the same rules written by hand with ``bt.indicators`` on
``bt.feeds.PandasData`` built from the very same bar arrays. Prints bars/s of both, the
speed ratio, the peak memory of each run and whether the two produced identical trades.

Targets (from the issue): mixbot >= 20,000 bars/s and >= 2.5 x the hand-written strategy.

Every run happens in a fresh interpreter (``multiprocessing`` spawn), so that the peak
memory reported is that run's own (``VmHWM`` of the worker process from
``/proc/self/status``: the resident-set high-water mark, interpreter and imports
included; ``ru_maxrss`` where /proc is missing) and no run warms a cache for the other.
The working directory of each run is a temporary folder, so mixbot's logs do not land in
the repository.

Usage::

    .venv/bin/python benchmarks/backtest_throughput.py            # both folders
    .venv/bin/python benchmarks/backtest_throughput.py --quick    # BANKNIFTY, first 6 months
    .venv/bin/python benchmarks/backtest_throughput.py --profile  # + cProfile of mixbot's run
    .venv/bin/python benchmarks/backtest_throughput.py --repeat 5 # best of 5 (default 3)

This is a measuring script, not a test: it prints figures and PASS/FAIL and exits 0
unless the data is missing or a run crashes (``--strict`` exits 1 on FAIL).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_BARS_PER_S = 20_000.0
TARGET_RATIO = 2.5
FOLDERS = ("BANKNIFTY", "NIFTY")

# The rules and their parameters (mixbot's defaults for both mixins).
RSI_PERIOD, RSI_OVERSOLD, BB_PERIOD, BB_DEV = 14, 30.0, 20, 2.0
ATR_PERIOD, SL_MULT, TP_MULT = 14, 2.0, 3.0
POSITION_SIZE, LOT_SIZE = 0.95, 1
COMMISSION = 0.0003  # flat fraction of turnover per fill (0.03 %)
INITIAL_BALANCE = 10_000_000.0


# ---------------------------------------------------------------------------- helpers
def peak_rss_mb() -> tuple[float, str]:
    """Peak resident set of THIS process in MiB, and how it was measured."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0, "VmHWM"
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there
        kb //= 1024
    return kb / 1024.0, "ru_maxrss"


def current_rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def bot_config(path: Path, bot_id: str, symbol: str) -> dict[str, Any]:
    """The bot config of the benchmark (a dict, validated like a file by the worker).

    Chosen so that the hand-written strategy can reproduce every trade: flat commission,
    no slippage, delivery product (no end-of-day square-off), no session window (00:00 to
    23:59, so bars stamped after 15:30 in the vendor files are tradable for both), no daily
    limits, no percent stop/target, drawdown halt out of reach.
    """
    return {
        "bot_id": bot_id,
        "description": f"throughput benchmark: {symbol} 1-minute, RSI+BB entry, ATR exit",
        "broker": {
            "type": "paper",
            "initial_balance": INITIAL_BALANCE,
            "commission": COMMISSION,
            "slippage_bps": 0.0,
        },
        "trading": {
            "symbol": symbol,
            "product": "delivery",
            "position_size": POSITION_SIZE,
            "lot_size": LOT_SIZE,
            "max_positions": 1,
            "max_drawdown_pct": 100.0,
            "max_exposure": 1.0,
        },
        "data": {"data_source": "csv", "symbol": symbol, "interval": "1m", "path": str(path)},
        "strategy": {
            "type": "custom",
            "entry_logic": {"name": "RSIBBEntryMixin", "params": {}},
            "exit_logic": {"name": "ATRExitMixin", "params": {}},
        },
        "risk_management": {
            "stop_loss_pct": None,
            "take_profit_pct": None,
            "trailing_stop": {"enabled": False},
            "max_daily_trades": None,
            "max_daily_loss": None,
        },
        "market": {
            "session_open": "00:00",
            "session_close": "23:59",
            "no_new_entry_after": None,
            "square_off_at": None,
        },
        "notifications": {"enabled": False},
        "logging": {"level": "INFO", "save_trades": True, "save_equity_curve": False},
    }


def load_config(path: Path, bot_id: str) -> Any:
    """Validate the benchmark config like a file and build the typed BotConfig.

    ``path`` may be a folder (mixbot's loader reads every file in it as one series), but
    the config validator (``mixbot.config.semantic``, data.path check) accepts only a
    file: the config is validated with the folder's first file and the folder is put
    back into the built config.
    """
    import dataclasses
    import json

    from mixbot.config.model import build as build_config
    from mixbot.config.validate import validate_file

    probe = path
    if path.is_dir():
        probe = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))[0]
    doc = bot_config(probe, bot_id, path.name)
    report = validate_file("bench.json", text=json.dumps(doc))
    if report.errors or report.effective is None:
        raise RuntimeError(
            "benchmark config is invalid:\n" + "\n".join(p.render() for p in report.problems)
        )
    cfg = build_config(report.effective, Path("bench.json"))
    if probe != path:
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, path=path))
    return cfg


def _key_time(t: Any) -> str:
    """A fill time as text to the second (both engines round-trip Backtrader day floats)."""
    import datetime as dt

    return (t + dt.timedelta(microseconds=500_000)).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------- mixbot run
def run_mixbot(path: str, workdir: str, profile: bool) -> dict[str, Any]:
    """One mixbot backtest in this (fresh) process; build and run timed separately."""
    os.chdir(workdir)
    rss0 = current_rss_mb()
    t_imp = time.perf_counter()
    import mixbot.engine.backtest as bk

    t_imp = time.perf_counter() - t_imp
    cfg = load_config(Path(path), f"bench_{Path(path).name.lower()}")
    rss_ready = current_rss_mb()

    timings: dict[str, float] = {}
    real_build, real_collect = bk.build, bk.collect
    holder: dict[str, Any] = {}

    def timed_build(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        built = real_build(*a, **k)
        timings["build"] = time.perf_counter() - t
        holder["built"] = built
        run = built.cerebro.run

        def timed_run(*ra: Any, **rk: Any) -> Any:
            t1 = time.perf_counter()
            out = run(*ra, **rk)
            timings["run"] = time.perf_counter() - t1
            return out

        built.cerebro.run = timed_run  # instance attribute: only this Cerebro is wrapped
        return built

    def timed_collect(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        out = real_collect(*a, **k)
        timings["collect"] = time.perf_counter() - t
        return out

    bk.build, bk.collect = timed_build, timed_collect
    try:
        t0 = time.perf_counter()
        result = bk.run_backtest(cfg, progress=False)
        total = time.perf_counter() - t0
    finally:
        bk.build, bk.collect = real_build, real_collect
    peak, how = peak_rss_mb()
    prof_text = ""
    if profile:  # a second, untimed run under the profiler
        import cProfile
        import io
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        bk.run_backtest(cfg, progress=False)
        pr.disable()
        buf = io.StringIO()
        st = pstats.Stats(pr, stream=buf).strip_dirs()
        st.sort_stats("tottime").print_stats(25)
        st.sort_stats("cumulative").print_stats(25)
        prof_text = buf.getvalue()
    built = holder["built"]
    trades = [
        (
            _key_time(t.entry_time),
            _key_time(t.exit_time),
            float(t.size),
            float(t.entry_price),
            float(t.exit_price),
            float(t.pnl_net),
            t.exit_reason,
        )
        for t in result.trades
    ]
    return {
        "engine": "mixbot",
        "bars": int(result.bars),
        "series_len": len(built.series),
        "import_s": t_imp,
        "build_s": timings.get("build", float("nan")),
        "run_s": timings.get("run", float("nan")),
        "collect_s": timings.get("collect", float("nan")),
        "total_s": total,
        "trades": trades,
        "final_value": float(result.final_value),
        "open_position": float(result.open_position),
        "refusals": dict(result.refusals),
        "rss_start_mb": rss0,
        "rss_ready_mb": rss_ready,
        "peak_mb": peak,
        "peak_how": how,
        "profile": prof_text,
    }


# ---------------------------------------------------------------------------- baseline run
def run_baseline(path: str, workdir: str, dump: str | None, runonce: bool = True) -> dict[str, Any]:
    """The hand-written strategy on PandasData over the same bars (prepare_series)."""
    os.chdir(workdir)
    rss0 = current_rss_mb()
    import backtrader as bt
    import numpy as np
    import pandas as pd

    from mixbot.feeds.series import prepare_series

    cfg = load_config(Path(path), "bench_baseline")
    m = cfg.market
    t = time.perf_counter()
    s = prepare_series(
        cfg.data.path,
        interval_minutes=cfg.data.interval_minutes,
        tz=m.timezone,
        session_open_min=m.session_open_min,
        session_close_min=m.session_close_min,
        aggregate=True,
    )
    load_s = time.perf_counter() - t
    rss_ready = current_rss_mb()

    class HandWritten(bt.Strategy):  # type: ignore[misc]
        """RSI < oversold and close < lower BB -> buy at market; exit at entry +3/-2 ATR."""

        def __init__(self) -> None:
            # safediv: on a flat window Backtrader would divide by zero; safelow=0 makes
            # the 0/0 case 0 like TA-Lib (x/0 is 100 in both).
            self.rsi = bt.indicators.RSI(
                self.data.close, period=RSI_PERIOD, safediv=True, safelow=0.0
            )
            self.bb = bt.indicators.BollingerBands(
                self.data.close, period=BB_PERIOD, devfactor=BB_DEV
            )
            self.atr = bt.indicators.ATR(self.data, period=ATR_PERIOD)
            self.order: Any = None
            self.signal_atr = math.nan
            self.entry_price = math.nan
            self.entry_atr = math.nan
            self.open: Any = None
            self.reason = ""
            self.trades: list[tuple[Any, ...]] = []

        def next(self) -> None:
            if self.order is not None:
                return
            c = self.data.close[0]
            if not self.position:
                if self.rsi[0] < RSI_OVERSOLD and c < self.bb.bot[0]:
                    value = self.broker.getvalue()
                    budget = min(value * POSITION_SIZE, self.broker.getcash())
                    size = math.floor(budget / c / LOT_SIZE) * LOT_SIZE
                    if size > 0:
                        self.signal_atr = self.atr[0]  # frozen at the SIGNAL bar
                        self.order = self.buy(size=size, exectype=bt.Order.Market)
                return
            if c >= self.entry_price + TP_MULT * self.entry_atr:
                self.reason = "take_profit"
            elif c <= self.entry_price - SL_MULT * self.entry_atr:
                self.reason = "stop_loss"
            else:
                return
            self.order = self.close(exectype=bt.Order.Market)

        def notify_order(self, order: Any) -> None:
            if order.status in (order.Submitted, order.Accepted):
                return
            self.order = None
            if order.status != order.Completed:
                return
            when = self.data.datetime.datetime(0)
            px, size, comm = order.executed.price, order.executed.size, order.executed.comm
            if order.isbuy():
                self.entry_price, self.entry_atr = px, self.signal_atr
                self.open = (when, size, px, comm)
            else:
                et, esize, epx, ecomm = self.open
                pnl = (px - epx) * esize - (ecomm + comm)
                self.trades.append((et, when, esize, epx, px, pnl, self.reason))
                self.open = None

    t = time.perf_counter()
    frame = pd.DataFrame(
        {"open": s.open, "high": s.high, "low": s.low, "close": s.close, "volume": s.volume},
        index=pd.DatetimeIndex(s.end, name="datetime"),
    )
    cerebro = bt.Cerebro(stdstats=False, runonce=runonce)  # preload=True (default)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
    broker = bt.brokers.BackBroker(cash=INITIAL_BALANCE, checksubmit=True)
    broker.addcommissioninfo(
        bt.CommInfoBase(
            commission=COMMISSION, commtype=bt.CommInfoBase.COMM_PERC, percabs=True, stocklike=True
        )
    )
    cerebro.broker = broker
    cerebro.addstrategy(HandWritten)
    setup_s = time.perf_counter() - t
    t = time.perf_counter()
    strat = cerebro.run()[0]
    run_s = time.perf_counter() - t
    peak, how = peak_rss_mb()
    if dump:
        np.savez(
            dump,
            rsi=np.asarray(strat.rsi.array, dtype=float),
            lower=np.asarray(strat.bb.bot.array, dtype=float),
            atr=np.asarray(strat.atr.array, dtype=float),
        )
    trades = [
        (_key_time(a), _key_time(b), float(sz), float(p0), float(p1), float(pnl), r)
        for a, b, sz, p0, p1, pnl, r in strat.trades
    ]
    return {
        "engine": "baseline",
        "bars": len(strat.data),
        "series_len": len(s),
        "load_s": load_s,
        "setup_s": setup_s,
        "run_s": run_s,
        "total_s": setup_s + run_s,
        "trades": trades,
        "final_value": float(cerebro.broker.getvalue()),
        "open_position": float(strat.position.size),
        "rss_start_mb": rss0,
        "rss_ready_mb": rss_ready,
        "peak_mb": peak,
        "peak_how": how,
    }


# ---------------------------------------------------------------------------- diagnosis
def diagnose(path: str, dump: str) -> str:
    """Where mixbot's TA-Lib signals and Backtrader's indicator signals first disagree."""
    import numpy as np

    from mixbot.feeds.series import prepare_series
    from mixbot.indicators import atr, bbands, rsi

    s = prepare_series(Path(path), interval_minutes=1, aggregate=True)
    d = np.load(dump)
    n = len(s)
    r_ta = rsi(s.close, RSI_PERIOD)
    lo_ta = bbands(s.close, BB_PERIOD, BB_DEV)[2]
    a_ta = atr(s.high, s.low, s.close, ATR_PERIOD)
    r_bt, lo_bt, a_bt = (d[k][:n] for k in ("rsi", "lower", "atr"))
    with np.errstate(invalid="ignore"):
        sig_ta = (r_ta < RSI_OVERSOLD) & (s.close < lo_ta)
        sig_bt = (r_bt < RSI_OVERSOLD) & (s.close < lo_bt)
    ok = ~np.isnan(r_ta) & ~np.isnan(lo_ta)
    diff = np.flatnonzero((sig_ta != sig_bt) & ok)
    lines = [
        f"    indicator agreement over {n} bars: max |RSI diff| "
        f"{np.nanmax(np.abs(r_ta - r_bt)):.3g}, max |lower diff| "
        f"{np.nanmax(np.abs(lo_ta - lo_bt)):.3g}, max |ATR diff| "
        f"{np.nanmax(np.abs(a_ta - a_bt)):.3g}",
        f"    entry-signal bars that differ (TA-Lib vs bt.indicators): {diff.size}",
    ]
    for i in diff[:5]:
        lines.append(
            f"      bar {i} ({s.end[i]} UTC): close {s.close[i]!r}; RSI ta {r_ta[i]!r} bt "
            f"{r_bt[i]!r}; lower ta {lo_ta[i]!r} bt {lo_bt[i]!r}"
        )
    return "\n".join(lines)


def compare(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> tuple[bool, int, str]:
    """(identical, count of identical trades before the first difference, description)."""

    def same(x: tuple[Any, ...], y: tuple[Any, ...]) -> bool:
        return x[:5] == y[:5] and x[6] == y[6] and math.isclose(x[5], y[5], abs_tol=1e-6)

    for k, (x, y) in enumerate(zip(a, b)):
        if not same(x, y):
            return False, k, f"trade #{k + 1}: mixbot {x} vs hand-written {y}"
    if len(a) != len(b):
        k = min(len(a), len(b))
        extra = a[k] if len(a) > k else b[k]
        who = "mixbot" if len(a) > k else "hand-written"
        return False, k, f"trade #{k + 1} exists only in {who}: {extra}"
    return True, len(a), ""


# ---------------------------------------------------------------------------- main
def _in_worker(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` in a fresh spawned interpreter and return its result."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _quick_folder(src: Path, n_files: int, tmp: Path) -> Path:
    """A folder of symlinks to the first ``n_files`` files of ``src`` (nothing copied)."""
    out = tmp / src.name
    out.mkdir()
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    for p in files[:n_files]:
        (out / p.name).symlink_to(p)
    return out


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the shortest ``run_s`` (timeit's rule: the minimum is the estimate least
    disturbed by other load), with every run's ``run_s`` kept in ``runs_s``.

    Raises RuntimeError when the repeats disagree on the trades (the engine would not be
    deterministic, and no timing of it could be trusted).
    """
    first = runs[0]["trades"]
    for r in runs[1:]:
        if r["trades"] != first:
            raise RuntimeError(f"{r['engine']}: repeated runs produced different trades")
    best = dict(min(runs, key=lambda r: r["run_s"]))
    best["runs_s"] = [r["run_s"] for r in runs]
    return best


def _measure(
    name: str, folder: Path, workdir: Path, tmp: Path, modes: list[str], args: Any, profile: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--repeat`` interleaved runs of mixbot and the judged baseline (each in a fresh
    process), one run of the event-mode baseline; returns the best run of each engine."""
    mx_runs: list[dict[str, Any]] = []
    bl_runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for rep in range(args.repeat):
        tag = f" (run {rep + 1}/{args.repeat})" if args.repeat > 1 else ""
        print(f"[{name}] mixbot{tag} ...", flush=True)
        prof = args.profile and profile and rep == 0
        mx_runs.append(_in_worker(run_mixbot, str(folder), str(workdir), prof))
        for k, mode in enumerate(modes):
            if k > 0 and rep > 0:
                continue  # the event-mode baseline is not judged: one run is enough
            label, runonce = BASELINES[mode]
            dump = str(tmp / f"{name}-{mode}-bt-indicators.npz")
            print(f"[{name}] {label} Backtrader (runonce={runonce}){tag} ...", flush=True)
            bl_runs[mode].append(_in_worker(run_baseline, str(folder), str(workdir), dump, runonce))
    mx = _best(mx_runs)
    if mx_runs[0].get("profile"):
        mx["profile"] = mx_runs[0]["profile"]
    return mx, {m: _best(r) for m, r in bl_runs.items()}


def fmt_rate(bars: float, secs: float) -> str:
    return f"{bars / secs:>10,.0f}" if secs > 0 else "       n/a"


BASELINES = {"once": ("hand-written", True), "next": ("hand (event)", False)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="BANKNIFTY only, first --files files")
    ap.add_argument("--files", type=int, default=6, help="files per folder with --quick")
    ap.add_argument("--folders", nargs="+", default=list(FOLDERS), help="folders of nse_1min")
    ap.add_argument("--profile", action="store_true", help="also cProfile mixbot (untimed run)")
    ap.add_argument(
        "--baseline",
        choices=("once", "next", "both"),
        default="both",
        help="hand-written strategy mode: once = Backtrader's default Cerebro (runonce=True, "
        "vectorised indicators; the targets are judged against it), next = runonce=False "
        "(event mode, like mixbot's Cerebro); default both",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of mixbot and of the judged baseline, interleaved, each in a fresh process; "
        "the fastest run of each is reported (default 3; a shared or busy machine varies by "
        "20-40 %% from run to run)",
    )
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be 1 or more")

    from mixbot.paths import sample_data_dir

    data = sample_data_dir()
    root = data / "nse_1min" if data is not None else None
    if root is None or not root.is_dir():
        print(
            "benchmark data not found: set MIXBOT_DATA (or TRADEBOT_SAMPLE_DATA) to the shared "
            f"data folder holding nse_1min/BANKNIFTY and nse_1min/NIFTY (looked at: {data})",
            file=sys.stderr,
        )
        return 2
    folders = ["BANKNIFTY"] if args.quick else args.folders
    missing = [f for f in folders if not (root / f).is_dir()]
    if missing:
        print(
            f"benchmark data not found: {', '.join(str(root / f) for f in missing)}",
            file=sys.stderr,
        )
        return 2
    modes = ["once", "next"] if args.baseline == "both" else [args.baseline]

    import platform

    import backtrader as bt

    print(
        f"mixbot backtest throughput: RSIBBEntryMixin + ATRExitMixin (defaults) vs hand-written "
        f"bt.Strategy (bt.indicators RSI/BollingerBands/ATR on PandasData)\n"
        f"python {platform.python_version()}, backtrader {bt.__version__}, {platform.machine()}, "
        f"data {root}{'  [--quick]' if args.quick else ''}\n"
        f"rules: buy at market when RSI({RSI_PERIOD}) < {RSI_OVERSOLD:g} and close < lower "
        f"BB({BB_PERIOD}, {BB_DEV:g}); sell at market when close >= entry + {TP_MULT:g} "
        f"ATR({ATR_PERIOD}) or <= entry - {SL_MULT:g} ATR (ATR of the signal bar);\n"
        f"  size floor({POSITION_SIZE:g} x value / close), commission {COMMISSION:.2%} of turnover "
        f"per fill, no slippage, cash {INITIAL_BALANCE:,.0f} INR\n"
        f"hand-written: Cerebro(stdstats=False, preload=True, runonce=True) = Backtrader's "
        f"default; 'hand (event)': the same with runonce=False;\n"
        f"  PandasData, BackBroker(checksubmit=True), CommInfoBase COMM_PERC. mixbot's own "
        f"Cerebro: runonce=False, ArrayFeed.\n"
    )
    # rows: (folder, mixbot result, {mode: baseline result}, {mode: comparison}, {mode: diagnosis})
    rows: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]] = []
    with tempfile.TemporaryDirectory(prefix="mixbot-bench-") as tmpd:
        tmp = Path(tmpd)
        for name in folders:
            folder = _quick_folder(root / name, args.files, tmp) if args.quick else root / name
            workdir = tmp / f"run-{name}"
            workdir.mkdir()
            mx, bls = _measure(name, folder, workdir, tmp, modes, args, profile=not rows)
            cmps: dict[str, Any] = {}
            diags: dict[str, str] = {}
            for mode in modes:
                dump = str(tmp / f"{name}-{mode}-bt-indicators.npz")
                cmps[mode] = compare(mx["trades"], bls[mode]["trades"])
                diags[mode] = "" if cmps[mode][0] else _in_worker(diagnose, str(folder), dump)
            rows.append((name, mx, bls, cmps, diags))

    # ------------------------------------------------------------------ table
    print()
    hdr = (
        f"{'data':<10} {'engine':<13} {'bars':>9} {'load+build s':>12} {'run s':>8} "
        f"{'total s':>8} {'bars/s run':>10} {'bars/s e2e':>10} {'peak MiB':>9} {'trades':>7}"
    )
    print(hdr)
    print("-" * len(hdr))
    tot: dict[str, list[float]] = {k: [0.0, 0.0, 0.0] for k in ["mixbot", *modes]}
    for name, mx, bls, _c, _d in rows:
        entries = [("mixbot", "mixbot", mx, mx["build_s"], mx["total_s"])]
        for mode in modes:
            bl = bls[mode]
            entries.append(
                (
                    mode,
                    BASELINES[mode][0],
                    bl,
                    bl["load_s"] + bl["setup_s"],
                    bl["load_s"] + bl["total_s"],
                )
            )
        for k, (key, label, r, prep, e2e) in enumerate(entries):
            print(
                f"{name if k == 0 else '':<10} {label:<13} {r['bars']:>9,} {prep:>12.2f} "
                f"{r['run_s']:>8.2f} {e2e:>8.2f} {fmt_rate(r['bars'], r['run_s'])} "
                f"{fmt_rate(r['bars'], e2e)} {r['peak_mb']:>9.0f} {len(r['trades']):>7}"
            )
            t = tot[key]
            t[0] += r["bars"]
            t[1] += r["run_s"]
            t[2] += e2e
    print("-" * len(hdr))
    if len(rows) > 1:
        for k, key in enumerate(["mixbot", *modes]):
            label = "mixbot" if key == "mixbot" else BASELINES[key][0]
            b_, r_, e_ = tot[key]
            print(
                f"{'all' if k == 0 else '':<10} {label:<13} {int(b_):>9,} {'':>12} {r_:>8.2f} "
                f"{e_:>8.2f} {fmt_rate(b_, r_)} {fmt_rate(b_, e_)}"
            )
    how = rows[0][1]["peak_how"]
    print(
        "\nrun s: cerebro.run() only (feed preload, indicators, strategy loop, broker); the"
        f"\n  fastest of {args.repeat} interleaved runs (the event-mode baseline: one run); every"
        "\n  run: "
        + "; ".join(
            f"{n} {lbl} " + "/".join(f"{x:.2f}" for x in r["runs_s"])
            for n, mx_, bls_, _c, _d in rows
            for lbl, r in [("mixbot", mx_), *((BASELINES[m][0], bls_[m]) for m in modes)]
        )
        + " s."
        "\nmixbot: load+build s = mixbot.engine.build.build (file parsing, quality checks, Cerebro"
        "\n  setup); total s = the whole run_backtest() call (build + run + metrics)."
        "\nhand-written: load+build s = prepare_series (mixbot's loader: the shared input) +"
        "\n  DataFrame/Cerebro setup; total s = load+build + run."
        f"\npeak MiB: {how} (resident-set high-water mark) of the worker process that ran that"
        "\n  engine alone in a fresh spawned interpreter, interpreter and imports included"
        f"\n  (resident after imports and data load, {rows[0][0]}: mixbot "
        f"{rows[0][1]['rss_ready_mb']:.0f} MiB, hand-written "
        f"{rows[0][2][modes[0]]['rss_ready_mb']:.0f} MiB)."
    )

    # ------------------------------------------------------------------ trades
    print("\ntrades compared: entry/exit fill time, size, entry/exit price, net PnL, exit reason")
    all_same = True
    for name, mx, bls, cmps, diags in rows:
        for mode in modes:
            same, n_same, first = cmps[mode]
            bl = bls[mode]
            all_same &= same
            who = BASELINES[mode][0]
            fv = f"final value {mx['final_value']:,.2f} / {bl['final_value']:,.2f} INR"
            if same:
                print(f"  {name} vs {who}: IDENTICAL, {n_same} of {len(mx['trades'])} trades; {fv}")
            else:
                print(
                    f"  {name} vs {who}: DIFFERENT: {n_same} identical trades before the first "
                    f"difference (mixbot {len(mx['trades'])}, {who} {len(bl['trades'])}); {fv}"
                )
                print(f"    first difference: {first}")
                print(diags[mode])
        if mx["refusals"]:
            print(f"    mixbot refusals: {mx['refusals']}")

    # ------------------------------------------------------------------ verdict
    mb, mr, me = tot["mixbot"]
    rate, rate_e2e = mb / mr, mb / me
    ok_rate = rate >= TARGET_BARS_PER_S
    print(f"\nmixbot: {rate:,.0f} bars/s run-only ({rate_e2e:,.0f} end-to-end incl. file loading)")
    ok_ratio = True
    for mode in modes:
        b_, r_, e_ = tot[mode]
        ratio, ratio_e2e = rate / (b_ / r_), rate_e2e / (b_ / e_)
        label, runonce = BASELINES[mode]
        print(
            f"{label} (runonce={runonce}): {b_ / r_:,.0f} bars/s run-only; speed ratio "
            f"mixbot / it: {ratio:.2f}x run-only ({ratio_e2e:.2f}x end-to-end)"
        )
        if mode == modes[0]:
            ok_ratio = ratio >= TARGET_RATIO
            judged = f"{label} (runonce={runonce})"
    print(
        f"target >= {TARGET_BARS_PER_S:,.0f} bars/s (run-only):        {'PASS' if ok_rate else 'FAIL'}"
    )
    print(f"target >= {TARGET_RATIO}x {judged}, run-only: {'PASS' if ok_ratio else 'FAIL'}")
    print(
        "trades identical to the hand-written strategy: "
        + ("YES (every folder, every baseline mode)" if all_same else "NO (see above)")
    )
    for name, mx, *_ in rows:
        if mx.get("profile"):
            print(f"\ncProfile of a second, untimed mixbot run_backtest on {name}:")
            print(mx["profile"])
    return 1 if args.strict and not (ok_rate and ok_ratio and all_same) else 0


if __name__ == "__main__":
    sys.exit(main())

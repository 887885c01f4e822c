"""How fast are the data loaders and the vectorised Supertrend, on real data?

    .venv/bin/python benchmarks/data_speed.py

Prints CPU seconds (this process) of: loading RELIANCE daily (yfinance CSV), loading the 27
BANKNIFTY 1-minute vendor files, and Supertrend(10, 3) on 400k 1-minute bars. Targets (from
round one): < 1 s, < 5 s and < 2 s. Exit 1 when one is missed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from mixbot.feeds.loaders import load_bars, load_many
from mixbot.indicators.supertrend import supertrend
from mixbot.paths import sample_data_dir


def _cpu(fn: object) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn()  # type: ignore[operator]
    return time.process_time() - t0, out


def main() -> int:
    data = sample_data_dir()
    if data is None:
        print("real market data not found: set MIXBOT_DATA or put it at ../shared/data")
        return 2
    daily, _ = _cpu(lambda: load_bars(data / "nse_daily" / "RELIANCE.csv"))
    files = sorted((data / "nse_1min" / "BANKNIFTY").glob("*.txt"))
    many, res = _cpu(lambda: load_many(files))
    frame = res.frame  # type: ignore[attr-defined]
    reps = 400_000 // len(frame) + 1
    h, lo, c = (np.tile(frame[k].to_numpy(float), reps)[:400_000] for k in ("high", "low", "close"))
    st, _ = _cpu(lambda: supertrend(h, lo, c, 10, 3.0))
    rows = [
        ("load RELIANCE daily", daily, 1.0),
        (f"load {len(files)} BANKNIFTY 1-minute files ({len(frame):,} bars)", many, 5.0),
        ("Supertrend(10, 3) on 400k bars", st, 2.0),
    ]
    ok = True
    for name, cpu, target in rows:
        ok &= cpu < target
        print(f"{name}: {cpu:.2f} s CPU (target < {target:g} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

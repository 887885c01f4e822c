"""How fast is ``mixbot validate``? Ten configs, fresh processes, plus in-process timing.

Usage: ``.venv/bin/python benchmarks/validate_speed.py [--runs N]``

The ten configs are the examples under ``config/trading`` (recursively) plus copies of
them in a temporary folder to make ten; ``@data/`` paths resolve as for the examples and
the live example gets dummy token variables, so all ten are valid when the market-data
folder is available. Reports wall time of ``python -m mixbot validate <10 files>`` in a
fresh interpreter (min / median over ``--runs``, and per config), the import-only cost of
a fresh interpreter, and ``validate_file`` x10 in process. Target: well under one second
for ten configs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "config" / "trading"
DUMMY_ENV = {
    "UPSTOX_ACCESS_TOKEN": "dummy",
    "TELEGRAM_BOT_TOKEN": "dummy",
    "TELEGRAM_CHAT_ID": "dummy",
}


def ten_configs(tmp: Path) -> list[Path]:
    """The example configs plus copies in ``tmp`` until there are ten."""
    examples = sorted(EXAMPLES.rglob("*.json"))
    files = list(examples)
    i = 0
    while len(files) < 10:
        src = examples[i % len(examples)]
        dst = tmp / f"copy{i}_{src.name}"
        shutil.copy(src, dst)
        files.append(dst)
        i += 1
    return files[:10]


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh-process runs (default 7)")
    args = parser.parse_args()
    env = {**os.environ, **DUMMY_ENV}

    with tempfile.TemporaryDirectory() as tmp:
        files = ten_configs(Path(tmp))
        cmd = [sys.executable, "-m", "mixbot", "validate", *map(str, files)]
        first, code = timed_run(cmd, env)  # warms the OS file cache and .pyc files
        if code != 0:
            out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
            print(f"note: validate exited {code} (data folder absent?):\n{out.stdout[-800:]}")
        walls = [timed_run(cmd, env)[0] for _ in range(args.runs)]
        bare = [timed_run([sys.executable, "-c", "pass"], env)[0] for _ in range(args.runs)]
        imports = [
            timed_run([sys.executable, "-c", "import mixbot.cli"], env)[0] for _ in range(args.runs)
        ]

        os.environ.update(DUMMY_ENV)
        from mixbot.config.validate import validate_file

        validate_file(files[0])  # first call loads schema, registry and mixin modules
        inproc = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            reports = [validate_file(f) for f in files]
            inproc.append(time.perf_counter() - t0)
        n_valid = sum(r.ok for r in reports)

    med = statistics.median(walls)
    print(
        f"mixbot validate, {len(files)} configs ({n_valid} valid), fresh process, {args.runs} runs"
    )
    print(f"  first (cold) run      : {first * 1000:7.1f} ms")
    print(f"  wall time  min/median : {min(walls) * 1000:7.1f} / {med * 1000:7.1f} ms")
    print(f"  per config (median)   : {med / len(files) * 1000:7.1f} ms")
    print(f"  python -c pass median : {statistics.median(bare) * 1000:7.1f} ms")
    print(f"  import mixbot.cli     : {statistics.median(imports) * 1000:7.1f} ms")
    best = min(inproc)
    print(f"in-process validate_file x{len(files)}")
    print(
        f"  min/median            : {best * 1000:7.1f} / {statistics.median(inproc) * 1000:7.1f} ms"
    )
    print(f"  per config (min)      : {best / len(files) * 1000:7.2f} ms")
    verdict = "OK" if med < 1.0 else "SLOW"
    print(f"target: ten configs well under 1 s in a fresh process -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

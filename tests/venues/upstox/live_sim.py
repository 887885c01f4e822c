"""Helpers of the live-on-the-simulator tests: a bot config for the Upstox broker on the
BANKNIFTY example, validated, and a simulator on the same real 1-minute file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"


def live_config(tmp_path: Path, bot_id: str, to: str, **broker: Any) -> Any:
    """The validated config of ``config/trading/live/upstox_sim_banknifty.json`` as bot
    ``bot_id`` on the real-money ``upstox`` broker (``broker`` adds fields), data up to ``to``."""
    doc = json.loads((REPO_ROOT / "config/trading/live/upstox_sim_banknifty.json").read_text())
    doc["bot_id"] = bot_id
    doc["broker"] = {
        "type": "upstox",
        "access_token": "${UPSTOX_ACCESS_TOKEN}",
        "algo_name": "a",
        **broker,
    }
    doc["data"]["to"] = to
    path = tmp_path / f"{bot_id}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text(), env={"UPSTOX_ACCESS_TOKEN": "sim-token"})
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)


def simulator(data_dir: Path, tmp_path: Path, end: str, **kw: Any) -> Any:
    """A started-later simulator of that file from 2019-01-01 to ``end`` at speed 1200."""
    from mixbot.simulators.upstox import Simulator

    return Simulator(
        files=[data_dir / FILE],
        port=0,
        speed=1200,
        start="2019-01-01",
        end=end,
        tls_dir=tmp_path / "tls",
        **kw,
    )

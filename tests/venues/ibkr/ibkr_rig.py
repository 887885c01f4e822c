"""Helpers of the IBKR tests: the simulator on real BANKNIFTY data and the example config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixbot.config.model import build
from mixbot.config.validate import validate_file
from mixbot.paths import REPO_ROOT

FILE = "nse_1min/BANKNIFTY_F1_2019H1.txt"
EXAMPLE = REPO_ROOT / "config/trading/live/ibkr_banknifty.json"


def make_sim(data_dir: Path, **kw: Any) -> Any:
    from mixbot.simulators.ibkr import Simulator

    kw.setdefault("start", "2019-01-02")
    kw.setdefault("end", "2019-01-02")
    return Simulator([data_dir / FILE], port=0, speed=0, **kw).start()


def config(tmp_path: Path, name: str, **sections: dict[str, Any]) -> Any:
    """The validated example config with ``sections`` merged in (a section value of None
    removes it)."""
    doc = json.loads(EXAMPLE.read_text())
    for sec, fields in sections.items():
        if fields is None:
            doc.pop(sec, None)
        else:
            doc.setdefault(sec, {}).update(fields)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    report = validate_file(path, text=path.read_text())
    assert report.ok, [p.render() for p in report.errors]
    return build(report.effective, path)

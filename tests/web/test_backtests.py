"""Backtests from the API: a background job with progress, then metrics, equity with
drawdown, trades, and buy-and-hold of the same instrument (checked against the raw file)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rig import Rig


def _wait_done(rig: Rig, headers: dict[str, str], job_id: str) -> dict[str, object]:
    """The job once its process ended (the app's service started it: wait for that child;
    the bound only stops a hung job from hanging the suite), as the API reports it."""
    job = rig.client.get(f"/api/v1/backtests/{job_id}", headers=headers).json
    assert 0.0 <= job["pct"] <= 100.0
    rig.app.extensions["mixbot.fleet"].service.jobs.wait(job_id, timeout=600)
    return rig.client.get(f"/api/v1/backtests/{job_id}", headers=headers).json  # type: ignore[no-any-return]


def test_backtest_job_result_against_buy_and_hold(rig: Rig, data_dir: Path) -> None:
    headers = rig.token("admin")
    body = {"bot_id": "r2", "from": "2019-01-02", "to": "2019-01-04"}
    assert (
        rig.client.post("/api/v1/backtests", headers=rig.token("watcher"), json=body).status_code
        == 403
    )
    r = rig.client.post("/api/v1/backtests", headers=headers, json=body)
    assert r.status_code == 202, r.json
    job_id = r.json["id"]
    again = rig.client.post("/api/v1/backtests", headers=headers, json=body)
    assert again.status_code in (202, 409)  # 409 while the first one still runs
    if again.status_code == 202:
        _wait_done(rig, headers, again.json["id"])
    job = _wait_done(rig, headers, job_id)
    assert job["state"] == "done", job
    res = rig.client.get(f"/api/v1/backtests/{job_id}/result", headers=headers).json
    assert res["metrics"]["n_trades"] == len(res["trades"])
    eq = res["equity"]
    assert eq and all(p["drawdown_pct"] >= 0 for p in eq)
    # buy-and-hold from the raw vendor file: first and last 1-minute close of the range
    raw = pd.read_csv(
        data_dir / "nse_1min" / "BANKNIFTY_F1_2019H1.txt",
        header=None,
        names=["sym", "date", "time", "o", "h", "l", "c", "v", "oi"],
        dtype={"date": str},
    )
    days = raw[(raw.date >= "20190102") & (raw.date <= "20190104")]
    expected = (days.c.iloc[-1] / days.c.iloc[0] - 1.0) * 100.0
    assert abs(res["buy_and_hold"]["total_return_pct"] - expected) < 0.01
    initial = eq[0]["buy_and_hold"]
    assert abs(eq[-1]["buy_and_hold"] / initial - (1 + expected / 100)) < 1e-3


def test_unknown_job_is_404(rig: Rig) -> None:
    r = rig.client.get("/api/v1/backtests/nope", headers=rig.token("admin"))
    assert r.status_code == 404

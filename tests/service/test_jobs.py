"""Backtests as background jobs: progress, the report equals a foreground backtest, cancel, a
killed job reads failed, bad configs refused before a job starts."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from tests.service.conftest import make_config

from mixbot.config.load import load_config
from mixbot.engine.backtest import run_backtest
from mixbot.errors import ConfigError
from mixbot.service.bots import BotService

DEADLINE_S = 600  # only bounds a wait for something that must happen; never asserted on


def _wait(svc: BotService, job_id: str, until: tuple[str, ...]) -> object:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        job = svc.backtest_job(job_id)
        if job.state in until:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {svc.backtest_job(job_id).state}")


def test_a_job_reports_progress_and_the_same_result_as_a_foreground_backtest(
    data_dir: Path, workdir: Path
) -> None:
    cfg_path = make_config(data_dir, workdir / "bots", "job1", "2019-01-31")
    svc = BotService(jobs_root=workdir / "jobs")
    job = svc.start_backtest(cfg_path)
    assert job.state == "running" and job.bot_id == "job1"
    done = _wait(svc, job.id, ("done", "failed"))
    assert done.state == "done", (Path(done.folder) / "console.log").read_text()
    assert done.total > 5000 and done.done == done.total and done.pct == 100.0
    assert svc.backtest_jobs()[0].id == job.id

    report = svc.backtest_report(job.id)
    fg = run_backtest(load_config(cfg_path), report_dir=workdir / "fg", progress=False)
    assert report["metrics"] == json.loads((workdir / "fg" / "metrics.json").read_text())
    assert report["metrics"]["n_trades"] == len(fg.trades) > 0
    fg_csv = (workdir / "fg" / "trades.csv").read_text()
    assert Path(report["files"]["trades"]).read_text() == fg_csv


def test_a_running_job_can_be_cancelled_and_a_killed_one_reads_failed(
    data_dir: Path, workdir: Path
) -> None:
    cfg_path = make_config(data_dir, workdir / "bots", "job2", "2019-06-28")
    svc = BotService(jobs_root=workdir / "jobs")
    first = svc.start_backtest(cfg_path)
    second = svc.start_backtest(cfg_path)
    cancelled = svc.cancel_backtest(first.id)
    assert cancelled.state == "cancelled"
    with pytest.raises(ConfigError, match="cancelled"):
        svc.backtest_report(first.id)

    pid = json.loads((Path(second.folder) / "job.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    failed = _wait(svc, second.id, ("failed", "done"))
    assert failed.state == "failed"
    assert "ended without a result" in (failed.error or "")


def test_bad_config_is_refused_before_a_job_starts(workdir: Path) -> None:
    bad = workdir / "bad.json"
    bad.write_text('{"bot_id": "x"}')
    svc = BotService(jobs_root=workdir / "jobs")
    with pytest.raises(ConfigError, match="bad.json"):
        svc.start_backtest(bad)
    assert svc.backtest_jobs() == []
    with pytest.raises(ConfigError, match="no backtest job"):
        svc.backtest_job("../etc")

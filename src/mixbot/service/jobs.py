"""Backtests as background jobs: start one, follow its progress, fetch its report.

A job is a ``mixbot backtest CONFIG --report DIR --job-dir DIR`` process (its own process: a
long backtest neither blocks nor dies with the web GUI or Telegram poller that started it, and
can be cancelled). Everything about a job lives in its folder ``<root>/<job id>/`` (default
root ``reports/jobs``), so any process (a restarted GUI, the CLI) can read it:

* ``job.json``: id, bot_id, config file, dates, pid, started_at (UTC ISO 8601);
* ``progress.json``: ``{"done": bars processed, "total": bars}``, rewritten atomically as the
  backtest goes (at most every 1 % of the bars);
* ``state.json``: written once at the end: ``{"state": "done" | "failed", "error": ...}``;
* the report files of ``mixbot backtest`` (``metrics.json``, ``trades.csv``, ``equity.csv``,
  ``equity.png``) and ``console.log`` (the command's output).

A job whose process is gone without a ``state.json`` (killed, machine restarted) reads as
``failed``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.errors import ConfigError

#: Default folder of the job folders.
DEFAULT_ROOT = Path("reports") / "jobs"
JOB_STATES = ("running", "done", "failed", "cancelled")


@dataclass(frozen=True)
class BacktestJob:
    """A backtest job as read from its folder.

    ``pct`` is 0-100 (bars done / bars in the data range); ``files`` maps report names
    (``metrics``, ``trades``, ``equity_csv``, ``equity_png``) to paths once done.
    """

    id: str
    bot_id: str
    config_file: str
    state: str
    done: int
    total: int
    pct: float
    started_at: str
    finished_at: str | None
    error: str | None
    folder: str
    files: dict[str, str] = field(default_factory=dict)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own exited child not yet reaped) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def progress_writer(job_dir: Path, total: int) -> Callable[[int], None]:
    """An ``update(n_done)`` callable for the backtest loop that rewrites
    ``progress.json`` when at least 1 % more of ``total`` bars is done (and at the end)."""
    step = max(1, total // 100)
    last = [-step]

    def update(n: int) -> None:
        if n - last[0] >= step or n >= total:
            last[0] = n
            _write_json(job_dir / "progress.json", {"done": int(n), "total": int(total)})

    update(0)
    return update


def finish(job_dir: Path, error: str | None) -> None:
    """Write the job's ``state.json`` (called by the backtest process at its end)."""
    _write_json(
        job_dir / "state.json",
        {
            "state": "failed" if error else "done",
            "error": error,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )


class BacktestJobs:
    """Start, list, follow, cancel backtest jobs and fetch their reports.

    Args:
        root: folder of the job folders (default ``reports/jobs``).
        python: the interpreter that runs ``-m mixbot`` (default this one).
    """

    def __init__(self, root: str | Path = DEFAULT_ROOT, python: str = sys.executable) -> None:
        self.root = Path(root)
        self.python = python
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, config: str | Path, date_from: str | None = None, date_to: str | None = None
    ) -> BacktestJob:
        """Validate ``config`` and start its backtest in the background.

        Raises:
            ConfigError: the config is invalid (the job is not started).
        """
        from mixbot.config.load import load_config

        cfg = load_config(config)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        job_id = f"{cfg.bot_id}-{stamp}-{secrets.token_hex(2)}"
        folder = self.root / job_id
        folder.mkdir(parents=True)
        cmd = [self.python, "-m", "mixbot", "backtest", str(config), "--no-progress"]
        cmd += ["--report", str(folder), "--job-dir", str(folder)]
        cmd += ["--from", date_from] if date_from else []
        cmd += ["--to", date_to] if date_to else []
        with open(folder / "console.log", "wb") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _write_json(
            folder / "job.json",
            {
                "id": job_id,
                "bot_id": cfg.bot_id,
                "config_file": str(config),
                "date_from": date_from,
                "date_to": date_to,
                "pid": proc.pid,
                "started_at": started,
            },
        )
        self._children[job_id] = proc
        return self.get(job_id)

    def _folder(self, job_id: str) -> Path:
        folder = self.root / job_id
        if "/" in job_id or job_id.startswith(".") or not (folder / "job.json").is_file():
            raise ConfigError(f"no backtest job {job_id!r} in {self.root} (see `jobs()`)")
        return folder

    def get(self, job_id: str) -> BacktestJob:
        """The job's state and progress.

        Raises:
            ConfigError: no such job.
        """
        folder = self._folder(job_id)
        child = self._children.get(job_id)
        if child is not None:
            child.poll()  # reap our own child so it is not a zombie
        job = _read_json(folder / "job.json") or {}
        prog = _read_json(folder / "progress.json") or {}
        end = _read_json(folder / "state.json")
        done, total = int(prog.get("done", 0)), int(prog.get("total", 0))
        if end is not None:
            state, error, finished = end["state"], end.get("error"), end.get("finished_at")
        elif (folder / "cancelled").exists():
            state, error, finished = "cancelled", "cancelled by the operator", None
        elif _alive(job.get("pid")):
            state, error, finished = "running", None, None
        else:
            state, error, finished = "failed", "the backtest process ended without a result", None
        files = {}
        if state == "done":
            names = {"metrics.json": "metrics", "trades.csv": "trades"}
            names |= {"equity.csv": "equity_csv", "equity.png": "equity_png"}
            files = {k: str(folder / n) for n, k in names.items() if (folder / n).exists()}
        return BacktestJob(
            id=job_id,
            bot_id=job.get("bot_id", "?"),
            config_file=job.get("config_file", "?"),
            state=state,
            done=done,
            total=total,
            pct=round(100.0 * done / total, 1) if total else 0.0,
            started_at=job.get("started_at", ""),
            finished_at=finished,
            error=error,
            folder=str(folder),
            files=files,
        )

    def wait(self, job_id: str, timeout: float | None = None) -> BacktestJob:
        """Wait until a job started by this process ends (at most ``timeout`` seconds), then
        its state; a job of another process is returned as it is now.

        Raises:
            ConfigError: no such job.
            subprocess.TimeoutExpired: still running after ``timeout``.
        """
        self._folder(job_id)
        child = self._children.get(job_id)
        if child is not None:
            child.wait(timeout=timeout)
        return self.get(job_id)

    def meta(self, job_id: str) -> dict[str, Any]:
        """What the job was started with (``job.json``: config_file, date_from, date_to...).

        Raises:
            ConfigError: no such job.
        """
        return _read_json(self._folder(job_id) / "job.json") or {}

    def jobs(self) -> list[BacktestJob]:
        """Every job under the root, newest first."""
        if not self.root.is_dir():
            return []
        found = [self.get(p.name) for p in self.root.iterdir() if (p / "job.json").is_file()]
        return sorted(found, key=lambda j: j.started_at, reverse=True)

    def report(self, job_id: str) -> dict[str, Any]:
        """The finished job's metrics (``metrics.json`` content) and report file paths.

        Raises:
            ConfigError: no such job, or it has not finished successfully (says its state).
        """
        job = self.get(job_id)
        if job.state != "done":
            why = f": {job.error}" if job.error else f" ({job.pct:.0f} % done)"
            raise ConfigError(f"backtest job {job_id} is {job.state}{why}; no report yet")
        metrics = _read_json(Path(job.files["metrics"])) if "metrics" in job.files else None
        return {"job": job, "metrics": metrics or {}, "files": job.files}

    def cancel(self, job_id: str) -> BacktestJob:
        """Stop a running job (SIGTERM to its process); a finished job is left as it is."""
        folder = self._folder(job_id)
        job = self.get(job_id)
        if job.state == "running":
            (folder / "cancelled").touch()
            pid = (_read_json(folder / "job.json") or {}).get("pid")
            if isinstance(pid, int) and pid > 0:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            child = self._children.get(job_id)
            if child is not None:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()  # it ignored SIGTERM for 30 s
                    child.wait()
        return self.get(job_id)

"""REST API, part two: bot configs (get / validate / put / create from an example) and
backtest jobs (create / progress / result / cancel). Routes on :data:`mixbot.web.api.bp`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from apiflask import abort

from mixbot.errors import ConfigError, MixbotError
from mixbot.web import schemas as s
from mixbot.web.api import audit, bot, bp, fleet, operator, svc, who

#: one create-a-bot and one start-a-backtest at a time (each checks, then acts)
_CREATE_LOCK = threading.Lock()
_BACKTEST_LOCK = threading.Lock()


def examples_folder() -> Path:
    """The example configs a new bot can start from: ``config/trading`` of the working
    folder, else the checkout's."""
    from mixbot.paths import REPO_ROOT

    here = Path("config/trading")
    return here if here.is_dir() else REPO_ROOT / "config" / "trading"


@bp.get("/bots/<bot_id>/config")
@bp.output(s.ConfigOut)
@bp.doc(summary="The bot's config file", responses=[401, 404])
def config_get(bot_id: str) -> Any:
    ref = bot(bot_id)
    return {"bot_id": ref.bot_id, "file": ref.file, "text": svc().read_config(ref.file)}


def _problems(text: str, file: str) -> tuple[bool, list[dict[str, Any]]]:
    res = svc().validate_config(text, file)
    return res.ok, res.details


@bp.post("/bots/<bot_id>/config/validate")
@bp.input(s.TextIn, arg_name="body")
@bp.output(s.ValidateOut)
@bp.doc(
    summary="Validate a config text as `mixbot validate` does (nothing saved)",
    responses=[401, 403, 404],
)
@operator
def config_validate(bot_id: str, body: dict[str, Any]) -> Any:
    ok, problems = _problems(body["text"], bot(bot_id).file)
    return {"ok": ok, "problems": problems}


@bp.put("/bots/<bot_id>/config")
@bp.input(s.TextIn, arg_name="body")
@bp.output(s.SaveOut)
@bp.doc(
    summary="Validate and save (atomic write, backup kept); 422 with the problems when invalid",
    responses=[401, 403, 404, 422],
)
@operator
def config_put(bot_id: str, body: dict[str, Any]) -> Any:
    ref = bot(bot_id)
    ok, problems = _problems(body["text"], ref.file)
    if not ok:
        abort(422, "the config is invalid: nothing saved", detail={"problems": problems})
    try:
        new_id = json.loads(body["text"]).get("bot_id", Path(ref.file).stem)
    except ValueError:
        new_id = ref.bot_id
    if str(new_id) != ref.bot_id:
        abort(422, "bot_id cannot change in the editor: create a new bot instead")
    try:
        backup = svc().save_config(ref.file, body["text"], who=f"web:{who()}")
    except ConfigError as exc:
        abort(422, str(exc))
    return {
        "ok": True,
        "file": ref.file,
        "backup": str(backup) if backup else None,
        "running": bool(fleet().row(ref, fresh=True).get("running")),
        "problems": problems,
    }


@bp.get("/examples")
@bp.output(s.ExampleOut(many=True))
@bp.doc(summary="Example configs a new bot can start from", responses=[401])
def examples() -> Any:
    out = []
    for p in sorted(examples_folder().glob("*.json")):
        try:
            desc = json.loads(p.read_text(encoding="utf-8")).get("description", "")
        except (OSError, ValueError):
            continue
        out.append({"name": p.name, "description": str(desc)})
    return out


@bp.post("/bots")
@bp.input(s.NewConfigIn, arg_name="body")
@bp.output(s.ConfigOut, status_code=201)
@bp.doc(
    summary="Create a new bot's config from an example (saved, not started)",
    responses=[401, 403, 404, 409, 422],
)
@operator
def create_bot(body: dict[str, Any]) -> Any:
    with _CREATE_LOCK:
        return _create_bot(body)


def _create_bot(body: dict[str, Any]) -> Any:
    src = examples_folder() / Path(body["example"]).name
    if src.suffix != ".json" or not src.is_file():
        abort(404, f"no example {body['example']!r} (GET /api/v1/examples lists them)")
    if fleet().get(body["bot_id"]) is not None:
        abort(409, f"a bot {body['bot_id']!r} exists already")
    target = fleet().folder() / f"{body['bot_id']}.json"
    if target.exists():
        abort(409, f"{target} exists already")
    doc = json.loads(src.read_text(encoding="utf-8"))
    doc["bot_id"] = body["bot_id"]
    if isinstance(doc.get("logging"), dict):
        doc["logging"].pop("log_file", None)  # its own log: logs/<bot_id>/bot.log
    text = json.dumps(doc, indent=2) + "\n"
    try:
        svc().save_config(target, text, who=f"web:{who()}")
    except ConfigError as exc:
        abort(422, str(exc))
    ref = fleet().get(body["bot_id"])
    return {"bot_id": body["bot_id"], "file": str(ref.file if ref else target), "text": text}


# ---------------------------------------------------------------------- backtests
def _job(job: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(job)


@bp.get("/backtests")
@bp.output(s.Job(many=True))
@bp.doc(summary="Backtest jobs, newest first", responses=[401])
def backtests() -> Any:
    return [_job(j) for j in svc().backtest_jobs()[:50]]


@bp.post("/backtests")
@bp.input(s.BacktestIn, arg_name="body")
@bp.output(s.Job, status_code=202)
@bp.doc(
    summary="Start a backtest of a bot's config over a date range (one job at a time)",
    responses=[401, 403, 404, 409, 422],
)
@operator
def backtest_create(body: dict[str, Any]) -> Any:
    with _BACKTEST_LOCK:
        return _backtest_create(body)


def _backtest_create(body: dict[str, Any]) -> Any:
    ref = bot(body["bot_id"])
    running = [j for j in svc().backtest_jobs() if j.state == "running"]
    if running:
        abort(409, f"backtest {running[0].id} is running: wait for it or cancel it")
    d_from, d_to = body.get("date_from"), body.get("date_to")
    if d_from and d_to and d_from > d_to:
        abort(422, f"from {d_from} is after to {d_to}")
    try:
        job = svc().start_backtest(ref.file, d_from, d_to)
    except MixbotError as exc:
        abort(422, str(exc))
    audit(ref, "backtest_started", f"backtest {job.id} started by {who()}", job=job.id)
    return _job(job)


def _find_job(job_id: str) -> Any:
    try:
        return svc().backtest_job(job_id)
    except ConfigError:
        abort(404, f"no backtest job {job_id!r}")


@bp.get("/backtests/<job_id>")
@bp.output(s.Job)
@bp.doc(summary="A backtest job's state and progress", responses=[401, 404])
def backtest_get(job_id: str) -> Any:
    return _job(_find_job(job_id))


@bp.get("/backtests/<job_id>/result")
@bp.output(s.BacktestResult)
@bp.doc(
    summary="A finished job's metrics, equity and drawdown, trades, and buy-and-hold",
    responses=[401, 404, 409],
)
def backtest_result(job_id: str) -> Any:
    from mixbot.web.reports import backtest_result as result

    job = _find_job(job_id)
    if job.state != "done":
        abort(409, f"backtest {job_id} is {job.state}" + (f": {job.error}" if job.error else ""))
    return result(svc(), job)


@bp.post("/backtests/<job_id>/cancel")
@bp.output(s.Job)
@bp.doc(summary="Stop a running backtest", responses=[401, 403, 404])
@operator
def backtest_cancel(job_id: str) -> Any:
    _find_job(job_id)
    return _job(svc().cancel_backtest(job_id))

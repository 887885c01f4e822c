"""``mixbot serve``: the CLI adapter of the supervisor (:mod:`mixbot.service.supervisor`)."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from typing import Any

DESCRIPTION = """\
Run many bots on this host, each in its own OS process, and keep them running.

  supervisor (this process)
    |- bot 0001: python -m mixbot run config/trading/0001.json   logs/0001/
    |- bot 0003: ...                                              logs/0003/
    `- ...
  store (data/mixbot_paper.sqlite, or database.url): orders, fills, trades, checkpoints,
        events (outbox), control commands, heartbeats

A bot that crashes or is killed is restarted with exponential backoff and resumes from its
checkpoint; too many failures in a window halt it (circuit breaker, an `error` event says
why). A bot without a heartbeat for `hang_after_s` is killed and restarted. A bot whose
feed ends (a replay) or that is stopped by `mixbot stop` stays down. One bot never runs
twice: a per-bot OS lock makes a second `mixbot run` or `mixbot serve` of it wait or
refuse, also after this supervisor was killed with `kill -9` (its bots get SIGTERM from
the kernel and stop after their current bar).

Ctrl+C or SIGTERM: every bot stops after its current bar; all are down within
`stop_timeout_s` (10 s by default). Command running bots from another terminal with
`mixbot status --all`, `mixbot stop/pause/resume/force-exit CONFIG`.
"""

EPILOG = """\
examples:
  mixbot serve                                   every config in config/trading/
  mixbot serve config/trading/0001.json config/trading/0003.json
  mixbot serve --settings config/mixbot.json config/trading/ config/trading/live/
  mixbot serve --fresh config/trading/           new sessions (erases the bots' stored rows)
  mixbot serve --idle --port 5000                the web GUI at http://127.0.0.1:5000, bots
                                                 started from there

settings (--settings FILE, default config/mixbot.json when present; `mixbot validate` checks it):
  {"supervisor": {"restart_backoff_s": 1, "restart_backoff_max_s": 60, "max_failures": 5,
                  "failure_window_minutes": 10, "hang_after_s": 60, "stop_timeout_s": 10},
   "telegram": {"enabled": true, "bot_token": "${TELEGRAM_BOT_TOKEN}",
                "users": [{"id": 111, "role": "operator"}]},
   "email": {"enabled": true, "smtp_host": "smtp.example.com", "smtp_port": 587,
             "security": "starttls", "smtp_user": "${SMTP_USER}",
             "smtp_password": "${SMTP_PASSWORD}", "from": "bots@example.com",
             "to": ["me@example.com"]}}
  Alerts: each bot's notifications section says which events it sends (notify_on); they
  are queued in its store and delivered from this process (MIXBOT_TELEGRAM_API: another
  Bot API server). See README "Notifications".
  {"web": {"host": "127.0.0.1", "port": 5000, "secret_key": "${MIXBOT_WEB_SECRET}",
           "users": [{"name": "admin", "password_hash": "${MIXBOT_WEB_ADMIN_HASH}",
                      "role": "operator"}]}}
  The web GUI and REST API run while the file has a web section (or --host/--port is
  given) and keep serve running when the bots finish; see README "Web GUI and REST API"
  (`mixbot web passwd` prints a password hash).
"""


def _check_distinct(refs: list[Any]) -> None:
    """Refuse two configs with one bot id, or one log file (no file has two writers).

    Raises:
        ConfigError: naming both files.
    """
    from pathlib import Path

    from mixbot.errors import ConfigError

    ids: dict[tuple[str, str], str] = {}
    logs: dict[Path, str] = {}
    for r in refs:
        key = (r.bot_id, r.mode)
        if key in ids:
            raise ConfigError(
                f"{r.file}: bot_id {r.bot_id!r} is also the id of {ids[key]}: each bot needs "
                "its own bot_id"
            )
        ids[key] = r.file
        log = Path(r.cfg.logging.log_file).resolve()
        if log in logs:
            raise ConfigError(
                f"{r.file}: logging.log_file {r.cfg.logging.log_file} is also the log of "
                f"{logs[log]}: give each bot its own (or leave it out: logs/<bot_id>/bot.log)"
            )
        logs[log] = r.file


def start_web(args: argparse.Namespace, settings: Any, svc: Any, sup: Any) -> Any:
    """The web GUI's server (None when off: no ``web`` section, ``web.enabled`` false or
    ``--no-web``; ``--host`` / ``--port`` turn it on).

    Raises:
        ConfigError: a public address without a secret key or user; the port is taken.
    """
    from dataclasses import replace

    web = settings.web
    wanted = (web.present and web.enabled) or args.host is not None or args.port is not None
    if args.no_web or not wanted:
        return None
    web = replace(web, host=args.host or web.host, port=args.port or web.port)
    from mixbot.web.app import create_app
    from mixbot.web.fleet import Fleet
    from mixbot.web.server import WebServer, check_bind

    check_bind(web.host, web)
    stale = max(30.0, settings.supervisor.hang_after_s / 2)
    fleet = Fleet(svc, list(args.configs), sup, stale_after_s=stale)
    app = create_app(fleet, web)
    server = WebServer(app, web.host, web.port).start()
    users = app.extensions["mixbot.users"]
    note = "" if len(users) else " (no user can log in yet: see `mixbot web passwd`)"
    if app.config.get("MIXBOT_EPHEMERAL_KEY"):
        note += " (web.secret_key unset: logins end when this process stops)"
    print(f"mixbot serve: web GUI at {server.url}{note}", file=sys.stderr, flush=True)
    return server


def cmd_serve(args: argparse.Namespace) -> int:
    from mixbot.config.settings import load_settings
    from mixbot.service.bots import BotService
    from mixbot.service.supervisor import Supervisor

    settings = load_settings(args.settings)
    svc = BotService()
    refs = svc.bots(args.configs)
    _check_distinct(refs)

    def say(child: Any, text: str) -> None:
        now = dt.datetime.now().astimezone().strftime("%H:%M:%S")
        print(f"{now} {child.ref.bot_id}: {text}", flush=True)

    print(
        f"mixbot serve: {len(refs)} bot(s) from {', '.join(args.configs) or 'config/trading/'}"
        f"{' with settings ' + settings.file if settings.file else ''}; Ctrl+C stops them all",
        file=sys.stderr,
    )
    sup = Supervisor(
        refs, settings.supervisor, svc, fresh=args.fresh, on_change=say, idle=args.idle
    )
    # a SIGTERM / Ctrl+C from now on stops cleanly (run() installs its own handlers later)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sup.request_stop())
    web = start_web(args, settings, svc, sup)
    from mixbot.notify.host import start_commands, start_notifications

    notifier = start_notifications(refs, settings, svc)
    poller = start_commands(refs, settings, svc)
    try:
        code = sup.run(until_done=not (args.forever or args.idle or web is not None))
    finally:
        for worker in (poller, notifier, web):
            if worker is not None:
                worker.stop()
        svc.close()
    for c in sup.children:
        extra = f": {c.reason}" if c.reason else ""
        print(f"  {c.ref.bot_id:<12} {c.state:<10} restarts {c.restarts}{extra}")
    return code


def add_parsers(sub: Any) -> None:
    """Register ``mixbot serve``."""
    p = sub.add_parser(
        "serve",
        help="run many bots, one process each, restarted when they die",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "configs",
        nargs="*",
        metavar="CONFIG_OR_FOLDER",
        help="bot configs or folders of them (default: config/trading/)",
    )
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="host settings file (default: config/mixbot.json when it exists)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start every bot with a new session (erases its stored rows first)",
    )
    p.add_argument(
        "--forever",
        action="store_true",
        help="keep supervising when every bot has finished (wait for `mixbot start` commands)",
    )
    p.add_argument(
        "--idle",
        action="store_true",
        help="start no bot until asked (web GUI, `mixbot start`, Telegram); implies --forever",
    )
    p.add_argument("--host", help="web GUI address (default web.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="web GUI port (default web.port, 5000)")
    p.add_argument("--no-web", action="store_true", help="do not serve the web GUI")
    p.set_defaults(func=cmd_serve)

"""``mixbot audit export`` and ``mixbot audit verify``: the bot's hash-chained audit log
(:mod:`mixbot.store.audit`) as a daily CSV/JSON file, and its integrity check.

Both read the store only (the bot may be running, stopped or killed).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

from mixbot.errors import ConfigError

#: Where exports go without ``--out``.
DEFAULT_DIR = Path("reports") / "audit"


def _service() -> Any:
    from mixbot.service.bots import BotService

    return BotService()


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--date {text!r}: not a date; give YYYY-MM-DD, e.g. 2026-12-03"
        ) from None


def render(records: list[dict[str, Any]], fmt: str, head: dict[str, Any]) -> str:
    """The export file's text: CSV (one row per audit row, ``data`` as JSON, ``bot_id`` and
    ``mode`` columns first) or JSON (``head`` fields, then ``rows``)."""
    if fmt == "json":
        return json.dumps({**head, "rows": records}, indent=2, ensure_ascii=False) + "\n"
    from mixbot.store.audit import EXPORT_COLUMNS

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["bot_id", "mode", *EXPORT_COLUMNS])
    for r in records:
        row = {**r, "data": json.dumps(r["data"], sort_keys=True, ensure_ascii=False)}
        w.writerow([head["bot_id"], head["mode"], *(row[c] for c in EXPORT_COLUMNS)])
    return buf.getvalue()


#: Where ``mixbot run --fresh`` of a live bot keeps the audit log it is about to erase.
ARCHIVE_DIR = Path("logs") / "audit"


def archive_before_fresh(store: Any, folder: Path = ARCHIVE_DIR) -> Path | None:
    """Write the bot's whole audit log (every row with its hashes, and the chain's verdict)
    to ``folder/<bot>-<mode>-<UTC time>-before-fresh.json`` before ``--fresh`` erases the
    session; None when there is nothing to keep. The file is written before anything is
    deleted, so an erased live session's audit trail always survives."""
    from mixbot.store import audit

    if store.find_bot() is None:
        return None
    rows = store.events()
    if not rows:
        return None
    verdict = audit.verify(rows, store.bot_row())
    records = [audit.export_record({**r, "at": None}) for r in rows]
    head = {
        "bot_id": store.bot_id,
        "mode": store.mode,
        "archived_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "why": "mixbot run --fresh erased this session",
        "chain_intact": verdict.ok,
        "chain_rows": verdict.rows,
        "chain_head": verdict.head,
    }
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = folder / f"{store.bot_id}-{store.mode}-{stamp}-before-fresh.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(records, "json", head), encoding="utf-8")
    return out


def cmd_export(args: argparse.Namespace) -> int:
    day = _day(args.date)
    svc = _service()
    try:
        ref, records, verdict = svc.audit_export(args.config, day, args.mode)
    finally:
        svc.close()
    head = {
        "bot_id": ref.bot_id,
        "mode": ref.mode,
        "date": day.isoformat(),
        "timezone": ref.cfg.market.timezone,
        "chain_intact": verdict.ok,
        "chain_rows": verdict.rows,
        "chain_head": verdict.head,
    }
    text = render(records, args.format, head)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.out or DEFAULT_DIR / f"{ref.bot_id}-{ref.mode}-{day}.{args.format}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {len(records)} audit rows of {day} ({head['timezone']}) to {out}")
    if not verdict.ok:
        print(f"WARNING: the audit chain is broken: {verdict.reason}", file=sys.stderr)
        return 1
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    svc = _service()
    try:
        ref = svc.ref(args.config)
        v = svc.audit_verify(args.config, args.mode)
    finally:
        svc.close()
    if v.ok:
        print(f"{ref.bot_id}: audit log intact: {v.rows} rows, head {v.head}")
        return 0
    print(f"{ref.bot_id}: audit log BROKEN after {v.rows} good rows: {v.reason}", file=sys.stderr)
    return 1


def add_parsers(sub: Any) -> None:
    """Register ``mixbot audit export|verify`` on the ``mixbot`` parser."""
    p = sub.add_parser(
        "audit",
        help="export or verify a bot's hash-chained audit log",
        description="Every order decision of a bot (signal, refused entry, intent, placement, "
        "status change, cancel, fill, halt, panic, operator command with its user) is a row "
        "of an append-only audit log whose rows are chained by SHA-256 hashes. `export` "
        "writes one exchange day as CSV or JSON; `verify` recomputes the chain.",
    )
    audit_sub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    e = audit_sub.add_parser(
        "export",
        help="write one day's audit rows to a CSV or JSON file",
        description="Write the audit rows created on DATE (the exchange's time zone) with "
        "their hashes. Exit 1 (after writing) when the chain is broken.",
        epilog="example: mixbot audit export config/trading/0001.json --date 2026-12-03 "
        "--format json",
    )
    e.add_argument("config", metavar="CONFIG", help="the bot's config file")
    e.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="exchange date")
    e.add_argument("--format", choices=["csv", "json"], default="csv", help="default csv")
    e.add_argument(
        "--out",
        metavar="FILE",
        help=f"output file, - for standard output (default {DEFAULT_DIR}/BOT-MODE-DATE.FORMAT)",
    )
    e.add_argument("--mode", choices=["paper", "live"], help="which store (default: broker.type)")
    e.set_defaults(func=cmd_export)
    v = audit_sub.add_parser(
        "verify",
        help="check the audit log's hash chain (exit 0 intact, 1 broken)",
        description="Recompute every row's hash and the chain. Exit 0 when intact; 1 naming "
        "the first bad row: an edited row, a deleted or inserted one, or deleted newest rows.",
        epilog="example: mixbot audit verify config/trading/0001.json",
    )
    v.add_argument("config", metavar="CONFIG", help="the bot's config file")
    v.add_argument("--mode", choices=["paper", "live"], help="which store (default: broker.type)")
    v.set_defaults(func=cmd_verify)

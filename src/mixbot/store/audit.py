"""The audit log: the append-only, hash-chained trail of a bot's order decisions.

Every row of the ``events`` table (signal, refused entry with its reason, order intent,
placement and every later status change, modification, cancel, fill, halt, panic,
reconciliation, operator command with its user) is linked to the row before it:

* ``chain_seq`` numbers the bot's rows 1, 2, 3, ... (per bot and mode);
* ``prev_hash`` is the ``row_hash`` of the row before (64 zeros for the first);
* ``row_hash`` is SHA-256 over the row's canonical JSON (:func:`row_digest`): bot id, mode,
  chain position, kind, message, data, bar time, creation time and ``prev_hash``;
* the bot's row in ``bots`` keeps the head (``audit_seq``, ``audit_head``), updated in the
  same transaction, so deleting the newest rows is detected too.

An UPDATE of an audit row is refused by a database trigger (migration 0005). Rows are only
removed with the whole session (``mixbot run --fresh``). :func:`verify` recomputes the
chain and names the first row that does not match: an edited row (its hash), a deleted or
inserted row (the next row's ``prev_hash`` or position), deleted newest rows (the head).
Someone who rewrites every hash from the edited row on, and the head, is not detected by
the database alone: keep the daily exports (``mixbot audit export``, which carry the
hashes) somewhere else, and compare.

Hash chains as tamper evidence: Haber and Stornetta, "How to time-stamp a digital
document", J. Cryptology 3 (1991); the same construction as Git's and a blockchain's
parent hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, update

from mixbot.store import models as m

#: ``prev_hash`` of a bot's first audit row.
GENESIS = "0" * 64

_B = m.bots.c
_E = m.events.c
#: one statement moves the head on and reads it (RETURNING: SQLite >= 3.35, PostgreSQL)
_HEAD_BUMP = (
    update(m.bots)
    .where(_B.id == bindparam("b_pk"))
    .values(audit_seq=func.coalesce(_B.audit_seq, 0) + 1)
    .returning(_B.audit_seq, _B.audit_head, _B.bot_id, _B.mode)
)
_HEAD_SET = update(m.bots).where(_B.id == bindparam("b_pk")).values(audit_head=bindparam("p_head"))
_INSERT = insert(m.events).values(
    bot_pk=bindparam("b_pk"),
    kind=bindparam("p_kind"),
    message=bindparam("p_message"),
    data=bindparam("p_data"),
    bar_time=bindparam("p_bar_time"),
    created_at=bindparam("p_now"),
    chain_seq=bindparam("p_seq"),
    prev_hash=bindparam("p_prev"),
    row_hash=bindparam("p_hash"),
)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.replace(tzinfo=None).isoformat(timespec="microseconds")


def normalise(data: Any) -> Any:
    """``data`` as it reads back from a JSON column (tuples as lists, keys as strings)."""
    return None if data is None else json.loads(json.dumps(data, default=str))


def row_digest(
    bot_id: str,
    mode: str,
    chain_seq: int,
    kind: str,
    message: str,
    data: Any,
    bar_time: dt.datetime | None,
    created_at: dt.datetime,
    prev_hash: str,
) -> str:
    """SHA-256 (hex, 64 characters) of one audit row's canonical JSON: a list of the
    arguments in this order, times as naive-UTC ISO 8601 with microseconds, keys sorted, no
    spaces, UTF-8."""
    body = [
        bot_id,
        mode,
        int(chain_seq),
        kind,
        message,
        normalise(data),
        _iso(bar_time),
        _iso(created_at),
        prev_hash,
    ]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    c: Connection,
    bot_pk: int,
    kind: str,
    message: str,
    data: dict[str, Any] | None,
    bar_time: dt.datetime | None,
    now: dt.datetime,
) -> str:
    """Append one audit row for bot ``bot_pk`` on connection ``c`` (inside the caller's
    transaction) and move the bot's head; returns the row's hash.

    The head is bumped first: on PostgreSQL that locks the bot's row until the commit, on
    SQLite it takes the write lock, so two writers of one bot (the bot and ``mixbot panic``)
    chain one after the other and never fork the chain."""
    seq, prev, bot_id, mode = c.execute(_HEAD_BUMP, {"b_pk": bot_pk}).one()
    prev = prev or GENESIS
    data = normalise(data)
    h = row_digest(bot_id, mode, seq, kind, message, data, bar_time, now, prev)
    params = {
        "b_pk": bot_pk,
        "p_kind": kind,
        "p_message": message,
        "p_data": data,
        "p_bar_time": bar_time,
        "p_now": now,
        "p_seq": seq,
        "p_prev": prev,
        "p_hash": h,
    }
    c.execute(_INSERT, params)
    c.execute(_HEAD_SET, {"b_pk": bot_pk, "p_head": h})
    return h


@dataclass(frozen=True)
class Verdict:
    """The result of :func:`verify`: ``ok``; ``rows`` checked; ``head`` (the last good hash);
    on failure ``bad_id`` / ``bad_seq`` (the first bad row's id and chain position, None when
    only newest rows are missing) and ``reason``."""

    ok: bool
    rows: int
    head: str
    bad_id: int | None = None
    bad_seq: int | None = None
    reason: str = ""


def verify(rows: list[dict[str, Any]], bot: dict[str, Any]) -> Verdict:
    """Check a bot's audit rows (dicts of the ``events`` table, in ``id`` order) against
    each other and against the bot's head (its ``bots`` row as a dict)."""
    prev, expect = GENESIS, 1
    for r in rows:
        where = f"row id {r['id']} (#{r.get('chain_seq')}, {r['kind']}, {_iso(r['created_at'])})"
        if r.get("row_hash") is None:
            return Verdict(False, expect - 1, prev, r["id"], None, f"{where} has no hash")
        if r["chain_seq"] != expect:
            why = (
                f"{where}: expected chain position #{expect}, found #{r['chain_seq']} "
                "(a row before it was deleted, or rows were inserted)"
            )
            return Verdict(False, expect - 1, prev, r["id"], r["chain_seq"], why)
        if r["prev_hash"] != prev:
            why = f"{where}: prev_hash does not match the row before (a row was removed or added)"
            return Verdict(False, expect - 1, prev, r["id"], expect, why)
        h = row_digest(
            bot["bot_id"],
            bot["mode"],
            r["chain_seq"],
            r["kind"],
            r["message"],
            r["data"],
            r["bar_time"],
            r["created_at"],
            r["prev_hash"],
        )
        if h != r["row_hash"]:
            why = f"{where}: its contents do not match its hash (the row was edited)"
            return Verdict(False, expect - 1, prev, r["id"], expect, why)
        prev, expect = h, expect + 1
    count = expect - 1
    head_seq, head = int(bot.get("audit_seq") or 0), bot.get("audit_head") or GENESIS
    if head_seq != count or head != prev:
        why = (
            f"the chain ends at #{count} but the bot's head says #{head_seq} "
            f"({head[:12]}...): the newest {max(head_seq - count, 0) or 'row(s)'} were deleted"
            if head_seq > count
            else f"the chain ends at #{count} ({prev[:12]}...) but the bot's head says "
            f"#{head_seq} ({head[:12]}...): the head or the rows were changed"
        )
        return Verdict(False, count, prev, None, None, why)
    return Verdict(True, count, prev)


def day_rows(rows: list[dict[str, Any]], day: dt.date, tz: str) -> list[dict[str, Any]]:
    """The rows of exchange date ``day`` in time zone ``tz`` (the exchange's), each with
    ``at`` (its creation time, ISO 8601 in ``tz``).

    A row's day is that of its bar when it has one (the session's day: in a replay of 2019
    data, a 2019 day), else that of its creation."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    out = []
    for r in rows:
        when = r["bar_time"] or r["created_at"]
        if when.replace(tzinfo=dt.UTC).astimezone(zone).date() == day:
            local = r["created_at"].replace(tzinfo=dt.UTC).astimezone(zone)
            out.append({**r, "at": local.isoformat(timespec="microseconds")})
    return out


#: Columns of an export, in order (CSV header; JSON object keys).
EXPORT_COLUMNS = (
    "chain_seq",
    "at",
    "created_at",
    "kind",
    "message",
    "data",
    "bar_time",
    "prev_hash",
    "row_hash",
)


def export_record(r: dict[str, Any]) -> dict[str, Any]:
    """One exported row: :data:`EXPORT_COLUMNS`, times as ISO strings (``created_at`` and
    ``bar_time`` naive UTC, as hashed; ``at`` exchange time), ``data`` as an object."""
    return {
        "chain_seq": r["chain_seq"],
        "at": r["at"],
        "created_at": _iso(r["created_at"]),
        "kind": r["kind"],
        "message": r["message"],
        "data": normalise(r["data"]),
        "bar_time": _iso(r["bar_time"]),
        "prev_hash": r["prev_hash"],
        "row_hash": r["row_hash"],
    }

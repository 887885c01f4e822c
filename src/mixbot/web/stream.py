"""Live updates: the event bus as server-sent events at ``GET /api/v1/stream``.

The stream reads the outbox of every database the app's bots use (each with its own
cursor) and sends each new event as ``event: <type>`` with the bus event as JSON data. It
polls every ``POLL_S`` seconds and ends after ``timeout`` seconds (default 25); the browser's
``EventSource`` reconnects by itself with ``Last-Event-ID``, so no event is missed and no
server thread is held for ever. The id holds one cursor per database,
``<key>#<seq>,...`` (``key``: a hash of the database URL, see :func:`db_key`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context

from mixbot.web.api import bp, fleet

POLL_S = 0.5
SSE_RESPONSES: Any = {
    200: {"description": "text/event-stream", "content": {"text/event-stream": {}}},
    401: {"description": "Unauthorized"},
}


def db_key(url: str) -> str:
    """A stable short name of a database URL for event ids (no credentials in it)."""
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()[:8]


def _cursors(header: str | None, urls: list[str]) -> dict[str, int] | None:
    """Cursors per database URL from a ``Last-Event-ID`` (``key#seq,key#seq``; see
    :func:`db_key`); None when there is no usable one (start at the newest events)."""
    if not header:
        return None
    by_key = {db_key(u): u for u in urls}
    out: dict[str, int] = {}
    for part in header.split(","):
        key, _, seq = part.strip().partition("#")
        if key in by_key and seq.isdigit():
            out[by_key[key]] = int(seq)
    return out or None


def _event_id(pos: dict[str, int]) -> str:
    return ",".join(f"{db_key(u)}#{seq}" for u, seq in pos.items())


def events(
    service: Any, bot_ids: set[str], urls: list[str], cursors: dict[str, int] | None, timeout: float
) -> Iterator[str]:
    """SSE frames of the bus events of ``bot_ids`` until ``timeout`` seconds passed.

    The first frame carries the starting cursors as its id, so a reconnect resumes exactly
    where this stream was even when no event came; a database without a cursor (none given,
    or new since) starts at its newest event."""
    from mixbot.store.outbox import EventLog

    logs = {u: EventLog(u, engine=service.engine(u, create=True)) for u in urls}
    pos = {u: (cursors or {}).get(u, -1) for u in urls}
    pos = {u: (logs[u].last_seq() if seq < 0 else seq) for u, seq in pos.items()}
    yield f"retry: 2000\nid: {_event_id(pos)}\n\n"
    end = time.monotonic() + timeout
    while True:
        sent = False
        for u, log in logs.items():
            for e in log.read(pos[u], 200, bot_ids=sorted(bot_ids)):
                pos[u] = max(pos[u], int(e["seq"]))
                e["created_at"] = e["created_at"].isoformat() if e.get("created_at") else None
                data = json.dumps(e, default=str)
                yield f"id: {_event_id(pos)}\nevent: {e['type']}\ndata: {data}\n\n"
                sent = True
        if time.monotonic() >= end:
            return
        if not sent:
            yield ": keep-alive\n\n"
            time.sleep(POLL_S)


@bp.get("/stream")
@bp.doc(
    summary="Server-sent events: every new bus event of the bots (ends after `timeout` s)",
    responses=SSE_RESPONSES,
)
def stream() -> Any:
    f = fleet()
    refs = f.refs()
    urls = sorted({r.url for r in refs})
    bot_id = request.args.get("bot_id")
    ids = {r.bot_id for r in refs if bot_id in (None, r.bot_id)}
    try:
        timeout = min(60.0, max(0.0, float(request.args.get("timeout", 25))))
    except ValueError:
        timeout = 25.0
    cursors = _cursors(request.headers.get("Last-Event-ID"), urls)
    gen = events(f.service, ids, urls, cursors, timeout)
    resp = Response(stream_with_context(gen), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp

"""Consumers of the event bus: each reads the outbox after its own cursor.

Delivery is exactly-once per consumer across crashes when the consumer's effect is
idempotent by ``seq`` or committed with its cursor. :class:`JsonlJournal`, the first
consumer, appends each event of one bot as a JSON line (with its ``seq``) to
``logs/<bot_id>/events.jsonl``: it fsyncs the lines, then advances its cursor; after a
``kill -9`` between the two it skips the lines the file already holds (it reads the last
``seq`` back), so no event is lost or written twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mixbot.store.outbox import EventLog


class JsonlJournal:
    """Appends one bot's bus events to a JSON-lines file.

    Args:
        log: the database's :class:`~mixbot.store.outbox.EventLog`.
        bot_id: the bot whose events it writes.
        path: the file (default ``logs/<bot_id>/events.jsonl``).
    """

    def __init__(self, log: EventLog, bot_id: str, path: Path | None = None) -> None:
        self.log = log
        self.bot_id = bot_id
        self.path = path or Path("logs") / bot_id / "events.jsonl"
        self.name = f"journal:{bot_id}:{self.path.resolve()}"
        self._cursor: int | None = None  # this process is the cursor's only writer

    def _last_written(self) -> int:
        """The ``seq`` of the file's last complete line (0 when empty or missing)."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 65536))
                lines = fh.read().splitlines()
        except OSError:
            return 0
        for raw in reversed(lines):
            try:
                return int(json.loads(raw)["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line (killed mid-write) is skipped
        return 0

    def pump(self, limit: int = 500) -> int:
        """Write the events after the cursor; returns how many lines were added."""
        if self._cursor is None:
            self._cursor = self.log.cursor(self.name)
        cursor = self._cursor
        done = self._last_written()
        rows = self.log.read(cursor, limit, bot_ids=[self.bot_id])
        if not rows:
            return 0
        fresh = [r for r in rows if r["seq"] > done]
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._drop_torn_tail()
            with self.path.open("a", encoding="utf-8") as fh:
                for r in fresh:
                    fh.write(json.dumps(_line(r), default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        self.log.advance(self.name, rows[-1]["seq"])
        self._cursor = rows[-1]["seq"]
        return len(fresh)

    def _drop_torn_tail(self) -> None:
        """Cut a last line left unfinished by a kill mid-write."""
        try:
            with self.path.open("rb+") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                if size == 0:
                    return
                fh.seek(size - 1)
                if fh.read(1) == b"\n":
                    return
                fh.seek(max(0, size - 65536))
                tail = fh.read()
                cut = tail.rfind(b"\n")
                fh.truncate(
                    max(0, size - len(tail) + cut + 1) if cut >= 0 else max(0, size - len(tail))
                )
        except OSError:
            return


def _line(row: dict[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], "type": row["type"], **row["payload"]}

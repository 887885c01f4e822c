"""Per-bot logs under ``logs/<bot_id>/``: the main log, ``json/trades.json``, ``json/orders.json``,
``errors.log`` (no file is written by two bot processes).

Timestamps in every file are IST (the market time zone) ISO-8601 with offset; JSON files
hold one record per line (JSON lines). Secrets never reach these files: the config is
logged only through its masked form.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


class _TzFormatter(logging.Formatter):
    def __init__(self, fmt: str, tz: ZoneInfo) -> None:
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return dt.datetime.fromtimestamp(record.created, self.tz).isoformat(timespec="milliseconds")


class Journal:
    """Writes a bot's logs. ``root`` is the logs folder (default ``logs``).

    Args:
        bot_id: the bot's id (logger name ``mixbot.bot.<id>``).
        log_file: the main log file.
        level: main log level name (DEBUG/INFO/WARNING/ERROR).
        save_json: write trades.json / orders.json.
        tz: market time zone for timestamps.
        console: also echo WARNING+ (or ``console_level``) to stderr.
    """

    def __init__(
        self,
        bot_id: str,
        log_file: Path,
        level: str = "INFO",
        save_json: bool = True,
        tz: str = "Asia/Kolkata",
        root: Path = Path("logs"),
        console_level: str | None = None,
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.bot_id = bot_id
        self.save_json = save_json
        self.log = logging.getLogger(f"mixbot.bot.{bot_id}")
        self.log.setLevel(logging.DEBUG)
        self.log.propagate = False
        for h in list(self.log.handlers):
            self.log.removeHandler(h)
            h.close()
        fmt = _TzFormatter("%(asctime)s %(levelname)s [%(name)s] %(message)s", self.tz)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        main = logging.FileHandler(log_file, encoding="utf-8")
        main.setLevel(getattr(logging, level))
        main.setFormatter(fmt)
        self.log.addHandler(main)
        root.mkdir(parents=True, exist_ok=True)
        err = logging.FileHandler(root / "errors.log", encoding="utf-8")
        err.setLevel(logging.ERROR)
        err.setFormatter(fmt)
        self.log.addHandler(err)
        if console_level:
            con = logging.StreamHandler()
            con.setLevel(getattr(logging, console_level))
            con.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
            self.log.addHandler(con)
        self._files: dict[str, Any] = {}
        if save_json:
            (root / "json").mkdir(parents=True, exist_ok=True)
            for name in ("trades", "orders"):
                self._files[name] = (root / "json" / f"{name}.json").open("a", encoding="utf-8")

    def ist(self, when_utc: dt.datetime | None) -> str | None:
        """ISO text in the market time zone of a naive-UTC datetime (None passes through)."""
        if when_utc is None:
            return None
        return when_utc.replace(tzinfo=dt.UTC).astimezone(self.tz).isoformat()

    def record(self, kind: str, **fields: Any) -> None:
        """Append one JSON line to ``trades.json`` or ``orders.json`` (``kind`` = trades/orders)."""
        fh = self._files.get(kind)
        if fh is None:
            return
        rec = {
            "logged_at": dt.datetime.now(self.tz).isoformat(timespec="milliseconds"),
            "bot": self.bot_id,
            **fields,
        }
        fh.write(json.dumps(rec, default=str) + "\n")

    def close(self) -> None:
        """Flush and close every file."""
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        for h in list(self.log.handlers):
            h.close()
            self.log.removeHandler(h)

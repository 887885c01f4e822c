"""The bots one web app serves: found from config files and folders, named by ``bot_id``.

A :class:`Fleet` re-reads its folders on each call (a config created or edited in the
browser is seen at once) but parses a config only when its file changed. With the
supervisor of ``mixbot serve`` attached, a new config is handed to it (stopped, until
started) and each bot's row shows the supervisor's view too: a process that keeps dying is
``crashed``, one whose heartbeat is older than ``stale_after_s`` is ``not responding``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixbot.errors import ConfigError, MixbotError

#: heartbeats are written every 10 s; a running bot silent for longer is "not responding"
DEFAULT_STALE_AFTER_S = 30.0


@dataclass
class Entry:
    """One config file: its bot (``ref``, None when invalid) or why it cannot be read."""

    file: str
    mtime: float
    ref: Any | None = None
    error: str | None = None


@dataclass
class Fleet:
    """The bots of config files / folders ``paths``.

    Args:
        service: the :class:`~mixbot.service.bots.BotService`.
        paths: config files and folders (default ``config/trading/``).
        supervisor: the :class:`~mixbot.service.supervisor.Supervisor` of ``mixbot serve``
            (None: the app only reads stores and queues commands).
        stale_after_s: heartbeat age (seconds) after which a running bot is "not responding".
        row_ttl_s: a bot's dashboard row is read from its store at most once per this many
            seconds (many browsers and API clients share one read; 0 = every call).
        clock: ``time.monotonic``-like clock of that cache (tests pass their own).
    """

    service: Any
    paths: list[str] = field(default_factory=list)
    supervisor: Any | None = None
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    row_ttl_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, Entry] = field(default_factory=dict)
    _rows: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def folder(self) -> Path:
        """Where a new config is created: the first folder of ``paths``."""
        from mixbot.service.configs import DEFAULT_FOLDER

        for p in self.paths:
            if Path(p).is_dir():
                return Path(p)
        for p in self.paths:  # named files: beside the first one
            return Path(p).parent
        return DEFAULT_FOLDER

    def entries(self) -> list[Entry]:
        """Every config file, in name order (re-parsed only when its mtime changed)."""
        from mixbot.service import configs

        files: list[str] = []
        for path in self.paths or [""]:
            try:  # one missing file or folder must not hide the others
                files += [str(p) for p in configs.expand([path] if path else [])]
            except ConfigError:
                continue
        files = list(dict.fromkeys(files))
        with self._lock:
            out = []
            for f in files:
                try:
                    mtime = Path(f).stat().st_mtime
                except OSError:
                    continue
                e = self._entries.get(f)
                if e is None or e.mtime != mtime:
                    e = self._load(f, mtime, known=e is not None and e.ref is not None)
                    self._entries[f] = e
                out.append(e)
            return out

    def _load(self, file: str, mtime: float, known: bool) -> Entry:
        try:
            ref = self.service.ref(file)
        except (ConfigError, MixbotError) as exc:
            return Entry(file, mtime, error=str(exc))
        if self.supervisor is not None and not known:
            self.supervisor.adopt(ref)
        return Entry(file, mtime, ref=ref)

    def refs(self) -> list[Any]:
        """The valid bots."""
        return [e.ref for e in self.entries() if e.ref is not None]

    def get(self, bot_id: str) -> Any | None:
        """The bot ``bot_id`` (its :class:`~mixbot.service.bots.BotRef`), or None."""
        for r in self.refs():
            if r.bot_id == bot_id:
                return r
        return None

    def child(self, ref: Any) -> Any | None:
        """The supervisor's :class:`~mixbot.service.supervisor.Child` of ``ref``, if any."""
        if self.supervisor is None:
            return None
        for c in self.supervisor.snapshot():
            if c.ref.bot_id == ref.bot_id and c.ref.mode == ref.mode:
                return c
        return None

    def row(self, ref: Any, fresh: bool = False) -> dict[str, Any]:
        """The dashboard row of one bot (see :func:`dashboard_row`), at most ``row_ttl_s``
        old unless ``fresh``."""
        key = (ref.file, ref.bot_id, ref.mode)
        now = self.clock()
        hit = self._rows.get(key)
        if not fresh and hit is not None and now - hit[0] < self.row_ttl_s:
            return dict(hit[1])
        row = self._read_row(ref)
        self._rows[key] = (now, row)
        return dict(row)

    def _read_row(self, ref: Any) -> dict[str, Any]:
        try:
            st = self.service.status(ref)
        except MixbotError as exc:
            return {"bot_id": ref.bot_id, "status": "error", "error": str(exc), **_static(ref)}
        return dashboard_row(ref, st, self.child(ref), self.stale_after_s)

    def rows(self) -> list[dict[str, Any]]:
        """Every bot's dashboard row; an invalid config is a row with status ``invalid``."""
        out: list[dict[str, Any]] = []
        for e in self.entries():
            if e.ref is None:
                out.append(
                    {
                        "bot_id": Path(e.file).stem,
                        "config_file": e.file,
                        "status": "invalid",
                        "error": e.error,
                        "mode": None,
                        "venue": None,
                        "symbols": [],
                    }
                )
            else:
                out.append(self.row(e.ref))
        return out


def _static(ref: Any) -> dict[str, Any]:
    cfg = ref.cfg
    return {
        "config_file": ref.file,
        "mode": ref.mode,
        "venue": cfg.broker.type,
        "data_source": cfg.data.data_source,
        "interval": cfg.data.interval,
        "symbols": [cfg.data.symbol],
        "description": cfg.description,
    }


def display_status(st: Any, child: Any | None, stale_after_s: float) -> str:
    """One word for the dashboard: running / paused / stopped / finished / crashed /
    not responding / halted / invalid / never run / error (the stored status refined by the
    supervisor's process state and the heartbeat's age)."""
    state = getattr(child, "state", None)
    if state == "backoff":
        return "crashed"
    if state in ("halted", "invalid"):
        return state
    if st.running and st.heartbeat_age_s is not None and st.heartbeat_age_s > stale_after_s:
        return "not responding"
    status = str(st.status)
    if "?" in status:  # "running? no process holds the bot's lock ..." / "... (hung?)"
        return "not responding" if st.running else "crashed"
    return status


def dashboard_row(ref: Any, st: Any, child: Any | None, stale_after_s: float) -> dict[str, Any]:
    """A bot's dashboard row: ids, mode, venue, symbols, status, open position (shares,
    avg price INR), today's PnL (INR), last bar time (market time), halts, restarts."""
    last = st.last_bar_processed or {}
    pos = st.positions[0] if st.positions else None
    return {
        "bot_id": ref.bot_id,
        **_static(ref),
        "status": display_status(st, child, stale_after_s),
        "status_detail": st.status,
        "running": st.running,
        "pid": st.pid,
        "heartbeat_age_s": st.heartbeat_age_s,
        "feed_state": st.feed_state,
        "position_qty": pos["qty"] if pos else 0.0,
        "position_avg_price": pos["avg_price"] if pos else None,
        "today_pnl": float(st.today.get("realized_pnl", 0.0) or 0.0),
        "today_entries": int(st.today.get("entries", 0) or 0),
        "trades_closed": st.trades_closed,
        "realized_pnl_total": st.realized_pnl_total,
        "value": st.value,
        "last_bar_time": last.get("time"),
        "bars_processed": (last.get("index", -1) + 1) if last else 0,
        "halts": list(st.halts),
        "restarts": getattr(child, "restarts", 0),
        "error": st.error,
    }

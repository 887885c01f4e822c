"""The live-feed base: a queue-backed Backtrader ``DataBase``.

A producer (the replay thread now, the Upstox websocket next) calls :meth:`LiveFeed.push_bar`
from its own thread; Backtrader's loop calls :meth:`_load`, which waits at most ``qcheck``
seconds on the queue and returns None when no bar is ready (the engine loops again), so
an idle bot sleeps in ``queue.get`` instead of spinning. Connection state is reported
through ``notify_data`` with Backtrader's statuses: CONNECTED, DELAYED, LIVE, CONNBROKEN,
DISCONNECTED (the shape of backtrader's own IB feed).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import backtrader as bt
import numpy as np

from mixbot.feeds.series import date2num

_END = object()
_WAKE = object()


class LiveFeed(bt.feed.DataBase):
    """Queue-backed live feed. Subclasses start their producer in :meth:`start_producer`.

    Params:
        qcheck: seconds ``_load`` waits for a bar before returning None (default 2.0). A
            bar or a :meth:`wake` returns at once, so this bounds only how often an idle
            bot's engine loop turns over (each turn costs a little CPU, times the number
            of bots on the host).
        maxqueue: bound of the bar queue (back-pressure on fast producers).
    """

    params = (("qcheck", 2.0), ("maxqueue", 10000))

    def __init__(self) -> None:
        super().__init__()
        self._q: queue.Queue[Any] = queue.Queue(maxsize=self.p.maxqueue)
        self._stop_event = threading.Event()
        self._state: int | None = None
        self.bars_received = 0
        self.last_bar_end: Any = None
        self.released_at: float | None = None
        #: monotonic time of the engine loop's last call for data (None before the first)
        self.last_turn: float | None = None

    # ----- producer side (any thread) -----
    def push_bar(self, end_utc: Any, o: float, h: float, lo: float, c: float, v: float) -> bool:
        """Queue one closed bar (``end_utc`` naive UTC datetime or datetime64). Returns False
        when the feed is stopping (the producer should stop too)."""
        while not self._stop_event.is_set():
            try:
                self._q.put(("bar", end_utc, o, h, lo, c, v, time.time()), timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def push_status(self, status: int) -> None:
        """Queue a status change (one of ``bt.feed.DataBase.CONNECTED`` ... ``DISCONNECTED``)."""
        self._q.put(("status", status))

    def wake(self) -> None:
        """Make the engine loop turn over now (e.g. to see ``cerebro.runstop()`` at once
        rather than after up to ``qcheck`` seconds); safe from any thread."""
        try:
            self._q.put_nowait(_WAKE)
        except queue.Full:
            pass  # a full queue wakes the loop anyway

    def push_end(self) -> None:
        """Signal the end of data: the feed reports DISCONNECTED and Backtrader stops it."""
        self._q.put(_END)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop_event.is_set()

    # ----- Backtrader side -----
    def islive(self) -> bool:
        return True

    def haslivedata(self) -> bool:
        return not self._q.empty()

    def start(self) -> None:
        super().start()
        # Backtrader's start() presets the last status to CONNECTED, which would swallow
        # the producer's own CONNECTED notification: start from "no status yet".
        self._laststatus = None
        self._stop_event.clear()
        self.start_producer()

    def start_producer(self) -> None:
        """Start the producer (thread, socket); subclasses override."""

    def stop(self) -> None:
        self._stop_event.set()
        super().stop()

    def _set_state(self, status: int) -> None:
        if status != self._state:
            self._state = status
            self.put_notification(status)

    @property
    def state_name(self) -> str:
        """Current status name (CONNECTED, DELAYED, LIVE, CONNBROKEN, DISCONNECTED, or NONE)."""
        return "NONE" if self._state is None else self._getstatusname(self._state)

    def _load(self) -> bool | None:
        self.last_turn = time.monotonic()  # the engine loop is alive (the control thread's beat)
        while True:
            try:
                item = self._q.get(timeout=self.p.qcheck)
            except queue.Empty:
                return None
            if item is _WAKE:
                return None
            if item is _END:
                self._set_state(self.DISCONNECTED)
                return False
            if item[0] == "status":
                self._set_state(item[1])
                continue
            _, end, o, h, lo, c, v, released = item
            self.released_at = released  # wall time (epoch s) the bar was closed and queued
            lines = self.lines
            lines.datetime[0] = float(date2num(np.array([end], dtype="datetime64[us]"))[0])
            lines.open[0] = o
            lines.high[0] = h
            lines.low[0] = lo
            lines.close[0] = c
            lines.volume[0] = v
            lines.openinterest[0] = 0.0
            self.bars_received += 1
            self.last_bar_end = end
            return True

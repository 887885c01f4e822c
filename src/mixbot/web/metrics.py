"""``/metrics`` (Prometheus text format, prometheus_client) and ``/healthz``.

Per bot (labels ``bot_id``, ``mode``): bars processed, age of the last bar (s), orders sent
and rejected, fills, equity (INR), today's realised PnL (INR), open positions, feed state
(1 for the current one of LIVE / DELAYED / CONNBROKEN / DISCONNECTED), restarts by the
supervisor, running; per database: the notification outbox depth. Read from the stores at
each scrape. ``/metrics`` needs no login while the server is bound to a loopback address,
else a login (a bearer token); ``/healthz`` is always open and says only ok and the bot count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app
from flask_login import current_user
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mixbot.bus.events import FEED_STATES
from mixbot.errors import MixbotError

bp = Blueprint("metrics", __name__)
LABELS = ["bot_id", "mode"]


class FleetCollector:
    """A prometheus_client collector over a :class:`~mixbot.web.fleet.Fleet`."""

    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet

    def describe(self) -> list[Metric]:
        return []  # collected on demand (no registration-time scrape)

    def collect(self) -> Iterator[Metric]:
        g = {
            "bars": CounterMetricFamily("mixbot_bars_processed", "Bars processed", labels=LABELS),
            "age": GaugeMetricFamily(
                "mixbot_last_bar_age_seconds", "Seconds since the last bar's time", labels=LABELS
            ),
            "sent": CounterMetricFamily("mixbot_orders_sent", "Orders sent", labels=LABELS),
            "rejected": CounterMetricFamily(
                "mixbot_orders_rejected", "Orders rejected", labels=LABELS
            ),
            "fills": CounterMetricFamily("mixbot_fills", "Fills", labels=LABELS),
            "equity": GaugeMetricFamily("mixbot_equity_inr", "Equity (INR)", labels=LABELS),
            "pnl": GaugeMetricFamily(
                "mixbot_today_pnl_inr", "Today's realised PnL (INR)", labels=LABELS
            ),
            "pos": GaugeMetricFamily("mixbot_open_positions", "Open positions", labels=LABELS),
            "feed": GaugeMetricFamily(
                "mixbot_feed_state", "1 for the feed's current state", labels=[*LABELS, "state"]
            ),
            "restarts": CounterMetricFamily(
                "mixbot_restarts", "Restarts by the supervisor", labels=LABELS
            ),
            "running": GaugeMetricFamily(
                "mixbot_running", "1 while a process runs the bot", labels=LABELS
            ),
        }
        outbox = GaugeMetricFamily(
            "mixbot_outbox_depth", "Notifications waiting to be sent", labels=["database"]
        )
        urls: list[str] = []
        for ref in self.fleet.refs():
            if ref.url not in urls:
                urls.append(ref.url)
            try:
                self._bot(ref, g)
            except MixbotError:
                continue  # an unusable store: its bot has no samples this scrape
        for i, url in enumerate(urls):
            depth = self._outbox(url)
            if depth is not None:
                outbox.add_metric([str(i)], depth)
        yield from g.values()
        yield outbox

    def _bot(self, ref: Any, g: dict[str, Any]) -> None:
        labels = [ref.bot_id, ref.mode]
        store = self.fleet.service.store(ref)
        child = self.fleet.child(ref)
        g["restarts"].add_metric(labels, float(getattr(child, "restarts", 0)))
        if store is None:
            g["running"].add_metric(labels, 0.0)
            return
        st = self.fleet.service.status(ref)
        last = st.last_bar_processed or {}
        g["bars"].add_metric(labels, float(last.get("index", -1) + 1) if last else 0.0)
        if last.get("time"):
            when = dt.datetime.fromisoformat(last["time"])
            g["age"].add_metric(labels, (dt.datetime.now(dt.UTC) - when).total_seconds())
        orders = store.orders()
        g["sent"].add_metric(labels, float(sum(1 for o in orders if o["status"] != "intent")))
        g["rejected"].add_metric(
            labels, float(sum(1 for o in orders if o["status"] in ("Rejected", "Margin")))
        )
        g["fills"].add_metric(labels, float(len(store.fills())))
        if st.value is not None:
            g["equity"].add_metric(labels, float(st.value))
        g["pnl"].add_metric(labels, float(st.today.get("realized_pnl", 0.0) or 0.0))
        g["pos"].add_metric(labels, float(len(st.positions)))
        for state in FEED_STATES:
            g["feed"].add_metric([*labels, state], 1.0 if st.feed_state == state else 0.0)
        g["running"].add_metric(labels, 1.0 if st.running else 0.0)

    def _outbox(self, url: str) -> float | None:
        from mixbot.store.notifications import NotificationQueue
        from mixbot.store.outbox import EventLog

        try:
            log = EventLog(url, engine=self.fleet.service.engine(url, create=True))
            return float(NotificationQueue(log).pending())
        except MixbotError:
            return None


@bp.get("/metrics")
def metrics() -> Response:
    if current_app.config.get("MIXBOT_PUBLIC", True) and not current_user.is_authenticated:
        from apiflask import abort

        abort(401, "log in first: /metrics needs a login on a non-loopback address")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(current_app.extensions["mixbot.fleet"]))  # type: ignore[arg-type]
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4; charset=utf-8")


@bp.get("/healthz")
def healthz() -> Any:
    return {"ok": True, "bots": len(current_app.extensions["mixbot.fleet"].refs())}

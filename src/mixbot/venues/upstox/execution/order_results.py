"""Results of order calls: the audit trail step, place / modify / cancel answers, and the
"order state unknown" error of a lost place.

Split out of :mod:`mixbot.venues.upstox.execution.orders`, which re-exports every name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mixbot.venues.upstox.http.errors import UpstoxError
from mixbot.venues.upstox.http.order_endpoints import PLACE_PATH

# ----------------------------------------------------------------------------- results


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AuditStep:
    """One step of an order call, for the audit trail (``at`` is UTC ISO 8601)."""

    action: str
    detail: dict[str, Any]
    at: str = field(default_factory=_now_iso)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "at": self.at, **self.detail}


@dataclass
class PlaceResult:
    """What :meth:`OrderApi.place` did.

    Attributes:
        order_ids: Upstox order ids (several when the order was sliced).
        tag: the order's tag.
        recovered: the answer was lost and the order was found by its tag afterwards.
        attempts: requests sent (429-refused ones included).
        latency_ms: Upstox's ``metadata.latency``, when answered.
        steps: the audit trail.
    """

    order_ids: list[str]
    tag: str
    recovered: bool = False
    attempts: int = 1
    latency_ms: int | None = None
    steps: list[AuditStep] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        """The first order id."""
        return self.order_ids[0]


@dataclass
class OrderAck:
    """Answer of :meth:`OrderApi.modify` / :meth:`OrderApi.cancel`.

    ``already_final`` (cancel): Upstox refused the cancel because the order had already
    reached ``final_status`` (complete / cancelled / rejected): nothing is left to cancel.
    """

    order_id: str
    latency_ms: int | None = None
    already_final: bool = False
    final_status: str | None = None
    steps: list[AuditStep] = field(default_factory=list)


class OrderStateUnknownError(UpstoxError):
    """A place request may have reached Upstox and whether the order exists could not be
    established (look-ups failed, or it stayed absent after the allowed resends).

    Nothing more is sent: reconcile from the order book (the order has ``tag``) before acting.

    Attributes:
        tag: the order's tag. steps: the audit trail.
    """

    def __init__(self, message: str, *, tag: str, steps: list[AuditStep]) -> None:
        self.tag = tag
        self.steps = steps
        super().__init__(message, method="POST", path=PLACE_PATH)

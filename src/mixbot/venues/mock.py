"""The mock venue (``broker.type`` mock, for tests): every order is accepted and filled at
the signal bar's close, zero charges, no slippage (:func:`mixbot.brokers.paper.make_broker`)."""

from __future__ import annotations

from mixbot.venues.paper import build_broker
from mixbot.venues.registry import VenueSpec, register

SPEC = register(
    VenueSpec(
        name="mock",
        summary="accepts and fills everything at the bar close (tests)",
        broker_types=("mock",),
        build_broker=build_broker,
    )
)

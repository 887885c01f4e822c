"""Names the schema reserves for venues that no code implements yet (the validator says
"not supported yet"): Interactive Brokers."""

from __future__ import annotations

from mixbot.venues.registry import VenueSpec, register

IBKR = register(
    VenueSpec(
        name="ibkr",
        summary="Interactive Brokers (reserved, not supported yet)",
        broker_types=("ibkr",),
        data_sources=("ibkr",),
        available=False,
    )
)

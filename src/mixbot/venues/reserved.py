"""Names the schema reserves for venues that no code implements yet (the validator says
"not supported yet"): Binance."""

from __future__ import annotations

from mixbot.venues.registry import VenueSpec, register

BINANCE = register(
    VenueSpec(
        name="binance",
        summary="Binance (reserved, not supported yet)",
        broker_types=("binance_paper", "binance"),
        data_sources=("binance",),
        available=False,
    )
)

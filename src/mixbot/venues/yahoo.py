"""Yahoo Finance (``data.data_source`` yahoo): validated, not served by this version yet.

Intervals: the Yahoo chart API's 1m..90m, 1h and 1d (no 4h).
"""

from __future__ import annotations

from mixbot.venues.registry import VenueSpec, register

SPEC = register(
    VenueSpec(
        name="yahoo",
        summary="Yahoo Finance polling (not available in this version yet)",
        data_sources=("yahoo",),
        intervals=frozenset({"1m", "5m", "15m", "30m", "1h", "1d"}),
    )
)

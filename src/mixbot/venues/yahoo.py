"""Yahoo Finance (``data.data_source`` yahoo): validated, not served by this version yet.

Intervals: the Yahoo chart API's 1m..90m, 1h and 1d (no 4h).
"""

from __future__ import annotations

import re

from mixbot.venues.registry import VenueSpec, register

#: A Yahoo Finance ticker (RELIANCE.NS, ^NSEI, TCS.BO, BTC-USD).
YAHOO_TICKER = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.&^=_-]{0,30}$")


def check_symbol(sym: str) -> tuple[str, str] | None:
    """None for a Yahoo ticker, else ``(problem, hint)``."""
    return (
        None if YAHOO_TICKER.match(sym) else ("not a Yahoo ticker (e.g. RELIANCE.NS for NSE)", "")
    )


SPEC = register(
    VenueSpec(
        name="yahoo",
        summary="Yahoo Finance polling (not available in this version yet)",
        data_sources=("yahoo",),
        intervals=frozenset({"1m", "5m", "15m", "30m", "1h", "1d"}),
        check_symbol=check_symbol,
    )
)

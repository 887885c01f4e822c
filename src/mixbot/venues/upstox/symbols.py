"""What an Upstox symbol looks like: an instrument key or an NSE/BSE trading symbol.

Checked by the validator through the venue registry (``VenueSpec.check_symbol``) before any
instruments master is downloaded; the master itself resolves the symbol when a bot starts
(:meth:`mixbot.venues.upstox.instruments.InstrumentMaster.resolve`).
"""

from __future__ import annotations

import re

#: Upstox instrument key: SEGMENT|identifier (Upstox docs, "Instruments").
UPSTOX_KEY = re.compile(
    r"^(NSE_EQ|NSE_FO|NSE_INDEX|NSE_COM|BSE_EQ|BSE_FO|BSE_INDEX|MCX_FO|MCX_INDEX|NCD_FO|BCD_FO)\|[^|\s]+( [^|\s]+)*$"
)
#: NSE/BSE trading symbol (RELIANCE, BAJAJ-AUTO, M&M, NIFTY25JANFUT).
TRADING_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9&_.-]{0,49}$")
#: Yahoo's exchange suffixes for NSE and BSE tickers (a common mix-up).
YAHOO_SUFFIX = re.compile(r"\.(NS|BO)$", re.IGNORECASE)


def check_symbol(sym: str) -> tuple[str, str] | None:
    """None when ``sym`` is an Upstox instrument key or a trading symbol, else
    ``(problem, hint)``; the problem reads after "'SYM' is ..."."""
    if YAHOO_SUFFIX.search(sym):  # RELIANCE.NS would pass TRADING_SYMBOL's "."
        return (
            "a Yahoo ticker, not a trading symbol nor an Upstox instrument key",
            f"Upstox uses trading symbols without the Yahoo suffix: {sym[:-3].upper()!r}",
        )
    if UPSTOX_KEY.match(sym) or TRADING_SYMBOL.match(sym):
        return None
    if "|" in sym:
        return (
            "not a valid Upstox instrument key (SEGMENT|ID, e.g. NSE_EQ|INE002A01018 or NSE_INDEX|Nifty 50)",
            "",
        )
    hint = (
        f"trading symbols are upper case: {sym.upper()!r}"
        if TRADING_SYMBOL.match(sym.upper())
        else ""
    )
    return "not a trading symbol (upper case, e.g. RELIANCE) nor an Upstox instrument key", hint

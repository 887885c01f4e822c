"""Names the schema reserves for venues that no code implements yet (the validator says
"not supported yet"). None at present: Binance and Interactive Brokers have their venues
(:mod:`mixbot.venues.binance`, :mod:`mixbot.venues.ibkr`). A reserved name is a
``VenueSpec(..., available=False)`` registered here."""

from __future__ import annotations

"""Venues: brokers and market-data sources behind one contract (:mod:`.base`), found through
the venue registry (:mod:`.registry`). One folder or module per venue: :mod:`.upstox`,
:mod:`.paper` / :mod:`.mock` (simulated brokers), :mod:`.files` (csv / replay data),
:mod:`.yahoo`, :mod:`.reserved` (names not supported yet)."""

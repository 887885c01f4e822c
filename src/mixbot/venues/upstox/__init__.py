"""The Upstox venue (NSE / BSE / MCX through the Upstox API).

Layout by role: :mod:`.venue` (the registration in :mod:`mixbot.venues.registry`),
:mod:`.wiring` (session, feed and broker of a bot config), :mod:`.config` (the typed Upstox
section), :mod:`.session` (the shared store: token + rate limiter), :mod:`.auth` (login,
token file), :mod:`.instruments` (the instruments master), :mod:`.portfolio` (order-update
stream), :mod:`.panic` (kill switch), :mod:`.cli` (``mixbot upstox`` / ``mixbot data``);
``http/`` (REST client, hosts, errors, rate limits, order endpoints and transport), ``ws/``
(market-data websocket, its protocol, the Backtrader feed, ``mixbot feed-test``), ``data/``
(historical candles and their cache), ``execution/`` (order API, order rules and statuses,
the Backtrader broker). The local simulator is :mod:`mixbot.simulators.upstox`.
"""

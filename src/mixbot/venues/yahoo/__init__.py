"""The Yahoo Finance venue (data only: history and a polling live feed through yfinance).

:mod:`.venue` (the registration), :mod:`.hosts` (the redirecting curl_cffi session,
yfinance's caches), :mod:`.client` (chart requests, rate limit, retries, bar labels),
:mod:`.data` (cache + ``mixbot data download``), :mod:`.feed` (the polling Backtrader feed),
:mod:`.wiring` (engine hooks), :mod:`.config` (the ``yahoo`` section), :mod:`.feedtest`
(``mixbot feed-test --source yahoo``), :mod:`.cli` (``mixbot yahoo-sim``). The simulator is
:mod:`mixbot.simulators.yahoo`.
"""

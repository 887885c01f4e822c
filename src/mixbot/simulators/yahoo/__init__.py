"""A local Yahoo Finance chart API (v8 chart JSON, cookie, crumb, consent, faults) on real
bar files: ``from mixbot.simulators.yahoo import Simulator``; :mod:`.app` (Python API),
:mod:`.server` (routes), :mod:`.market` (tickers, clock, bars), :mod:`.cli`
(``mixbot yahoo-sim``)."""

from __future__ import annotations

from mixbot.simulators.yahoo.app import Simulator

__all__ = ["Simulator"]

"""A local OpenAlgo (REST API v1 + market-data websocket) on real bar files, for tests and
`mixbot openalgo-sim`; see :mod:`.app`."""

from mixbot.simulators.openalgo.app import Simulator

__all__ = ["Simulator"]

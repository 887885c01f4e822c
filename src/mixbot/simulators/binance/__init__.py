"""A local Binance spot simulator (REST ``/api/v3``, market streams, WebSocket API user
data) replaying real bar files: :class:`~mixbot.simulators.binance.server.BinanceSim`."""

from mixbot.simulators.binance.server import BinanceSim

__all__ = ["BinanceSim"]

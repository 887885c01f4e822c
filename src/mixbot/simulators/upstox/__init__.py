"""A local Upstox simulator speaking Upstox's real wire protocol (REST + V3 websocket).

``from mixbot.simulators.upstox import Simulator``; see :mod:`.app` for the Python API,
:mod:`.cli` for ``mixbot upstox-sim``, :mod:`.server` for the routes, :mod:`.ws` for the
websocket, :mod:`.replay` for the clock and the end-of-data signal, :mod:`.faults` for
fault injection, :mod:`.ticks` for the tick synthesis, :mod:`.instruments` for the keys.
"""

from __future__ import annotations

from mixbot.simulators.upstox.app import Simulator
from mixbot.simulators.upstox.faults import Faults

__all__ = ["Faults", "Simulator"]

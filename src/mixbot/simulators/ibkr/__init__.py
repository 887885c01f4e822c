"""A local TWS / IB Gateway speaking the TWS socket protocol (server version 178) on real
1-minute files, for tests and demos: ``from mixbot.simulators.ibkr import Simulator``.

:mod:`.protocol` framing and placeOrder parsing, :mod:`.messages` the server messages,
:mod:`.handlers` the requests, :mod:`.exchange` the book and matching rules,
:mod:`.market` instruments and 5-second bars, :mod:`.server` the clock and connections,
:mod:`.cli` ``mixbot ibkr-sim``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Simulator"]


def __getattr__(name: str) -> Any:
    # lazy: `mixbot --help` imports the cli module of this package, not the server
    if name == "Simulator":
        from mixbot.simulators.ibkr.server import Simulator

        return Simulator
    raise AttributeError(name)

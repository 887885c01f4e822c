"""The paper venue: simulated brokers on the bot's own bars (``broker.type`` paper; mock is
registered by :mod:`mixbot.venues.mock` with the same builder).

paper: :class:`~mixbot.brokers.paper.PaperBroker` with slippage and the Indian charges model;
mock: fills everything at the bar close with zero charges (tests). Neither sends orders
anywhere, so their bots use the paper store and have no venue kill switch (a running paper
bot is panicked with its ``panic`` command).
"""

from __future__ import annotations

import importlib
from typing import Any

from mixbot.venues.registry import VenueSpec, register


def build_broker(cfg: Any, feed: Any, known_tags: set[str], session: Any) -> Any:
    """The paper or mock broker of ``cfg`` (``broker.initial_balance`` INR, ``commission``
    fraction or None for the charges model, ``slippage_bps``, ``tick_size`` INR)."""
    # imported by name: Backtrader's metaclass parameters are untyped and mypy does not
    # check mixbot.brokers yet (it would, following a static import from this package)
    make_broker = importlib.import_module("mixbot.brokers.paper").make_broker
    b = cfg.broker
    return make_broker(
        b.type, b.initial_balance, b.commission, b.slippage_bps, b.tick_size, cfg.trading.product
    )


SPEC = register(
    VenueSpec(
        name="paper",
        summary="simulated fills on the bot's own data, with slippage and charges",
        broker_types=("paper",),
        build_broker=build_broker,
    )
)

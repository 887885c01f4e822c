"""The venue contract: what the engine, :mod:`mixbot.strategy.persistence` and the service
layer may rely on from a venue (a broker and/or a market-data source, such as Upstox).

These are structural :class:`typing.Protocol` s: a venue's classes conform by having the
members, not by inheriting. A venue registers itself with :mod:`mixbot.venues.registry`
(:class:`~mixbot.venues.registry.VenueSpec`); the engine builds its session, feed and broker
through the spec's hooks and never imports a venue by name.

Shapes and units used below:

* prices and cash in the account currency (INR for NSE venues);
* quantities in units (shares / contracts), signed: + long, - short;
* times: epoch seconds (UTC) unless a member says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class RateLimiter(Protocol):
    """A venue's request budget (e.g. Upstox's per-user windows). Thread-safe."""

    def acquire(self) -> float:
        """Block until one more call is allowed and record it; returns the seconds waited."""
        ...

    def try_acquire(self) -> float:
        """Take a token if one is free (returns 0.0), else take none and return the wait, s."""
        ...


@runtime_checkable
class Session(Protocol):
    """The one connection of a bot to a venue account that its feed and broker share (the
    "store" of Backtrader's store / feed / broker shape): one token, one rate limiter.

    Attributes:
        token: the access token, or None when the venue finds its own (token file, env).
        rate_limiter: the limiter every REST client of this session takes tokens from.
    """

    token: str | None
    rate_limiter: Any

    def client(self, **kwargs: Any) -> Any:
        """A new REST client on this session (same token, host and limiter).

        Raises:
            the venue's error when no token can be found.
        """
        ...

    def close(self) -> None:
        """Close every client this session made (idempotent)."""
        ...


@runtime_checkable
class Feed(Protocol):
    """A Backtrader data feed of the venue (``bt.feed.DataBase`` subclass).

    ``state_name`` is one of LIVE / DELAYED / CONNBROKEN / DISCONNECTED / HISTORICAL (the
    ``feed_state`` event's values); live feeds return True from ``islive()``.
    """

    @property
    def state_name(self) -> str: ...

    def islive(self) -> bool: ...


@runtime_checkable
class Broker(Protocol):
    """The Backtrader broker calls every broker answers (``bt.BrokerBase``)."""

    def getcash(self) -> float:
        """Cash, account currency."""
        ...

    def getvalue(self, datas: Any = None) -> float:
        """Cash plus the marked value of open positions, account currency."""
        ...

    def getposition(self, data: Any, clone: bool = True) -> Any:
        """The ``bt.Position`` (``size`` signed units, ``price`` average) held in ``data``."""
        ...

    def set_cash(self, cash: float) -> None: ...

    def cancel(self, order: Any) -> Any: ...


@runtime_checkable
class VenueBroker(Broker, Protocol):
    """A broker whose orders live at the venue, so they survive the bot's process.

    :class:`~mixbot.strategy.persistence.Persistence` relies on these when it restores a
    checkpoint (it reads them with ``getattr`` so the paper broker needs none of them):

    Attributes:
        adopts_orders: True: orders sent before a restart are looked up at the venue by their
            tag and adopted, never re-sent blindly (False or absent: the paper broker, whose
            orders died with the process, so they are marked Abandoned).
        venue_cash: True: cash comes from the venue's funds, a checkpoint's cash is not
            restored with ``set_cash``.
        adopted: ``(tag, outcome)`` of every adoption decision, for the audit trail.
    """

    adopts_orders: bool
    venue_cash: bool
    adopted: list[tuple[str, str]]

    def set_position(self, data: Any, size: float, price: float) -> None:
        """Restore the position held in ``data`` (signed units, average price) from a
        checkpoint."""
        ...

    def sync(self) -> None:
        """Read the venue's order book and positions now (blocking) and apply what changed."""
        ...

    def venue_position(self, data: Any) -> float | None:
        """The net position the venue reports for ``data`` (signed units), None if unknown."""
        ...

    @property
    def pending(self) -> list[Any]:
        """The ``bt.Order`` s not yet final (a property)."""
        ...


@runtime_checkable
class Instrument(Protocol):
    """One tradable instrument: venue key, trading symbol, tick (account currency), lot."""

    instrument_key: str
    trading_symbol: str
    tick_size: float
    lot_size: int


@runtime_checkable
class InstrumentProvider(Protocol):
    """Symbol -> instrument lookup of a venue (e.g. the Upstox instruments master)."""

    def get(self, instrument_key: str) -> Any:
        """The instrument with this venue key, or None."""
        ...

    def resolve(self, symbol: str, exchange: str = "NSE") -> Any:
        """The instrument a trading symbol names on ``exchange``.

        Raises:
            the venue's error naming the symbol (and close matches) when none fits.
        """
        ...


#: Build the feed of a data source: ``(cfg, mode, date_from, date_to, session)`` ->
#: ``(feed, bars)`` (bars None for a live feed), or None when the source cannot serve
#: ``mode`` ("backtest", "paper", "live").
FeedBuilder = Callable[[Any, str, str | None, str | None, Any], tuple[Any, Any] | None]

#: Build the broker: ``(cfg, feed, known_tags, session)`` -> a Backtrader broker.
BrokerBuilder = Callable[[Any, Any, set[str], Any], Any]

#: Open the session a venue's feed and broker share: ``cfg`` -> :class:`Session`.
SessionOpener = Callable[[Any], Any]


class PanicHook(Protocol):
    """The venue's kill switch for one bot config: cancel the account's open orders, exit its
    positions, halt the bot in its store.

    Args:
        cfg: the bot's :class:`~mixbot.config.model.BotConfig`.
        reason: for the audit trail.
        confirm: asked once with a prompt before anything is sent; False aborts.
        say: receives each line to show (steps, summary); ``err=True`` for problems.
        database_url: the bot's store; None: the config's own (live) store.

    Returns:
        0 when done with nothing left open, 1 otherwise (aborted or problems).
    """

    def __call__(
        self,
        cfg: Any,
        *,
        reason: str,
        confirm: Callable[[str], bool],
        say: Callable[..., None],
        database_url: str | None = None,
    ) -> int: ...


#: ``(broker type or None, data source or None)`` -> the secret fields that config needs:
#: ``((section, field), what)`` pairs, checked by :mod:`mixbot.config.semantic`.
SecretNeeds = Callable[[str | None, str | None], Sequence[tuple[tuple[str, ...], str]]]

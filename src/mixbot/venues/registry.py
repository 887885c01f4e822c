"""The venue registry: broker type / data source name -> the venue that provides it.

A venue is one module (or folder) that calls :func:`register` with a :class:`VenueSpec` at
import time; :data:`BUILTIN` lists the registering modules (adding a venue = its folder plus
one line there). The registration modules import nothing heavy (no Backtrader, no HTTP
client): the schema, the validator and the service layer read the registry without
building anything; the hooks import the venue's code when called.

From the registry come: the schema's ``broker.type`` and ``data.data_source`` enums
(:func:`broker_types`, :func:`data_sources`), the validator's venue checks (intervals,
unsupported names, live pairing, secrets), the engine wiring (:mod:`mixbot.engine.build`),
the store mode (:func:`store_mode`) and ``mixbot panic`` (:attr:`VenueSpec.panic`).
Modelled on the mixin registry, :mod:`mixbot.strategy.registry`.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mixbot.venues.base import BrokerBuilder, FeedBuilder, PanicHook, SecretNeeds, SessionOpener

#: Modules that register the built-in venues, in the order their names appear in the schema.
BUILTIN = (
    "mixbot.venues.files",
    "mixbot.venues.yahoo.venue",
    "mixbot.venues.paper",
    "mixbot.venues.upstox.venue",
    "mixbot.venues.mock",
    "mixbot.venues.binance.venue",
    "mixbot.venues.openalgo.venue",
    "mixbot.venues.reserved",
    "mixbot.venues.ibkr.venue",
)

#: The bar sizes the schema's ``data.interval`` allows.
ALL_INTERVALS = frozenset({"1m", "5m", "15m", "30m", "1h", "4h", "1d"})

_VENUES: dict[str, VenueSpec] = {}
_LOADED = False


@dataclass(frozen=True)
class VenueSpec:
    """One registered venue.

    Attributes:
        name: the venue's name (``"upstox"``).
        summary: one line for messages and docs.
        broker_types: the ``broker.type`` values it serves (may be empty: data only).
        data_sources: the ``data.data_source`` values it serves (may be empty: broker only).
        intervals: the ``data.interval`` values its data sources deliver.
        live: its brokers send real orders (the bot's store opens in mode ``"live"``, never
            shared with paper bots) and need one of its own data sources, outside backtests.
        available: False for names the schema reserves but no code implements yet (the
            validator reports them as not supported).
        config_section: ``BotConfig -> typed frozen section`` of the venue's own config
            fields (e.g. ``UpstoxBrokerConfig.of``), or None.
        open_session: opens the session its feed and broker share, or None.
        build_feed: builds the feed of one of its data sources (see
            :data:`~mixbot.venues.base.FeedBuilder`), or None (no feed in this version).
        build_broker: builds the broker of one of its broker types, or None.
        panic: the kill switch ``mixbot panic`` runs (:class:`~mixbot.venues.base.PanicHook`),
            or None (a paper bot is stopped with its ``panic`` command instead).
        secrets: which ``${VAR}`` secret fields a config needs, or None.
        token_expiry: ``() -> aware datetime`` when the access token a bot uses now expires,
            or None (no expiring token); the bot emits ``token_expiring`` before it.
        cli_modules: modules whose ``add_parsers(sub)`` adds the venue's own ``mixbot``
            commands (Upstox: ``mixbot upstox login``, ``mixbot data``, ``mixbot feed-test``).
        check_symbol: ``symbol -> (problem, hint) | None`` for a symbol its data sources /
            brokers are given (problem reads after "'SYM' is ...", hint may be ""), or None
            (any symbol is accepted).
        check_config: ``(config document with defaults, bot id) -> iterable of (json path
            parts, problem, hint)``: the venue's own rules for a config using it (Upstox: the
            tag length, ``algo_name``), or None.
        config_schema: the JSON Schema (an ``object``) of the venue's own top-level config
            section, named after the venue (``"binance": {...}`` next to ``broker``);
            :func:`mixbot.config.schema.base_schema` adds it to the bot schema, so its
            defaults fill and unknown keys are refused. None: the venue has no section.
        secret_fields: names of the fields in that section that hold secrets (each must be a
            ``${VAR}`` reference; masked in output; read with
            :func:`mixbot.config.secrets.section_secret`).
        feed_test: runs ``mixbot feed-test --source <data source>`` (the argparse namespace
            of :mod:`mixbot.venues.commands`) and returns the exit status, or None.
        download: runs ``mixbot data download --source <data source>`` (same), or None.
    """

    name: str
    summary: str
    broker_types: tuple[str, ...] = ()
    data_sources: tuple[str, ...] = ()
    intervals: frozenset[str] = ALL_INTERVALS
    live: bool = False
    available: bool = True
    config_section: Any = None
    open_session: SessionOpener | None = None
    build_feed: FeedBuilder | None = None
    build_broker: BrokerBuilder | None = None
    panic: PanicHook | None = None
    secrets: SecretNeeds | None = None
    token_expiry: Callable[[], dt.datetime] | None = None
    cli_modules: tuple[str, ...] = ()
    check_symbol: Callable[[str], tuple[str, str] | None] | None = None
    check_config: Callable[[dict[str, Any], str], Any] | None = None
    config_schema: dict[str, Any] | None = None
    secret_fields: tuple[str, ...] = ()
    feed_test: Callable[[Any], int] | None = None
    download: Callable[[Any], int] | None = None


def register(spec: VenueSpec) -> VenueSpec:
    """Add ``spec`` to the registry; returns it.

    Raises:
        ValueError: the venue name, one of its broker types or data sources is taken, or an
            interval is not one the schema knows.
    """
    if spec.name in _VENUES:
        raise ValueError(f"venue {spec.name} registered twice")
    for other in _VENUES.values():
        clash = (set(spec.broker_types) & set(other.broker_types)) | (
            set(spec.data_sources) & set(other.data_sources)
        )
        if clash:
            raise ValueError(f"venue {spec.name}: {sorted(clash)} already belong to {other.name}")
    if spec.secret_fields and not spec.config_schema:
        raise ValueError(f"venue {spec.name}: secret_fields without a config_schema")
    if not spec.intervals <= ALL_INTERVALS:
        raise ValueError(
            f"venue {spec.name}: unknown intervals {sorted(spec.intervals - ALL_INTERVALS)}"
        )
    _VENUES[spec.name] = spec
    return spec


def load_builtin() -> None:
    """Import the built-in venue registrations (idempotent)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in BUILTIN:
            importlib.import_module(module)


def venues() -> list[VenueSpec]:
    """Every registered venue, in registration order."""
    load_builtin()
    return list(_VENUES.values())


def get(name: str) -> VenueSpec:
    """The venue called ``name``.

    Raises:
        KeyError: no such venue.
    """
    load_builtin()
    return _VENUES[name]


def broker_types() -> list[str]:
    """Every ``broker.type`` the schema accepts (registration order; includes reserved ones)."""
    return [t for v in venues() for t in v.broker_types]


def data_sources() -> list[str]:
    """Every ``data.data_source`` the schema accepts (registration order; includes reserved)."""
    return [s for v in venues() for s in v.data_sources]


def for_broker(broker_type: str) -> VenueSpec | None:
    """The venue serving ``broker.type`` = ``broker_type``, or None when none does."""
    return next((v for v in venues() if broker_type in v.broker_types), None)


def for_source(data_source: str) -> VenueSpec | None:
    """The venue serving ``data.data_source`` = ``data_source``, or None when none does."""
    return next((v for v in venues() if data_source in v.data_sources), None)


def feed_test_sources() -> list[str]:
    """The data sources ``mixbot feed-test --source`` can connect (their venue has a hook)."""
    return [s for v in venues() if v.feed_test is not None for s in v.data_sources]


def download_sources() -> list[str]:
    """The data sources ``mixbot data download --source`` can fetch from."""
    return [s for v in venues() if v.download is not None for s in v.data_sources]


def is_live(broker_type: str) -> bool:
    """True when ``broker_type`` sends real orders (its venue is ``live``)."""
    v = for_broker(broker_type)
    return v is not None and v.live


def live_broker_types() -> list[str]:
    """The broker types that send real orders."""
    return [t for v in venues() if v.live for t in v.broker_types]


def store_mode(cfg: Any) -> str:
    """``"live"`` for a bot whose broker sends real orders, else ``"paper"`` (which store
    file the bot uses); ``cfg`` is a :class:`~mixbot.config.model.BotConfig`."""
    return "live" if is_live(cfg.broker.type) else "paper"

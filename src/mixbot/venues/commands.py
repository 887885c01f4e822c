"""The venue-neutral data commands: ``mixbot feed-test`` and ``mixbot data download``.

Both take ``--source <data source>`` and hand the parsed namespace to that source's venue
(:attr:`~mixbot.venues.registry.VenueSpec.feed_test` / ``download``), so a new venue adds
its own behind the same command line. The choices come from the venue registry.

Examples::

    mixbot feed-test BANKNIFTY --source upstox --seconds 30
    mixbot feed-test RELIANCE.NS --source yahoo --interval 1m
    mixbot data download --source upstox RELIANCE --interval 1m --from 2025-01-01
    mixbot data download --source yahoo RELIANCE.NS TCS.NS --interval 1d --from 2004-01-01

Wire into the main parser with :func:`add_parsers` (``sub`` = the ``mixbot`` sub-parsers).
"""

from __future__ import annotations

import argparse

from mixbot.errors import ConfigError
from mixbot.venues import registry as venues


def _venue_of(source: str, kind: str) -> venues.VenueSpec:
    spec = venues.for_source(source)
    hook = None if spec is None else getattr(spec, kind)
    if spec is None or hook is None:
        have = venues.feed_test_sources() if kind == "feed_test" else venues.download_sources()
        raise ConfigError(f"--source {source}: not available here (choose one of {have})")
    return spec


def cmd_feed_test(args: argparse.Namespace) -> int:
    """``mixbot feed-test``: the source's venue runs it (exit status from the venue)."""
    hook = _venue_of(args.source, "feed_test").feed_test
    assert hook is not None
    return hook(args)


def cmd_data_download(args: argparse.Namespace) -> int:
    """``mixbot data download``: the source's venue runs it (exit status from the venue)."""
    hook = _venue_of(args.source, "download").download
    assert hook is not None
    return hook(args)


def _add_feed_test(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sources = venues.feed_test_sources()
    q = sub.add_parser(
        "feed-test",
        help="print live ticks and bars from a market-data feed",
        description="Connect a live market-data feed and print its connection states, ticks "
        "and bars (exchange time) for a while. Each source reads its own host variables "
        "(MIXBOT_UPSTOX_API, MIXBOT_YAHOO_API, ...: the simulators print them) and "
        "credentials; see the README section of the venue.",
    )
    q.add_argument("symbol", metavar="SYMBOL", help="BANKNIFTY, RELIANCE.NS, BTCUSDT, ...")
    q.add_argument(
        "--source",
        default="upstox",
        choices=sources,
        help="data source (default upstox)",
    )
    q.add_argument("--seconds", type=float, default=60.0, help="how long to run (wall seconds)")
    q.add_argument("--interval", default="1m", help="bar size: 1m, 5m, 15m, 1h (default 1m)")
    q.add_argument("--lookback", type=int, default=0, help="history bars to fetch first")
    q.add_argument(
        "--max-ticks-per-s", type=int, default=20, help="tick lines printed per second at most"
    )
    q.set_defaults(func=cmd_feed_test)


def _add_download(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "data",
        help="market data: download bars from a venue",
        description="Market data commands.",
    )
    dsub = p.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    q = dsub.add_parser(
        "download",
        help="download historical bars into the local cache (data/<source>/...)",
        description="Download historical bars from a venue into the local cache: only "
        "missing dates are fetched, the merged bars are checked (quality report). Bars are "
        "labelled by their END time; dates are exchange trading dates, inclusive.",
    )
    q.add_argument("symbols", nargs="+", metavar="SYMBOL", help="RELIANCE, RELIANCE.NS, ...")
    q.add_argument(
        "--source",
        default="upstox",
        choices=venues.download_sources(),
        help="data venue (default upstox)",
    )
    q.add_argument(
        "--interval",
        default=None,
        help="bar size: 1m, 5m, 30m, 1h, 1d, ... (default: the venue's; upstox 1m, yahoo 1d)",
    )
    q.add_argument(
        "--from",
        dest="date_from",
        default=None,
        help="first date, YYYY-MM-DD (default: the venue's; upstox 30 days, yahoo 1d 20 years)",
    )
    q.add_argument(
        "--to",
        dest="date_to",
        default=None,
        help="last date, YYYY-MM-DD (default: today, completed bars only)",
    )
    q.add_argument("--exchange", default="NSE", help="exchange of bare symbols (default NSE)")
    q.add_argument("--cache-dir", help="cache folder (default data/<source>/...)")
    q.add_argument("--out", help="also write one CSV per symbol into this folder")
    q.add_argument("--no-cache", action="store_true", help="fetch everything, touch no cache")
    q.add_argument(
        "--offline-instruments",
        action="store_true",
        help="Upstox: use the cached instruments master whatever its age",
    )
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_data_download)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``feed-test`` and ``data download`` on the ``mixbot`` sub-parsers."""
    _add_feed_test(sub)
    _add_download(sub)

"""CLI sub-commands for Upstox: ``mixbot upstox login`` and ``mixbot data download``.

Wire into the main parser with :func:`add_parsers` (``sub`` = the ``mixbot`` sub-parsers).

Examples::

    mixbot upstox login                    # prints the login URL, then paste the redirect URL
    mixbot upstox login --listen           # catches the redirect on 127.0.0.1:<port>
    mixbot upstox status                   # is the saved token still valid?
    mixbot data download --source upstox RELIANCE "NIFTY 50" --interval 1m \\
        --from 2025-01-01 --to 2025-03-31
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG_LOGIN = """environment:
  UPSTOX_API_KEY, UPSTOX_API_SECRET   your app's key and secret (account.upstox.com/developer/apps)
  UPSTOX_REDIRECT_URI                 the redirect URL registered for the app
  MIXBOT_UPSTOX_TOKEN_FILE            token file (default ~/.config/mixbot/upstox_token.json)

Tokens expire at 03:30 IST every day: log in again each trading day.
"""


def cmd_upstox_login(args: argparse.Namespace) -> int:
    from mixbot.venues.upstox import auth

    creds = auth.credentials()
    state = auth.new_state()
    url = auth.login_url(creds.api_key, creds.redirect_uri, state)
    print("Open this URL in a browser and log in to Upstox:\n")
    print(f"  {url}\n")
    if args.open:
        import webbrowser

        webbrowser.open(url)
    if args.code:
        code = auth.extract_code(args.code, state=None)
    elif args.listen:
        print(
            f"waiting for the redirect to {creds.redirect_uri} (up to {args.timeout:.0f} s)...",
            file=sys.stderr,
        )
        code = auth.listen_for_code(creds.redirect_uri, state, timeout=args.timeout)
    else:
        print(
            "Then paste the full URL you were redirected to (or just its code) and press Enter:",
            file=sys.stderr,
        )
        line = sys.stdin.readline()
        code = auth.extract_code(line, state)
    stored = auth.login_with_code(code, creds)
    who = (
        f" for {stored.user_name or stored.user_id}" if (stored.user_name or stored.user_id) else ""
    )
    print(
        f"saved the Upstox access token{who} to {auth.token_path()} "
        f"(valid until {stored.expires_at.astimezone(auth.IST):%Y-%m-%d %H:%M} IST)"
    )
    return 0


def cmd_upstox_status(args: argparse.Namespace) -> int:
    from mixbot.venues.upstox import auth

    try:
        stored = auth.load_token()
    except FileNotFoundError:
        print(f"no token file at {auth.token_path()}: run `mixbot upstox login`")
        return 2
    left = stored.remaining()
    hours, rem = divmod(int(left.total_seconds()), 3600)
    print(
        f"token of {stored.user_name or stored.user_id or 'unknown user'} valid until "
        f"{stored.expires_at.astimezone(auth.IST):%Y-%m-%d %H:%M} IST ({hours} h {rem // 60} min)"
    )
    if stored.warning:
        print(f"warning: {stored.warning}", file=sys.stderr)
    _print_static_ip()
    return 0


def _print_static_ip() -> None:
    import os

    from mixbot.venues.upstox.http import hosts
    from mixbot.venues.upstox.static_ip import describe, outbound_addresses

    local = os.environ.get(hosts.API_ENV)
    if local:
        print(f"orders go to {local} ({hosts.API_ENV}), not to Upstox")
    for line in describe(outbound_addresses()):
        print(line)


def cmd_data_download(args: argparse.Namespace) -> int:
    """``mixbot data download --source upstox`` (namespace of :mod:`mixbot.venues.commands`):
    V3 candles of each symbol into the cache, a summary table; exit status 0."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from mixbot.venues.upstox.data.candles import fetch_bars, parse_interval, sanitise_key
    from mixbot.venues.upstox.http.client import UpstoxClient
    from mixbot.venues.upstox.instruments import InstrumentMaster

    interval = parse_interval(args.interval or "1m")
    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    console = Console(stderr=True)
    show = not args.no_progress and sys.stderr.isatty()
    table = Table(title=f"Upstox {interval.unit} {interval.value} bars", header_style="bold")
    for col in ("symbol", "instrument key", "bars", "first end (UTC)", "last end (UTC)"):
        table.add_column(col)
    with UpstoxClient() as client:
        master = InstrumentMaster.load(
            [args.exchange] if args.exchange in ("NSE", "BSE") else ["complete"],
            client=client,
            offline=args.offline_instruments,
        )
        instruments = [(s, master.resolve(s, exchange=args.exchange)) for s in args.symbols]
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=not show,
        ) as progress:
            for symbol, ins in instruments:
                task = progress.add_task(f"{symbol} ({ins.instrument_key})", total=None)

                def tick(done: int, total: int, task: Any = task) -> None:
                    progress.update(task, completed=done, total=max(total, 1))

                frame = fetch_bars(
                    client,
                    ins.instrument_key,
                    interval,
                    args.date_from,
                    args.date_to,
                    cache=not args.no_cache,
                    cache_dir=cache_dir,
                    progress=tick,
                )
                first = f"{frame.index[0]:%Y-%m-%d %H:%M}" if len(frame) else "-"
                last = f"{frame.index[-1]:%Y-%m-%d %H:%M}" if len(frame) else "-"
                table.add_row(symbol, ins.instrument_key, f"{len(frame):,}", first, last)
                if args.out:
                    out_dir = Path(args.out)
                    out_dir.mkdir(parents=True, exist_ok=True)
                    target = (
                        out_dir
                        / f"{sanitise_key(ins.trading_symbol or ins.instrument_key)}_{interval.label}.csv"
                    )
                    export = frame.copy()
                    export.index = export.index.tz_localize("UTC")
                    export.to_csv(target, date_format="%Y-%m-%dT%H:%M:%S%z")
                    console.print(f"wrote {target}")
    Console().print(table)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``upstox login|status`` on the ``mixbot`` sub-parsers (``data download
    --source upstox`` is :func:`cmd_data_download`, through :mod:`mixbot.venues.commands`)."""
    p = sub.add_parser(
        "upstox",
        help="Upstox account: log in (daily access token), token status",
        description="Upstox account commands.",
    )
    usub = p.add_subparsers(dest="upstox_command", metavar="COMMAND", required=True)
    q = usub.add_parser(
        "login",
        help="log in to Upstox and save today's access token",
        description="Print the Upstox login URL, take the authorization code (pasted, or caught "
        "on the local redirect with --listen), exchange it for an access token and save it "
        "(mode 0600).",
        epilog=EPILOG_LOGIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument(
        "--listen",
        action="store_true",
        help="catch the redirect on 127.0.0.1:<port of UPSTOX_REDIRECT_URI> instead of pasting",
    )
    q.add_argument("--timeout", type=float, default=300.0, help="seconds to wait with --listen")
    q.add_argument("--code", help="the authorization code (or redirect URL), skips the prompt")
    q.add_argument("--open", action="store_true", help="open the URL in the default browser")
    q.set_defaults(func=cmd_upstox_login)
    q = usub.add_parser("status", help="show whether the saved token is valid and until when")
    q.set_defaults(func=cmd_upstox_status)

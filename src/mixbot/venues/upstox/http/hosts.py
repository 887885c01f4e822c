"""Where the Upstox API lives, and how TLS is verified.

Every Upstox URL mixbot uses is derived from two bases, so pointing them at the local
simulator (``mixbot upstox-sim``) points everything, including the market-data websocket,
whose URL the ``/v3/feed/market-data-feed/authorize`` call returns:

* ``MIXBOT_UPSTOX_API`` (default ``https://api.upstox.com``): REST (login, candles, quotes,
  feed authorize, orders);
* ``MIXBOT_UPSTOX_ASSETS`` (default ``https://assets.upstox.com``): the instruments master files.

TLS certificates are ALWAYS verified (unlike the SDK's feeder, which turns verification off):
against the system/certifi trust store, plus the CA bundle named by
``MIXBOT_UPSTOX_CA_BUNDLE`` when set (the simulator writes its own CA there).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

API_ENV = "MIXBOT_UPSTOX_API"
ASSETS_ENV = "MIXBOT_UPSTOX_ASSETS"
CA_ENV = "MIXBOT_UPSTOX_CA_BUNDLE"
TOKEN_ENV = "UPSTOX_ACCESS_TOKEN"
API_KEY_ENV = "UPSTOX_API_KEY"
API_SECRET_ENV = "UPSTOX_API_SECRET"
REDIRECT_ENV = "UPSTOX_REDIRECT_URI"

DEFAULT_API = "https://api.upstox.com"
DEFAULT_ASSETS = "https://assets.upstox.com"


def api_base() -> str:
    """Base URL of the REST API, without a trailing slash."""
    return os.environ.get(API_ENV, DEFAULT_API).rstrip("/")


def assets_base() -> str:
    """Base URL of the instruments master files, without a trailing slash."""
    return os.environ.get(ASSETS_ENV, DEFAULT_ASSETS).rstrip("/")


def ca_bundle() -> Path | None:
    """Extra CA bundle to trust (the simulator's), or None."""
    value = os.environ.get(CA_ENV)
    return Path(value).expanduser() if value else None


def ssl_context() -> ssl.SSLContext:
    """A client TLS context with certificate AND host-name verification on.

    Trusts the default store (and certifi's, when installed) plus :func:`ca_bundle`.

    Raises:
        FileNotFoundError: ``MIXBOT_UPSTOX_CA_BUNDLE`` names a file that does not exist.
    """
    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(certifi.where())
    except Exception:  # certifi is optional: the system store is used then
        pass
    extra = ca_bundle()
    if extra is not None:
        if not extra.is_file():
            raise FileNotFoundError(f"{CA_ENV}={extra}: no such file")
        ctx.load_verify_locations(str(extra))
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx

"""Where yfinance's requests go: the redirecting curl_cffi session and yfinance's own caches.

yfinance 1.x builds its URLs from module constants (``yfinance.const._BASE_URL_`` =
``https://query2.finance.yahoo.com``, ``_QUERY1_URL_``, and literal ``https://fc.yahoo.com``,
``https://guce.yahoo.com/consent``, ``https://consent.yahoo.com/...`` in ``yfinance/data.py``),
so a local server is reached by handing yfinance a session that rewrites those URLs.
yfinance 1.7.0 accepts only a ``curl_cffi.requests.Session`` or a ``requests.Session``
(``yfinance/_http.py: is_supported_session``) and refuses one with an active ``cache``
(``YfData._set_session``); it prefers curl_cffi (browser TLS impersonation), so
:class:`YahooSession` subclasses ``curl_cffi.requests.Session`` and rewrites the URL in
:meth:`YahooSession.request`, the one method every ``get``/``post`` goes through.

Target: ``MIXBOT_YAHOO_API`` (e.g. ``http://127.0.0.1:8765``, what ``mixbot yahoo-sim``
prints) or the config's ``yahoo.api``; when neither is set the session talks to Yahoo itself.
With a target set, EVERY ``https://<anything>.yahoo.com`` URL is rewritten (the path and
query are kept), so nothing reaches the internet by accident.

yfinance keeps state on disk (the ticker -> time-zone cache ``tkr-tz.db``, the cookie cache
``cookies.db``, ISIN cache): :func:`configure_yfinance` moves it to mixbot's own folder
(``MIXBOT_YAHOO_CACHE``, default ``data/yahoo/yfinance``; a ``sim/`` sub-folder while a
local target is set, so simulator cookies and time zones never mix with Yahoo's), and turns
off yfinance's habit of logging exceptions instead of raising them
(``yf.config.debug.hide_exceptions = False``, process-wide).
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from curl_cffi import requests as curl_requests

#: Environment variable: base URL that replaces every Yahoo host (the simulator's).
API_ENV = "MIXBOT_YAHOO_API"
#: Environment variable: folder of yfinance's on-disk caches (time zones, cookies).
CACHE_ENV = "MIXBOT_YAHOO_CACHE"
DEFAULT_YF_CACHE = Path("data") / "yahoo" / "yfinance"

_YAHOO_URL = re.compile(r"^https?://(?:[A-Za-z0-9-]+\.)*yahoo\.com(?=[/?]|$)", re.IGNORECASE)
_lock = threading.Lock()
_session: YahooSession | None = None
_cache_dir: str | None = None


def api_base(override: str | None = None) -> str | None:
    """The local target: ``override`` (config ``yahoo.api``), else ``$MIXBOT_YAHOO_API``, else
    None (Yahoo itself). Trailing slashes are dropped.

    Raises:
        ValueError: the value is not an ``http(s)://host[:port]`` URL.
    """
    base = (override or os.environ.get(API_ENV) or "").strip().rstrip("/")
    if not base:
        return None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{API_ENV}={base!r}: expected http(s)://host[:port]")
    return base


def rewrite(url: str, base: str | None) -> str:
    """``url`` with its ``https://*.yahoo.com`` scheme and host replaced by ``base`` (path and
    query kept); unchanged when ``base`` is None or the URL is not Yahoo's."""
    if base is None:
        return url
    return _YAHOO_URL.sub(base, url, count=1)


class YahooSession(curl_requests.Session):  # type: ignore[type-arg]
    """A curl_cffi session (browser impersonation ``chrome``) rewriting Yahoo URLs.

    ``base``: a fixed target; None = read ``$MIXBOT_YAHOO_API`` at each request (so a test
    or a shell that sets it later is obeyed). :attr:`requests` counts the requests made.
    """

    def __init__(self, base: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("impersonate", "chrome")
        super().__init__(**kwargs)
        self.base = base
        self.requests = 0

    def target(self) -> str | None:
        """The base URL requests go to now (None: Yahoo)."""
        return self.base or api_base()

    def request(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        """Rewrite ``url`` (see the class doc), then curl_cffi's ``request``."""
        self.requests += 1
        return super().request(method, rewrite(url, self.target()), *args, **kwargs)


def configure_yfinance(cache_dir: str | Path | None = None) -> Path:
    """Point yfinance's on-disk caches at mixbot's folder and make it raise its errors.

    ``cache_dir``: default ``$MIXBOT_YAHOO_CACHE`` or ``data/yahoo/yfinance`` (relative to
    the working directory), plus ``sim/`` while a local target is set. Idempotent; switching
    folders drops yfinance's open cache handles. Returns the folder used.
    """
    import yfinance as yf
    from yfinance import cache as yf_cache

    global _cache_dir
    root = Path(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_YF_CACHE)
    folder = (root / "sim") if api_base() else root
    folder.mkdir(parents=True, exist_ok=True)
    with _lock:
        if _cache_dir != str(folder.resolve()):
            yf_cache.set_cache_location(
                str(folder)
            )  # = yf.set_tz_cache_location: tz, cookies, ISINs
            # the cache objects keep their database handle once opened: start them again
            yf_cache._TzCacheManager._tz_cache = None
            yf_cache._CookieCacheManager._Cookie_cache = None
            _cache_dir = str(folder.resolve())
        yf.config.debug.hide_exceptions = False
        # yfinance 1.7.0 calls pandas APIs deprecated in pandas 3 (inplace=...): not ours to fix
        warnings.filterwarnings("ignore", category=FutureWarning, module="yfinance")
        warnings.filterwarnings("ignore", message=".*inplace.*", module="yfinance")
    return folder


def yahoo_session(base: str | None = None) -> YahooSession:
    """The process-wide :class:`YahooSession` (yfinance's ``YfData`` is a singleton: one
    session, one cookie and crumb per process), its fixed target set to ``base`` when given.
    Clears yfinance's in-memory response cache (``YfData.cache_get``), which is keyed by the
    Yahoo URL and would otherwise answer for another target."""
    from yfinance.data import YfData

    global _session
    with _lock:
        if _session is None:
            _session = YahooSession(base)
        elif base is not None:
            _session.base = base
        YfData.cache_get.cache_clear()
        return _session

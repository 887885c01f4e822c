"""The web GUI and REST API of ``mixbot serve`` (Flask).

Every page and endpoint is a thin adapter over :class:`mixbot.service.bots.BotService` (the
calls the CLI and Telegram make); live updates come from the event bus (the store's outbox).
Templates and static files live in the top-level ``webgui/`` folder; the chart library
(plotly.js) is served from the installed ``plotly`` package, never from a CDN.

- :mod:`mixbot.web.app`: the app factory (security headers, CSRF, rate limits, logins)
- :mod:`mixbot.web.users`: users, password hashes, roles and API bearer tokens
- :mod:`mixbot.web.fleet`: the bots one app serves, their dashboard rows and chart data
- :mod:`mixbot.web.api` / :mod:`mixbot.web.schemas`: the REST API under ``/api/v1/``
- :mod:`mixbot.web.pages`: the HTML pages
- :mod:`mixbot.web.stream`: server-sent events fed by the event bus
- :mod:`mixbot.web.metrics`: ``/metrics`` (Prometheus) and ``/healthz``
- :mod:`mixbot.web.server`: the waitress server thread inside ``mixbot serve``
"""

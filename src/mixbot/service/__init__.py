"""The service layer: the one place where operations on bots exist.

The CLI calls it now; the REST API, the web GUI and Telegram call the same functions next.
Results are typed (dataclasses, JSON-able through :func:`dataclasses.asdict`); nothing here
prints. See :class:`mixbot.service.bots.BotService`.
"""

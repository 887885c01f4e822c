"""Notifications: bus events rendered and delivered to Telegram and email from the durable
notification outbox (:mod:`mixbot.store.notifications`).

- :mod:`.rules`: which events go where (``notify_on`` in list or object form, destinations);
- :mod:`.render`: an event as a message (subject, plain text, HTML);
- :mod:`.email`: the SMTP sender (``smtplib``: STARTTLS, implicit TLS or none);
- :mod:`.dispatcher`: the router (bus -> outbox, exactly once) and the sender loop with
  retries, run inside ``mixbot serve``.
"""

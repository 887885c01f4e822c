"""The event bus: typed events (:mod:`mixbot.bus.events`) written to the store's ordered
outbox, and consumers that read them with their own cursor (:mod:`mixbot.bus.consumer`)."""

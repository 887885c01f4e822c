"""The Interactive Brokers venue (ib_async): registration in :mod:`.venue`."""

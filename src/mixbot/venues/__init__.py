"""Venues: one folder per broker/exchange connection (store + feed + broker shape)."""

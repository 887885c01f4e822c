"""Upstox: auth, REST client, instruments, candles, market-data websocket feed, local simulator."""

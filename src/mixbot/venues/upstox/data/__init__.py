"""Historical candles of the Upstox venue: the V3 candle API, its ranges and the local cache."""

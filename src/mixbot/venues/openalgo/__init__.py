"""The OpenAlgo bridge venue: broker ``openalgo`` and data source ``openalgo`` through the
official ``openalgo`` client (REST API v1 + JSON market-data websocket); see :mod:`.venue`."""

"""REST transport of the Upstox venue: client, hosts, errors, rate limits, order endpoints."""

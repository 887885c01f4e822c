"""Order execution of the Upstox venue: the order API, its rules and the Backtrader broker."""

"""mixbot: run JSON-configured Backtrader trading bots (Indian equities first, via Upstox)."""

__version__ = "0.1.0"

"""Risk: position sizing, entry limits (daily trades/loss, exposure, sessions), drawdown halt."""

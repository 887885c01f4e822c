"""Engine: config -> Cerebro (build), the backtest and run jobs, bot status, CLI commands."""

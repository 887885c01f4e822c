"""Backtest results: performance metrics over an equity curve and its closed trades."""

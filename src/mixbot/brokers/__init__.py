"""Broker-side models: Indian equity charges and the Backtrader commission scheme built on them."""

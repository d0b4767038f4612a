"""Compliance simulation and backtesting: what a policy pack would do, before it is active."""

"""Dagster assets and asset checks: thin wrappers that turn a trading-day partition into domain calls."""

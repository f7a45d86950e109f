"""Dagster resources that hand the domain its configured clients."""

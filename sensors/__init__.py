"""Dagster schedules and sensors for the daily simulation."""

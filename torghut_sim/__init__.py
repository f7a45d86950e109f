"""Historical trading-day simulation of the Torghut runtime: the domain layer (no Dagster imports)."""

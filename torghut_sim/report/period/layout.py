"""Where period reports live: `<output_root>/periods/<from>_<to>/`, beside the days' run directories."""

from __future__ import annotations

from datetime import date
from pathlib import Path

PERIODS_DIR = "periods"
PERIOD_JSON = "simulation-period-report.json"
PERIOD_MARKDOWN = "simulation-period-report.md"
CHARTS_DIR = "charts"
# The tables each period writes as CSV and Parquet (the catalog's `period_*` views read the Parquet).
PERIOD_DAYS = "period-days"
PERIOD_SYMBOLS = "period-symbols"
PERIOD_SYMBOL_DAYS = "period-symbol-days"


def period_id(from_date: date, to_date: date) -> str:
    """The name of a range: `<from>_<to>` (inclusive ISO dates)."""
    return f"{from_date.isoformat()}_{to_date.isoformat()}"


def period_dir(output_root: Path, from_date: date, to_date: date) -> Path:
    """Where a range's report goes by default."""
    return output_root / PERIODS_DIR / period_id(from_date, to_date)

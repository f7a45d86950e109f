"""The committed JSON Schema of the period report, generated from its model (`python -m` rewrites it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from torghut_sim.report.period.model import SimulationPeriodReport

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "simulation-period-report.v1.json"
SCHEMA_ID = "https://torghut.dev/schemas/simulation-period-report.v1.json"


def period_json_schema() -> dict[str, Any]:
    """The JSON Schema of a serialized period report."""
    schema = SimulationPeriodReport.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """The schema file's exact text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(period_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    """Rewrite the committed schema file from the model."""
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

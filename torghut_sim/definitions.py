"""The one Dagster `Definitions` of the torghut-sim code location."""

import dagster as dg

defs = dg.Definitions()

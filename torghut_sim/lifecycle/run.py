"""One trading day's simulation on the runtime, start to finish, under the run state machine.

preflight (verify the dump, snapshot production) → lock → Argo CD freeze → provision (ClickHouse, Postgres,
topics) → apply (TA + Knative) → ready → replay → monitor → export → teardown → Argo restore → unlock,
then the production side is compared with its snapshot. Cleanup always runs once the lock was taken;
`run-state.json` records every transition so a crashed run can be finished from its files.
"""

from __future__ import annotations

import logging

from torghut_sim.guards import guard_mutation, runtime_mutation
from torghut_sim.lifecycle.request import SimulationOutcome, SimulationRequest
from torghut_sim.lifecycle.steps import DaySteps
from torghut_sim.lifecycle.values import runtime_targets, simulation_values
from torghut_sim.runtime.controller import RuntimeController
from torghut_sim.runtime.inputs import RunIdentity
from torghut_sim.runtime.state_machine import RunStateLog, controller_phases, run_phases
from torghut_sim.stores.errors import ContaminationDetectedError

log = logging.getLogger(__name__)


def run_simulation_day(request: SimulationRequest) -> SimulationOutcome:
    """Run one day's simulation on the runtime; every mutation is restored before this returns or raises."""
    manifest, names = request.manifest, request.names
    conns = request.connections
    values = simulation_values(manifest, names, conns)
    guard_mutation(
        runtime_mutation(
            "simulation",
            names.run_id,
            names.run_token,
            manifest.runtime.torghut_service,
            values.ta_config,
            values.torghut_env,
            conns.clickhouse_database,
            conns.postgres_database,
            manifest.window,
        )
    )
    cluster = request.cluster()
    controller: RuntimeController | None = None
    try:
        controller = RuntimeController(
            cluster.kube,
            request.paths,
            runtime_targets(manifest),
            RunIdentity(names.run_id, names.run_token, manifest.dataset_id, request.owner),
            values,
            request.control,
            argocd=cluster.argocd,
        )
        day = DaySteps(request, conns, controller)
        phases = controller_phases(
            controller,
            preflight=day.preflight,
            provision=day.provision,
            replay=day.replay,
            monitor=day.monitor,
            export=day.export,
        )
        try:
            run = run_phases(phases, RunStateLog(request.paths.run_state, names.run_id))
        except BaseException:
            # The failure is what the caller must see; the check still leaves its evidence on disk.
            try:
                day.check_contamination()
            except Exception:
                log.exception("contamination check after a failed run")
            raise
        try:
            status = day.check_contamination()
        except ContaminationDetectedError as exc:
            if request.raise_on_contamination:
                raise
            log.warning("production contamination: %s", exc)
            status = "contaminated"
    finally:
        if controller is not None:
            # A lock left held (restore failed) goes silent now, so the stale-lock sensor takes it over.
            controller.stop_heartbeat()
        cluster.close()
    parts = day.outcome_parts
    return SimulationOutcome(
        run=run,
        replay=parts.get("replay"),
        monitor=parts.get("monitor"),
        monitor_result=parts.get("monitor_result"),
        export=parts.get("export"),
        deltas=parts.get("deltas", []),
        contamination_status=status,
    )

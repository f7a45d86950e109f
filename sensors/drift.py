"""The drift sensor: while no simulation holds a runtime lane, report how it differs from its baseline.

The comparison is the domain's (`torghut_sim.runtime.drift`); the sensor runs it per idle lane, writes
each lane's report beside the run directories and shows one line per lane on its tick.
"""

import dagster as dg

from resources import ArgoCdResource, SimulationConfigResource
from torghut_sim.runtime.drift import drift_report, write_drift_report


@dg.sensor(
    name="runtime_drift",
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Report runtime and Argo CD fields that differ from the last captured baseline.",
)
def runtime_drift_sensor(
    context: dg.SensorEvaluationContext,
    simulation_config: SimulationConfigResource,
    argocd: ArgoCdResource,
) -> dg.SkipReason:
    """Check each idle runtime lane against its baseline; write runtime-drift[-<lane>].json by the runs."""
    output_root = simulation_config.output_dir
    lanes = simulation_config.lanes()
    # One lane: the namespace of the Kubernetes resource, reported as runtime-drift.json as it always was.
    default = [(None, argocd.kubernetes.namespace)]
    targets = [(lane.name, lane.namespace) for lane in lanes] if lanes else default
    lines: list[str] = []
    with argocd.cluster() as cluster:
        for name, namespace in targets:
            report = drift_report(cluster.kube, namespace, output_root, cluster.argocd)
            if report.lock_holder is None:
                write_drift_report(output_root, name, report)
            line = report.summary() if name is None else f"{name}: {report.summary()}"
            if report.drifted:
                context.log.warning(line)
            lines.append(line)
    return dg.SkipReason(" | ".join(lines))

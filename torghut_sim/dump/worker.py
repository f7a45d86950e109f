"""Dump worker processes: each reads a share of the partitions into sorted runs for the parent to merge.

Consumption and line building are Python-bound and hold the GIL, so a second core only helps in a
second process. Each worker has its own group-less consumer over its partitions, spills everything it
keeps as sorted runs (cut on the parent's grid) into the parent's run directory, and sends back the
runs and its partition counters; the parent merges all runs and writes the file. Progress is shared
through a counter; errors travel back as (message, reason), never as pickled exceptions.
"""

from __future__ import annotations

import multiprocessing
import traceback
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from confluent_kafka import Consumer, KafkaException

from torghut_sim.dump.consume import DumpTuning, PartitionState, consume_partitions, dump_consumer_config
from torghut_sim.dump.errors import DumpError
from torghut_sim.dump.merge import ExternalSorter, RunFile
from torghut_sim.kafka.connection import KafkaConnection
from torghut_sim.kafka.progress import Progress, ProgressCallback, ProgressTracker


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs: its partitions (with their encoders), the window and the grid."""

    connection: KafkaConnection
    tuning: DumpTuning
    states: list[PartitionState]
    window_ms: tuple[int, int]
    run_dir: Path
    run_prefix: str
    boundaries: list[bytes]


@dataclass
class WorkerResult:
    """The worker's partitions with their counters, its runs, or the error that stopped it."""

    states: list[PartitionState] = field(default_factory=list)
    skipped: int = 0
    runs: list[RunFile] = field(default_factory=list)
    records: int = 0
    error: tuple[str, str] | None = None


def split_partitions(states: list[PartitionState], workers: int) -> list[list[PartitionState]]:
    """Partitions dealt to `workers` groups, largest first to the lightest group (by expected records)."""
    groups: list[list[PartitionState]] = [[] for _ in range(max(workers, 1))]
    loads = [0] * len(groups)
    for state in sorted(states, key=lambda s: s.end - s.start, reverse=True):
        lightest = loads.index(min(loads))
        groups[lightest].append(state)
        loads[lightest] += state.end - state.start
    return [group for group in groups if group]


def run_worker(job: WorkerJob, pipe: Connection, seen: Synchronized[int]) -> None:
    """Process entry point: consume, spill, report."""
    try:
        pipe.send(_work(job, seen))
    except DumpError as exc:
        pipe.send(WorkerResult(error=(exc.message, exc.reason)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        detail = "".join(traceback.format_exception_only(exc)).strip()
        message = f"dump worker {job.run_prefix} failed: {detail}"
        pipe.send(WorkerResult(error=(message, "dump_worker_failed")))
    finally:
        pipe.close()


def _work(job: WorkerJob, seen: Synchronized[int]) -> WorkerResult:
    def report(progress: Progress) -> None:
        seen.value = progress.records

    try:
        consumer = Consumer(dump_consumer_config(job.connection, job.tuning))
    except KafkaException as exc:
        raise DumpError(f"cannot create a consumer: {exc}", reason="kafka_connection_invalid") from None
    sorter = ExternalSorter(job.run_dir, job.boundaries, run_prefix=job.run_prefix, shared_dir=True)
    try:
        chunk, skipped = consume_partitions(
            consumer, job.states, job.window_ms, sorter, None, None, job.tuning, report
        )
        sorter.spill(chunk)
    finally:
        consumer.close()
        sorter.close()  # closes the read handles only: the files belong to the parent's sorter
    return WorkerResult(job.states, skipped, sorter.export(), sorter.spilled_records)


def spawn_context() -> multiprocessing.context.SpawnContext:
    """Workers are spawned, never forked: the parent may run threads (Dagster, the Kafka client)."""
    return multiprocessing.get_context("spawn")


def consume_in_workers(
    connection: KafkaConnection,
    tuning: DumpTuning,
    states: list[PartitionState],
    window_ms: tuple[int, int],
    sorter: ExternalSorter,
    progress: ProgressCallback | None,
) -> tuple[list[PartitionState], int]:
    """Read the partitions in worker processes whose runs `sorter` adopts; their counters and skips."""
    groups = split_partitions(states, tuning.workers)
    context = spawn_context()
    # The memory budget of the chunk and the batch is shared by the workers.
    worker_tuning = replace(
        tuning,
        chunk_bytes=max(tuning.chunk_bytes // len(groups), 1),
        consume_batch=max(tuning.consume_batch // len(groups), 1),
    )
    tracker = ProgressTracker("dump", progress, total=sum(s.end - s.start for s in states))
    workers: list[tuple[BaseProcess, Connection, Synchronized[int]]] = []
    results: dict[int, WorkerResult] = {}
    failed = True
    try:
        for index, group in enumerate(groups):
            receiver, sender = context.Pipe(duplex=False)
            seen = context.Value("q", 0)
            job = WorkerJob(
                connection, worker_tuning, group, window_ms, sorter.directory, f"w{index}", sorter.boundaries
            )
            process = context.Process(
                target=run_worker, args=(job, sender, seen), name=f"dump-worker-{index}", daemon=True
            )
            process.start()
            sender.close()
            workers.append((process, receiver, seen))
        while len(results) < len(workers):
            waiting = {id(w[1]): i for i, w in enumerate(workers) if i not in results}
            for ready in wait([workers[i][1] for i in waiting.values()], timeout=0.5):
                index = waiting[id(ready)]
                try:
                    result: WorkerResult = workers[index][1].recv()
                except EOFError:
                    workers[index][0].join(5)
                    code = workers[index][0].exitcode
                    message = f"dump worker {index} died (exit code {code})"
                    result = WorkerResult(error=(message, "dump_worker_failed"))
                if result.error is not None:
                    raise DumpError(*result.error)
                results[index] = result
            tracker.update(sum(int(w[2].value) for w in workers))
        failed = False
    finally:
        for worker, receiver, _seen in workers:
            if failed and worker.is_alive():
                worker.terminate()
            worker.join(10)
            receiver.close()
    for result in results.values():
        sorter.adopt(result.runs, result.records)
    order = {s.label: i for i, s in enumerate(states)}
    done = sorted((s for r in results.values() for s in r.states), key=lambda s: order[s.label])
    tracker.finish(sum(s.seen for s in done))
    return done, sum(r.skipped for r in results.values())

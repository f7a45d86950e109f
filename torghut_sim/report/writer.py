"""Writing the report bundle: CSV and Parquet tables, charts, then the Markdown and the JSON last."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from torghut_sim.report.errors import ReportError
from torghut_sim.report.inputs import file_sha256
from torghut_sim.report.model import ArtifactFile, SimulationReport

JSON_NAME = "simulation-report.json"
MARKDOWN_NAME = "simulation-report.md"
# The contract's CSV tables (also written as Parquet for DuckDB), then the extra tables.
TABLE_NAMES = ("trade-pnl", "execution-latency", "llm-review-summary", "equity-curve", "report-summary")


# CSV timestamps: ISO `Z` text, formatted by the CSV writer itself (in UTC, see `_csv_ready`).
CSV_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals without padding zeros and timestamps in UTC, so the CSV reads well and exactly."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Decimal):
            text = column.cast(pl.String)
            if (dtype.scale or 0) > 0:
                # The text always has the point here, so stripping stops at it; plain strips, not regexes.
                # A decimal zero is the integer 0, which has no sign: no "-0" can come out of this.
                text = text.str.strip_chars_end("0").str.strip_chars_end(".")
            exprs.append(text.alias(name))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            # The writer formats naive times without a zone lookup per value (a fifth faster); the
            # format's literal `Z` says they are UTC.
            if dtype.time_zone != "UTC":
                column = column.dt.convert_time_zone("UTC")
            exprs.append(column.dt.replace_time_zone(None).alias(name))
        else:
            exprs.append(column)
    return frame.select(exprs)


def _write_csv(frame: pl.DataFrame, path: Path) -> str:
    _csv_ready(frame).write_csv(path, line_terminator="\n", datetime_format=CSV_DATETIME_FORMAT)
    return file_sha256(path)


def _write_parquet(frame: pl.DataFrame, path: Path) -> str:
    frame.write_parquet(path, compression="lz4", statistics=True)
    return file_sha256(path)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)


def write_markdown_and_json(markdown_path: Path, markdown: str, json_path: Path, report: BaseModel) -> None:
    """The Markdown, then the report's JSON (its presence means the bundle is complete); OSError passes."""
    _atomic_write(markdown_path, markdown)
    _atomic_write(json_path, report.model_dump_json(indent=2) + "\n")


class TableWriter:
    """Writes each table as `<name>.csv` and `<name>.parquet` as soon as it is handed over.

    Two files at a time on worker threads: polars' writers and hashlib release the GIL, so the files of
    one table are written while the next sections are computed. Each file is written under a hidden
    temporary name and renamed into place by `artifacts`, once every file is written: a failed build
    calls `discard`, which removes what the writer made and leaves an earlier bundle as it was."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report-write")
        self.jobs: dict[str, list[tuple[Path, str, int, Future[str]]]] = {}
        self.made_dirs: list[Path] = []

    def submit(self, name: str, frame: pl.DataFrame) -> None:
        """Queue the table's two files."""
        if not self.jobs:
            # Noted before they are made, innermost first, so that `discard` knows what is its own.
            self.made_dirs = list(
                itertools.takewhile(lambda d: not d.exists(), (self.out_dir, *self.out_dir.parents))
            )
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _write_failed(self.out_dir, exc) from exc
        self.jobs[name] = [
            (path, role, frame.height, self.pool.submit(writer, frame, _temporary(path)))
            for path, role, writer in (
                (self.out_dir / f"{name}.csv", "csv", _write_csv),
                (self.out_dir / f"{name}.parquet", "parquet", _write_parquet),
            )
        ]

    def artifacts(self, names: Sequence[str]) -> list[ArtifactFile]:
        """The artifact entries of the named tables in that order (waits for their files)."""
        try:
            entries = [
                ArtifactFile(name=path.name, role=role, rows=rows, sha256=job.result())
                for name in names
                for path, role, rows, job in self.jobs[name]
            ]
            for path, _, _, _ in (job for name in names for job in self.jobs[name]):
                os.replace(_temporary(path), path)
        except OSError as exc:
            raise _write_failed(self.out_dir, exc) from exc
        finally:
            self.pool.shutdown(wait=False)
        return entries

    def discard(self) -> None:
        """After a failed build: wait for the queued writes and remove what they and this writer made."""
        self.pool.shutdown(wait=True)
        for path, _, _, _ in (job for jobs in self.jobs.values() for job in jobs):
            _temporary(path).unlink(missing_ok=True)
        for made in self.made_dirs:  # innermost first; a directory something else wrote to stays
            if any(made.iterdir()):
                break
            made.rmdir()


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _write_failed(out_dir: Path, exc: OSError) -> ReportError:
    return ReportError(f"cannot write report tables to {out_dir}: {exc}", reason="report_write_failed")


def write_tables(out_dir: Path, tables: dict[str, pl.DataFrame]) -> list[ArtifactFile]:
    """Each table as `<name>.csv` and `<name>.parquet`; returns their artifact entries in table order."""
    writer = TableWriter(out_dir)
    try:
        for name, frame in tables.items():
            writer.submit(name, frame)
        return writer.artifacts(list(tables))
    except BaseException:
        writer.discard()
        raise


def chart_artifact(out_dir: Path, path: Path) -> ArtifactFile:
    """The artifact entry of a rendered chart."""
    return ArtifactFile(
        name=path.relative_to(out_dir).as_posix(), role="chart", rows=None, sha256=file_sha256(path)
    )


def write_report(out_dir: Path, report: SimulationReport, markdown: str) -> tuple[Path, Path]:
    """The Markdown, then the JSON (its presence means the bundle is complete)."""
    json_path = out_dir / JSON_NAME
    markdown_path = out_dir / MARKDOWN_NAME
    try:
        write_markdown_and_json(markdown_path, markdown, json_path, report)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {out_dir}: {exc}", reason="report_write_failed"
        ) from exc
    return json_path, markdown_path

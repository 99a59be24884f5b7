"""Ingest as one Spark job: a task per Zscaler file, one task for the Airflow locations.

Each task runs zsaudit's own ingester (ingest.zscaler / ingest.airflow: the same parsers, ledger,
rejects and line numbers as `zsaudit ingest`) into a scratch DuckDB file on the executor, then
writes the scratch store's rows to the lake as the parts of one unit, ledger last
(Lake.export_unit). A unit already in the lake is not read again; a task run twice (its executor
was lost) writes the same file names again, so nothing is loaded twice.

A task keeps busy the cores Spark gave it (spark.task.cpus), no more: the ingester's workers are
those cpus, or `[ingest] workers` when it is fewer (task_workers); a 1-cpu task stages and writes
each batch of its file in turn (zscaler_batch.stage_in_order), where the one-file ingest would
otherwise stage on two threads beside its writer and use two cores of a one-slot executor.

The Airflow locations stay one task: attempts are merged across their sources (metadata DB, task
logs, exports) as they are read, which needs them together. Each record once: a task's anti-join
keeps a record once within its file; across files the store's load does it, in input order
(Lake.load_into: a record already loaded from another unit is a duplicate, as on one machine, and
analysis leaves it out of the lake's rows).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

from .. import queries
from ..config import Config
from ..ingest.ledger import FileResult, sha256_file
from ..ingest.sources import is_remote
from ..lake import LEDGER, Lake, zscaler_unit
from ..store import Store


def task_workers(configured: int | None) -> int:
    """The ingest workers of this Spark task: its cpus (spark.task.cpus; 1 outside a task), or
    `configured` (`[ingest] workers`) when fewer. Polars' and Arrow's pools are sized to match
    (Polars reads POLARS_MAX_THREADS when first imported: an executor's Python may have it already)."""
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        cpus = max(1, int(ctx.cpus())) if ctx is not None else None
    except (ImportError, AttributeError):   # no PySpark here; a PySpark before 3.3 (no cpus())
        ctx, cpus = None, None
    n = min(cpus or 1, configured) if configured else (cpus or 1)
    if ctx is not None:          # an executor's Python: its pools are the task's (never the driver's)
        os.environ.setdefault("POLARS_MAX_THREADS", str(n))
        import pyarrow

        pyarrow.set_cpu_count(n)
    return n


def _zscaler_unit(lake_root: str, path: str, fmt: str, fields: str | None, tz: str,
                  configured_workers: int | None = None) -> tuple[list, list[str]]:
    workers = task_workers(configured_workers)
    from ..ingest import zscaler

    lake = Lake.at(lake_root)
    if not is_remote(path):
        sha = sha256_file(path)
        # in the lake from this path (or as a unit named by its content alone, before units named
        # their path): skipped. From another path it is ingested again, and the store's load,
        # which knows the input order, skips whichever copy comes second (Lake.load_into).
        if lake.has_unit("zscaler", zscaler_unit(sha, path)) or lake.has_unit("zscaler", sha):
            return [FileResult(path=path, sha256=sha, skipped=True)], []
    with tempfile.TemporaryDirectory(prefix="zsaudit-unit-") as tmp, Store(Path(tmp) / "unit.duckdb") as store:
        errors: list[str] = []
        try:
            results = zscaler.ingest_paths(store, [path], fmt=fmt, fields=fields, tz=tz, workers=workers)
        except zscaler.IngestErrors as exc:     # refused, or unreadable: the night goes on
            results, errors = exc.results, str(exc).splitlines()
        shas = [sha for _, sha in queries.cursor(store.con, "spark/ledger_files").fetchall()]
        if len(shas) == 1 and not lake.has_unit("zscaler", zscaler_unit(shas[0], path)):
            lake.export_unit(store.con, "zscaler", zscaler_unit(shas[0], path))
        return results, errors


def _airflow_unit(lake_root: str, paths: list[str], template: str | None, tz: str, api_kwargs: dict,
                  configured_workers: int | None = None) -> tuple[list, list[str]]:
    workers = task_workers(configured_workers)
    from ..ingest import airflow

    lake = Lake.at(lake_root)
    with tempfile.TemporaryDirectory(prefix="zsaudit-unit-") as tmp, Store(Path(tmp) / "unit.duckdb") as store:
        con = store.con
        lake.register(con)
        known = lake.parts(LEDGER, units=lake.units("airflow"))
        if known:       # files an earlier batch loaded are skipped by the ingester's own ledger check
            queries.run(con, "spark/load_parts", {"parts": known}, idents={"table": LEDGER})
        seeded = {fid for fid, _ in queries.cursor(con, "spark/ledger_files").fetchall()}
        results = airflow.ingest_paths(store, paths, template=template, tz=tz, api=airflow.ApiOptions(**api_kwargs),
                                       workers=workers)
        queries.run(con, "spark/forget_seeded", {"ids": sorted(seeded)})
        new = [fid for fid, _ in queries.cursor(con, "spark/ledger_files").fetchall()]
        if new:
            import hashlib

            unit = "af" + hashlib.sha256("|".join(new).encode()).hexdigest()[:40]
            if not lake.has_unit("airflow", unit):
                lake.export_unit(con, "airflow", unit)
        return results, []


def _run_unit(task: tuple) -> tuple[str, list, list[str], float, float]:
    """(kind, FileResults, errors, the task's CPU seconds, its wall seconds)."""
    kind, args = task
    cpu, wall = time.process_time(), time.perf_counter()
    unit = _zscaler_unit if kind == "zscaler" else _airflow_unit
    results, errors = unit(*args)
    return kind, results, errors, time.process_time() - cpu, time.perf_counter() - wall


def ingest(spark, lake: Lake, config: Config, zscaler_files: list[str], airflow_paths: list[str], *,
           since: datetime | None = None, until: datetime | None = None,
           tasks_out: list | None = None) -> dict[str, tuple[list, list[str]]]:
    """The Zscaler files and the Airflow locations into the lake, as one Spark job.
    Returns (FileResults, errors) per source; `tasks_out` gets each task's (kind, CPU seconds,
    wall seconds) (bench/scale.py)."""
    tasks: list[tuple] = []
    root = str(lake.root)
    for path in zscaler_files:
        tasks.append(("zscaler", (root, path, config.zscaler_format, config.zscaler_fields, config.zscaler_tz,
                                  config.ingest_workers)))
    if airflow_paths:
        api = {"since": since, "until": until, "mirror": config.airflow_api_mirror,
               "ca_bundle": None if config.airflow_api_ca_bundle is None else str(config.airflow_api_ca_bundle),
               "secrets_file": None if config.airflow_api_secrets_file is None else str(config.airflow_api_secrets_file)}
        # the Airflow task first: it is the longest, the Zscaler files fill the other cores meanwhile
        tasks.insert(0, ("airflow", (root, airflow_paths, config.airflow_template, config.airflow_tz, api,
                                     config.ingest_workers)))
    done = spark.parallelize(tasks, max(1, len(tasks))).map(_run_unit).collect() if tasks else []
    if tasks_out is not None:
        tasks_out.extend((kind, cpu, wall) for kind, _, _, cpu, wall in done)
    return {source: ([r for kind, rs, _, _, _ in done if kind == source for r in rs],
                     [e for kind, _, es, _, _ in done if kind == source for e in es])
            for source in ("zscaler", "airflow")}

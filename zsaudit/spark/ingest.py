"""Ingest as one Spark job: a task per Zscaler file, one task for the Airflow locations.

Each task runs zsaudit's own ingester (ingest.zscaler / ingest.airflow: the same parsers, ledger,
rejects and line numbers as `zsaudit ingest`) into a scratch DuckDB file on the executor, then
writes the scratch store's rows to the lake as the parts of one unit, ledger last
(Lake.export_unit). A unit already in the lake is not read again; a task run twice (its executor
was lost) writes the same file names again, so nothing is loaded twice.

The Airflow locations stay one task: attempts are merged across their sources (metadata DB, task
logs, exports) as they are read, which needs them together. Each record once: a task's anti-join
keeps a record once within its file; across files the store's load does it, in input order
(Lake.load_into: a record already loaded from another unit is a duplicate, as on one machine, and
analysis leaves it out of the lake's rows).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from .. import queries
from ..config import Config
from ..ingest.ledger import FileResult, sha256_file
from ..ingest.sources import is_remote
from ..lake import LEDGER, Lake, zscaler_unit
from ..store import Store


def _zscaler_unit(lake_root: str, path: str, fmt: str, fields: str | None, tz: str) -> tuple[list, list[str]]:
    from ..ingest import zscaler

    lake = Lake(Path(lake_root))
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
            results = zscaler.ingest_paths(store, [path], fmt=fmt, fields=fields, tz=tz)
        except zscaler.IngestErrors as exc:     # refused, or unreadable: the night goes on
            results, errors = exc.results, str(exc).splitlines()
        shas = [sha for _, sha in queries.cursor(store.con, "spark/ledger_files").fetchall()]
        if len(shas) == 1 and not lake.has_unit("zscaler", zscaler_unit(shas[0], path)):
            lake.export_unit(store.con, "zscaler", zscaler_unit(shas[0], path))
        return results, errors


def _airflow_unit(lake_root: str, paths: list[str], template: str | None, tz: str, api_kwargs: dict
                  ) -> tuple[list, list[str]]:
    from ..ingest import airflow

    lake = Lake(Path(lake_root))
    with tempfile.TemporaryDirectory(prefix="zsaudit-unit-") as tmp, Store(Path(tmp) / "unit.duckdb") as store:
        con = store.con
        known = lake.parts(LEDGER, units=lake.units("airflow"))
        if known:       # files an earlier batch loaded are skipped by the ingester's own ledger check
            queries.run(con, "spark/load_parts", {"parts": known}, idents={"table": LEDGER})
        seeded = {fid for fid, _ in queries.cursor(con, "spark/ledger_files").fetchall()}
        results = airflow.ingest_paths(store, paths, template=template, tz=tz, api=airflow.ApiOptions(**api_kwargs))
        queries.run(con, "spark/forget_seeded", {"ids": sorted(seeded)})
        new = [fid for fid, _ in queries.cursor(con, "spark/ledger_files").fetchall()]
        if new:
            import hashlib

            unit = "af" + hashlib.sha256("|".join(new).encode()).hexdigest()[:40]
            if not lake.has_unit("airflow", unit):
                lake.export_unit(con, "airflow", unit)
        return results, []


def _run_unit(task: tuple) -> tuple[str, list, list[str]]:
    kind, args = task
    if kind == "zscaler":
        return (kind, *_zscaler_unit(*args))
    return (kind, *_airflow_unit(*args))


def ingest(spark, lake: Lake, config: Config, zscaler_files: list[str], airflow_paths: list[str], *,
           since: datetime | None = None, until: datetime | None = None) -> dict[str, tuple[list, list[str]]]:
    """The Zscaler files and the Airflow locations into the lake, as one Spark job.
    Returns (FileResults, errors) per source."""
    tasks: list[tuple] = []
    root = str(lake.root)
    for path in zscaler_files:
        tasks.append(("zscaler", (root, path, config.zscaler_format, config.zscaler_fields, config.zscaler_tz)))
    if airflow_paths:
        api = {"since": since, "until": until, "mirror": config.airflow_api_mirror,
               "ca_bundle": None if config.airflow_api_ca_bundle is None else str(config.airflow_api_ca_bundle),
               "secrets_file": None if config.airflow_api_secrets_file is None else str(config.airflow_api_secrets_file)}
        # the Airflow task first: it is the longest, the Zscaler files fill the other cores meanwhile
        tasks.insert(0, ("airflow", (root, airflow_paths, config.airflow_template, config.airflow_tz, api)))
    done = spark.sparkContext.parallelize(tasks, max(1, len(tasks))).map(_run_unit).collect() if tasks else []
    return {source: ([r for kind, rs, _ in done if kind == source for r in rs],
                     [e for kind, _, es in done if kind == source for e in es])
            for source in ("zscaler", "airflow")}

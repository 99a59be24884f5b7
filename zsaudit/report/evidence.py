"""evidence/: the full populations behind the pack, as Parquet and as CSV.

Each population is one query in queries/report/evidence_*.sql, ending in a full ORDER BY. DuckDB
returns it as Arrow; the Parquet file (pyarrow) gets the exact values, the CSV file (DuckDB's
writer) the same rows with every text cell that a spreadsheet would run as a formula (first
character = + - @, tab or carriage return) prefixed with a single quote (Arrow compute). All of it
is vectorized: no row passes through Python one by one.

The request population is large (10M rows a month): it is queried in time slices of about
SLICE_ROWS rows (whole UTC hours, in order), so each slice sorts in memory, memory stays bounded by
the slice, and the files still have one global order. Two writer threads write one slice while
DuckDB computes the next (one for Parquet, one for CSV). A population of one slice (a night, a
small store) is fetched and written without them: their set-up was most of a small file's cost.
"""

from __future__ import annotations

import array
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import queries
from .context import Runner

EVIDENCE = [
    # name, query, description, sliced by time
    ("attributed_requests", "report/evidence_attributed_requests",
     "Every request of the period and the task attempt behind it", True),
    ("findings", "report/evidence_findings", "Every finding, open and accepted", False),
    ("task_attempts", "report/evidence_task_attempts", "Every Airflow task attempt started in the period", False),
    ("ingest_ledger", "report/evidence_ingest_ledger", "Every input file: sha256, lines read, loaded, rejected", False),
    ("rejects", "report/evidence_rejects", "Every rejected line with file, line number and reason", False),
    ("not_evaluable", "report/evidence_not_evaluable", "Checks that could not be evaluated, with the reason", False),
    ("coverage_gaps", "report/coverage_gaps", "Every coverage_gap finding: a source silent for a stretch, a file mostly rejected", False),
    ("recordid_jumps", "report/recordid_jumps", "Every jump in a Zscaler recordid sequence", False),
]
FORMULA_START = r"^[=+\-@\t\r]"   # first characters a spreadsheet would evaluate
ALL_ROWS = 1 << 62
SLICE_ROWS = 1_000_000
BATCH_ROWS = 100_000


@dataclass
class EvidenceFile:
    name: str
    description: str
    rows: int
    csv: str
    parquet: str


def _strings(chars: str) -> pa.Array:
    """One-character strings as an Arrow array, made from its buffers: pa.array() and pa.scalar()
    import pandas when it is installed (~0.5 CPU-s, once per process), which nothing here uses."""
    offsets = array.array("i", range(len(chars) + 1))
    return pa.StringArray.from_buffers(len(chars), pa.py_buffer(offsets.tobytes()), pa.py_buffer(chars.encode()))


FORMULA_FIRST = _strings("=+-@\t\r")


def neutralize(table: pa.Table) -> pa.Table:
    """The table with a leading ' on every text cell that would start a spreadsheet formula."""
    columns = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            risky = pc.is_in(pc.utf8_slice_codeunits(col, 0, 1), value_set=FORMULA_FIRST)
            if pc.any(risky).as_py():  # the rare case: only then build the quoted text
                quoted = pc.utf8_replace_slice(col, start=0, stop=0, replacement="'")
                col = pc.if_else(risky, quoted, col)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=table.schema)


def time_slices(run: Runner) -> list[tuple[datetime, datetime]]:
    """[since, until) cut at hour boundaries into slices of about SLICE_ROWS requests."""
    since, until = run.period.since, run.period.until
    cuts, acc = [], 0
    for row in run.rows("report/evidence_request_hours"):
        if acc and acc + row["n"] > SLICE_ROWS and since < row["h"] < until:
            cuts.append(row["h"])
            acc = 0
        acc += row["n"]
    bounds = [since, *cuts, until]
    return list(zip(bounds[:-1], bounds[1:]))


def export(run: Runner, out_dir: Path, progress, *, populations=EVIDENCE, extra: dict | None = None
           ) -> list[EvidenceFile]:
    """Write each population (name, query, description, sliced) as CSV and Parquet; `extra`: more
    query parameters (the period pack's criteria and seed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = run.con
    files = []
    # insertion order stays preserved (DuckDB's default): the CSV writer keeps the rows in the
    # order of the sorted slice it is given
    for name, query, description, sliced in populations:
        started = time.perf_counter()
        slices = time_slices(run) if sliced else [(run.period.since, run.period.until)]
        rows = _write(run, query, slices, out_dir / f"{name}.parquet", out_dir / f"{name}.csv", extra)
        run.log.seconds[f"{query} (export)"] = time.perf_counter() - started
        progress.log(f"evidence/{name}: {rows} rows")
        files.append(EvidenceFile(name, description, rows, f"evidence/{name}.csv", f"evidence/{name}.parquet"))
    return files


def _write(run: Runner, query: str, slices, parquet_path: Path, csv_path: Path, extra: dict | None = None) -> int:
    """Query slice by slice; while DuckDB computes the next slice, one thread writes the last one
    to Parquet and another to CSV (each writer keeps its own order: one thread each). A population
    of one slice (a night, a small store) is written here, without threads: the same bytes."""
    con = run.con
    text, base = run.bind(query, {"limit": ALL_ROWS, "kind": None, "status": None, **(extra or {})})
    if len(slices) == 1:
        return _write_one(con, text, _slice_params(base, *slices[0]), parquet_path, csv_path)
    parquet_writers: list = []
    csv_started: list = []
    rows = 0

    writer_con = con.cursor()   # the CSV thread's own connection (DuckDB writes the CSV in parallel)
    part = csv_path.with_name(csv_path.name + ".part")

    def write_parquet(table: pa.Table) -> None:
        if not parquet_writers:
            parquet_writers.append(pq.ParquetWriter(str(parquet_path), table.schema, compression="zstd"))
        _append_parquet(parquet_writers[0], table)

    def write_csv(table: pa.Table) -> None:
        first = not csv_started
        csv_started.append(True)
        if table.num_rows or first:
            writer_con.from_arrow(neutralize(table)).write_csv(str(part), header=first)
            with open(part, "rb") as src, open(csv_path, "ab" if not first else "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
            part.unlink()

    try:
        with ThreadPoolExecutor(max_workers=1) as pq_pool, ThreadPoolExecutor(max_workers=1) as csv_pool:
            pending: list = []
            for lo, hi in slices:
                table = queries.arrow_table(con, text, _slice_params(base, lo, hi))
                rows += table.num_rows
                for future in pending:       # at most two slices in memory: this one and the last
                    future.result()
                pending = [pq_pool.submit(write_parquet, table), csv_pool.submit(write_csv, table)]
            for future in pending:
                future.result()
    finally:
        for w in parquet_writers:
            w.close()
        writer_con.close()
        part.unlink(missing_ok=True)
    return rows


def _append_parquet(writer: pq.ParquetWriter, table: pa.Table) -> None:
    """A slice's rows into the population's Parquet file, in row groups of a fixed size: the file's
    bytes do not depend on how DuckDB chunked the result."""
    if table.num_rows:
        writer.write_table(table, row_group_size=BATCH_ROWS)


def _slice_params(base: dict, lo: datetime, hi: datetime) -> dict:
    """The query's parameters for the slice [lo, hi) (a query without since/until ignores it)."""
    params = dict(base)
    if "since" in params:
        params["since"] = lo
    if "until" in params:
        params["until"] = hi
    return params


def _write_one(con, text: str, params: dict, parquet_path: Path, csv_path: Path) -> int:
    """One slice: the rows fetched once (con.execute: the statement bound once, not described
    first as con.sql does), then its Parquet and CSV files written as _write's threads write them;
    a slice of BATCH_ROWS rows or more has its Parquet file written on a thread meanwhile."""
    table = queries.arrow_table(con, text, params)

    def write_parquet() -> None:
        with pq.ParquetWriter(str(parquet_path), table.schema, compression="zstd") as writer:
            _append_parquet(writer, table)

    def write_csv() -> None:
        con.from_arrow(neutralize(table)).write_csv(str(csv_path), header=True)

    if table.num_rows < BATCH_ROWS:
        write_parquet()
        write_csv()
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            parquet = pool.submit(write_parquet)
            write_csv()
            parquet.result()
    return table.num_rows

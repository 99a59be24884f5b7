"""evidence/: the full populations behind the pack, as Parquet and as CSV.

Each population is one query in queries/report/evidence_*.sql, ending in a full ORDER BY. DuckDB
streams the result as Arrow record batches; each batch goes to the Parquet file as is (exact
values) and to the CSV file with every text cell that a spreadsheet would run as a formula (first
character = + - @, tab or carriage return) prefixed with a single quote. Both are vectorized:
no row passes through Python one by one.

The request population is large (10M rows a month): it is queried in time slices of about
SLICE_ROWS rows (whole UTC hours, in order), so each slice sorts in memory and the files are still
in one global order.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

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
    ("coverage_gaps", "report/coverage_gaps", "Every run of hours without logs from a source", False),
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


def neutralize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with a leading ' on every text cell that would start a spreadsheet formula."""
    columns = []
    for col in batch.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            risky = pc.fill_null(pc.match_substring_regex(col, FORMULA_START), False)
            col = pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'"), col, pa.scalar("")), col)
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


@contextmanager
def setting(con, name: str, value):
    """Change a (database-wide) DuckDB setting for a block, then restore the caller's value."""
    previous = con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]
    con.execute(f"SET {name} = ?", [value])
    try:
        yield
    finally:
        con.execute(f"SET {name} = ?", [previous])


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


def export(run: Runner, out_dir: Path, progress) -> list[EvidenceFile]:
    out_dir.mkdir(parents=True, exist_ok=True)
    con = run.con
    files = []
    # every evidence query ends in a full ORDER BY: DuckDB need not also track the order of
    # intermediate results (tracking it through the joins costs minutes at 10M rows)
    with setting(con, "preserve_insertion_order", False):
        for name, query, description, sliced in EVIDENCE:
            started = time.perf_counter()
            slices = time_slices(run) if sliced else [(run.period.since, run.period.until)]
            rows = _write(run, query, slices, out_dir / f"{name}.parquet", out_dir / f"{name}.csv")
            run.log.seconds[f"{query} (export)"] = time.perf_counter() - started
            progress.log(f"evidence/{name}: {rows} rows")
            files.append(EvidenceFile(name, description, rows, f"evidence/{name}.csv", f"evidence/{name}.parquet"))
    return files


def _write(run: Runner, query: str, slices, parquet_path: Path, csv_path: Path) -> int:
    con = run.con
    text, base = run.bind(query, {"limit": ALL_ROWS})
    pq_writer = csv_writer = None
    rows = 0
    try:
        for lo, hi in slices:
            params = {**base, **({"since": lo} if "since" in base else {}), **({"until": hi} if "until" in base else {})}
            reader = con.sql(text, params=params).to_arrow_reader(BATCH_ROWS)
            if pq_writer is None:
                pq_writer = pq.ParquetWriter(str(parquet_path), reader.schema, compression="zstd")
                csv_writer = pacsv.CSVWriter(str(csv_path), reader.schema,
                                             write_options=pacsv.WriteOptions(quoting_style="needed"))
            for batch in reader:
                if batch.num_rows:
                    pq_writer.write_batch(batch)
                    csv_writer.write_batch(neutralize(batch))
                    rows += batch.num_rows
    finally:
        if pq_writer is not None:
            pq_writer.close()
            csv_writer.close()
    return rows

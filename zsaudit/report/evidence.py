"""evidence/: the full populations behind the pack, as Parquet and as CSV.

Each population is one query in queries/report/evidence_*.sql. DuckDB writes the Parquet file
straight from the query (streaming, no rows through Python); the CSV is then written from that
Parquet file with every text cell that a spreadsheet would run as a formula (first character
= + - @, tab or carriage return) prefixed with a single quote. The Parquet files keep the exact
values (no spreadsheet evaluates them).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from .context import Runner

EVIDENCE = [
    ("attributed_requests", "report/evidence_attributed_requests", "Every request of the period and the task attempt behind it"),
    ("findings", "report/evidence_findings", "Every finding, open and accepted"),
    ("task_attempts", "report/evidence_task_attempts", "Every Airflow task attempt started in the period"),
    ("ingest_ledger", "report/evidence_ingest_ledger", "Every input file: sha256, lines read, loaded, rejected"),
    ("rejects", "report/evidence_rejects", "Every rejected line with file, line number and reason"),
    ("not_evaluable", "report/evidence_not_evaluable", "Checks that could not be evaluated, with the reason"),
    ("coverage_gaps", "report/coverage_gaps", "Every run of hours without logs from a source"),
    ("recordid_jumps", "report/recordid_jumps", "Every jump in a Zscaler recordid sequence"),
]
FORMULA_START = "('=', '+', '-', '@', chr(9), chr(13))"   # first characters a spreadsheet runs
ALL_ROWS = 1 << 62


@dataclass
class EvidenceFile:
    name: str
    description: str
    rows: int
    csv: str
    parquet: str


def neutralize_sql(column: str) -> str:
    """SQL expression: the column's text with a leading quote when it would start a formula."""
    ident = '"' + column.replace('"', '""') + '"'
    return f"CASE WHEN left({ident}, 1) IN {FORMULA_START} THEN '''' || {ident} ELSE {ident} END AS {ident}"


@contextmanager
def setting(con, name: str, value):
    """Change a (database-wide) DuckDB setting for a block, then restore the caller's value."""
    previous = con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]
    con.execute(f"SET {name} = ?", [value])
    try:
        yield
    finally:
        con.execute(f"SET {name} = ?", [previous])


def export(run: Runner, out_dir: Path, progress) -> list[EvidenceFile]:
    out_dir.mkdir(parents=True, exist_ok=True)
    con = run.con
    files = []
    for name, query, description in EVIDENCE:
        text, params = run.bind(query, {"limit": ALL_ROWS})
        parquet_path = out_dir / f"{name}.parquet"
        csv_path = out_dir / f"{name}.csv"
        started = time.perf_counter()
        # every evidence query ends in a full ORDER BY: DuckDB need not also track the order of
        # intermediate results (tracking it through the joins costs minutes at 10M rows)
        with setting(con, "preserve_insertion_order", False):
            con.sql(text, params=params).write_parquet(str(parquet_path), compression="zstd")
        written = time.perf_counter()
        # the CSV is the Parquet file row for row, in the same order
        rel = con.read_parquet(str(parquet_path))
        exprs = [
            neutralize_sql(col) if str(typ) == "VARCHAR" else '"' + col.replace('"', '""') + '"'
            for col, typ in zip(rel.columns, rel.types)
        ]
        rel.project(", ".join(exprs)).write_csv(str(csv_path), header=True)
        rows = pq.read_metadata(parquet_path).num_rows
        run.log.seconds[f"{query} (parquet)"] = written - started
        run.log.seconds[f"{query} (csv)"] = time.perf_counter() - written
        progress.log(f"evidence/{name}: {rows} rows")
        files.append(EvidenceFile(name, description, rows, f"evidence/{name}.csv", f"evidence/{name}.parquet"))
    return files

"""The time format a Zscaler file's event times have, learned from its first lines.

The batch SQL tries the time formats in a fixed chain (zscaler_sql: naive formats, then zoned
ones); a feed whose times match a late link (LEEF's devTime falls through seven naive formats to
the zoned one) would pay for the misses on every line. So the event-time values of the sniffed
lines are read once (zscaler_sql.time_probe) and each candidate format counted against them
(queries/ingest/time_format_hits.sql): the first that reads nine in ten of them is tried first.
A file whose sniffed lines are all its lines (Plan.whole_sample) is not probed: the batch SQL
reads them once, and the probe (a statement compiled and run, a count per format, the batch SQL
built again) cost a small file more than its lines' misses: 25-95 ms a file of a few lines.
"""

from __future__ import annotations

from typing import Callable

import pyarrow as pa

from .. import queries
from . import zscaler_sql
from .zscaler_sniff import Plan


def first_time_format(con, plan: Plan, sql: str, params: dict, sample: Callable[[], pa.Table | None]) -> str | None:
    """The time format most of the sniffed lines' event times have, when the batch SQL `sql`
    would try others before it; None otherwise (or when the lines tell nothing). `sample()` gives
    the sniffed lines as a batch (numbered, cleaned, split); `con` is a cursor of the store."""
    if plan.whole_sample:       # a small file: its lines are read once, in the chain's order
        return None
    probe = zscaler_sql.time_probe(sql, plan)
    if probe is None or not plan.sample:
        return None
    try:
        batch = sample()
        if batch is None:
            return None
        with queries.registered(con, {zscaler_sql.BATCH_TABLE: batch}):
            values = [v for (v,) in con.execute(probe, queries.bind(probe, params, strict=False)).fetchall()
                      if v is not None]
    except Exception:                              # a hostile first line: no format learned
        return None
    if not values:
        return None
    chain = zscaler_sql.NAIVE_TIME_FORMATS + zscaler_sql.ZONED_TIME_FORMATS
    # the records' declared formats, then the chain's order; most feeds stop at the first
    for f in plan.time_formats + chain:
        hits = queries.scalar(con, "ingest/time_format_hits", {"format": f, "values": values})
        if hits * 10 >= len(values) * 9:
            return f if f != chain[0] or plan.time_formats else None
    return None

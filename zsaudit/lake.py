"""The Parquet lake of `zsaudit run --engine spark`: what the executors write and the store reads.

Layout (docs/scale.md), under one root every executor can reach (a shared path):

    <lake>/<table>/source=<zscaler|airflow>/day=<YYYY-MM-DD>/part-<unit>-<i>.parquet
    <lake>/ingest_ledger/source=<source>/part-<unit>-0.parquet          written last: the unit is in
    <lake>/_work/<analysis_id>/requests/pk=<pk>/part-<chunk>.parquet    the analysis' exchange
    <lake>/_work/<analysis_id>/attr/part-<task>.parquet                 _attr of a group of partitions
    <lake>/_work/<analysis_id>/rows/part-<task>.parquet                 its narrow attribution_rows
    <lake>/attribution_rows/analysis=<analysis_id>/part-<store>-<run>-<task>.parquet  the same, kept: the
                                                                        store's view reads them

A unit is one Zscaler file (its sha256 and the hash of its path: lake.zscaler_unit) or one Airflow batch. Every file is written under a
temporary name and renamed into place, and its name depends only on its content's origin, so a
task Spark runs again (a lost executor) rewrites the same names: nothing is ever in twice. A unit
counts only once its ledger part exists; rows of a unit without one are never read.

Attribution rows stay in the lake: the store names the parts of each analysis (attribution_parts,
schema 8) and its view `attributions` reads them. A run's parts carry a name of their own (<run>),
so a re-analysis never overwrites the parts the store still names until its transaction commits;
parts no analysis names (replaced, or of a run that failed) are swept by the next analysis.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from . import queries
from .errors import BadUsage
from .ingest.sources import is_remote
from .store import name_attribution_parts

LEDGER = "ingest_ledger"
# store tables that are not ingest output: bookkeeping, and what analysis writes
NOT_EXPORTED = frozenset({"schema_version", "ingest_inflight", "analysis_runs", "attributions", "attribution_rows",
                          "attribution_workers", "attribution_attempts", "attribution_parts", "lake_duplicates",
                          "findings", "not_evaluable"})
ATTRIBUTION_ROWS = "attribution_rows"     # the lake folder of the kept attribution rows
# the column whose UTC day partitions a table's rows (the first one a table has)
_DAY_COLUMNS = ("event_time", "start_time", "first_event", "started_at")
NO_DAY = "none"
_PART = re.compile(r"^part-(?P<unit>[0-9A-Za-z_]+)-\d+\.parquet$")


@dataclass(frozen=True)
class Lake:
    root: Path

    @classmethod
    def at(cls, location: str | os.PathLike) -> "Lake":
        text = str(location)
        if is_remote(text):
            raise BadUsage(f"engine.lake = {text!r}: the Spark engine writes its lake to a path every executor "
                           "can reach (a shared or mounted folder); object-store prefixes are not supported yet")
        return cls(Path(text).resolve())

    # -- writing (executors) --------------------------------------------------------------------
    def tmp_dir(self) -> Path:
        """A fresh folder for one task attempt's files before they are renamed into place."""
        path = self.root / "_tmp" / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def publish(self, tmp: Path, target: Path) -> list[Path]:
        """Rename every file below `tmp` to the same relative place below `target` (atomic per
        file, replacing what an earlier attempt of the same task left), then remove `tmp`."""
        moved = []
        for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
            dst = target / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            moved.append(dst)
        shutil.rmtree(tmp, ignore_errors=True)
        return moved

    def export_unit(self, con: duckdb.DuckDBPyConnection, source: str, unit: str) -> int:
        """Every ingest table of a scratch store as parts of `unit`; the ledger part last.
        Returns the number of row parts written."""
        tables = [t for t in store_tables(con) if t not in NOT_EXPORTED and t != LEDGER]
        tmp = self.tmp_dir()
        written = 0
        for table in tables:
            if not con.table(table).limit(1).fetchall():
                continue
            columns = {c for c, _ in queries.cursor(con, "ingest/table_columns", {"table": table}).fetchall()}
            day_col = next((c for c in _DAY_COLUMNS if c in columns), None)
            rows = queries.relation(con, "spark/unit_rows" if day_col else "spark/unit_rows_undated",
                                    idents={"table": table, "day_column": day_col})
            (tmp / table).mkdir()
            rows.write_parquet(
                str(tmp / table / f"source={source}"), partition_by=["day"], filename_pattern=f"part-{unit}-{{i}}")
            written += 1
        self.publish(tmp, self.root)
        tmp = self.tmp_dir()
        folder = tmp / LEDGER / f"source={source}"
        folder.mkdir(parents=True)
        con.table(LEDGER).write_parquet(str(folder / f"part-{unit}-0.parquet"))
        self.publish(tmp, self.root)
        return written

    def has_unit(self, source: str, unit: str) -> bool:
        return (self.root / LEDGER / f"source={source}" / f"part-{unit}-0.parquet").is_file()

    # -- reading --------------------------------------------------------------------------------
    def units(self, source: str | None = None) -> set[str]:
        """Units whose ledger part exists: the only ones whose rows are read."""
        folder = self.root / LEDGER
        return {m.group("unit") for p in folder.glob(f"source={source or '*'}/part-*.parquet")
                if (m := _PART.match(p.name))}

    def tables(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("_")) \
            if self.root.is_dir() else []

    def parts(self, table: str, *, units: set[str] | None = None, days: tuple[date, date] | None = None
              ) -> list[str]:
        """Committed part files of `table` (of `units` if given; of days in [first, last] if given)."""
        units = self.units() if units is None else units
        out = []
        for p in sorted((self.root / table).glob("source=*/**/part-*.parquet")):
            m = _PART.match(p.name)
            if not m or m.group("unit") not in units:
                continue
            if days is not None and p.parent.name.startswith("day=") and p.parent.name != f"day={NO_DAY}":
                day = date.fromisoformat(p.parent.name[4:])
                if not days[0] <= day <= days[1]:
                    continue
            out.append(str(p))
        return out

    def load_into(self, store, order: list[str] | tuple[str, ...] = ()) -> "Loaded":
        """Copy the units the store does not hold yet (by their ledger rows) into it, one
        transaction per unit, so the store answers `report` and the global analysis step. Units
        load in `order` (this run's units in input order; any other first, by name), and each
        record once, as one machine loads files: a record a unit before it (or an earlier night)
        loaded is a duplicate (its ledger row says so; lake_duplicates lists it, so analysis leaves
        it out of the lake's rows), and a unit whose file the store holds from another path (the
        same bytes sent twice, ingested at once on the cluster) is not loaded at all."""
        have = dict(queries.cursor(store.con, "spark/ledger_paths").fetchall())
        known = set(store_tables(store.con)) - NOT_EXPORTED
        tables = [t for t in self.tables() if t in known and t != LEDGER]
        keyed = {t for t in tables
                 if "record_key" in {c for c, _ in queries.cursor(store.con, "ingest/table_columns", {"table": t}).fetchall()}}
        rank = {u: i for i, u in enumerate(order)}
        loaded = Loaded()
        for unit in sorted(self.units(), key=lambda u: (rank.get(u, -1), u)):
            ledger_parts = self.parts(LEDGER, units={unit})
            files = queries.cursor(store.con, "spark/part_ledger_rows", {"parts": ledger_parts}).fetchall()
            if all(fid in have for fid, _ in files):
                if any(have[fid] != path for fid, path in files):     # a copy under another path
                    with store.transaction() as con:
                        queries.run(con, "spark/skip_copy_unit", {"unit": unit})
                    loaded.copies.append(unit)
                continue
            with store.transaction() as con:
                for table in tables + [LEDGER]:
                    parts = self.parts(table, units={unit})
                    if not parts:
                        continue
                    if table in keyed:
                        first, last = queries.one(con, "spark/unit_time_range", {"parts": parts})
                        queries.run(con, "spark/load_records", {"parts": parts, "unit": unit, "table": table,
                                                                "first": first, "last": last}, idents={"table": table})
                    else:
                        queries.run(con, "spark/load_parts", {"parts": parts}, idents={"table": table})
                if len(files) == 1:     # a Zscaler unit: one file, whose records are all in its ledger row
                    queries.run(con, "spark/count_unit_duplicates", {"unit": unit, "file_id": files[0][0]})
            have.update(files)
            loaded.units += 1
        return loaded

    def work(self, analysis_id: str) -> Path:
        return self.root / "_work" / analysis_id

    # -- attribution rows kept in the lake (the store's attribution_parts) -------------------------
    def keep_attribution_parts(self, con, analysis_id: str, parts: list[Path]) -> int:
        """Move an analysis' row parts (its job 2 tasks') under attribution_rows/analysis=<id>/
        with a name of this run, and name them in the store (in the analysis' transaction, `con`)
        so the view `attributions` reads them. Returns the number of parts."""
        run = f"{store_tag(con)}-{uuid.uuid4().hex[:12]}"
        folder = self.root / ATTRIBUTION_ROWS / f"analysis={analysis_id}"
        folder.mkdir(parents=True, exist_ok=True)
        kept = []
        for src in sorted(parts):
            dst = folder / f"part-{run}-{src.name.removeprefix('part-')}"
            os.replace(src, dst)
            kept.append(dst.relative_to(self.root).as_posix())
        queries.run(con, "spark/name_attribution_parts", {"analysis_id": analysis_id, "lake": str(self.root),
                                                           "parts": kept})
        name_attribution_parts(con)
        return len(kept)

    def sweep_attribution_parts(self, con) -> int:
        """Delete the attribution row parts this store wrote and no longer names (a replaced
        analysis' parts, a failed run's). Parts another store wrote into the same lake (their
        names carry its store_tag) are left alone. Returns how many were deleted."""
        named = {part for _, part in queries.cursor(con, "spark/named_attribution_parts").fetchall()}
        swept = 0
        for p in sorted((self.root / ATTRIBUTION_ROWS).glob(f"analysis=*/part-{store_tag(con)}-*.parquet")):
            if p.relative_to(self.root).as_posix() not in named:
                p.unlink(missing_ok=True)
                swept += 1
        return swept

    def adopt_attribution_parts(self, store) -> bool:
        """A store whose attribution parts are named below another root (the lake was moved, or
        copied with the store): re-rooted here when every part is here. Returns whether it was."""
        named = queries.cursor(store.con, "spark/named_attribution_parts").fetchall()
        if not named or all(lake == str(self.root) for lake, _ in named):
            return False
        if not all((self.root / part).is_file() for _, part in named):
            return False
        with store.transaction() as con:
            queries.run(con, "spark/move_attribution_parts", {"lake": str(self.root)})
            name_attribution_parts(con)
        return True


@dataclass
class Loaded:
    """What Lake.load_into did: units loaded, and units not loaded as copies of a file the store holds."""
    units: int = 0
    copies: list[str] = field(default_factory=list)


def zscaler_unit(sha256: str, path: str) -> str:
    """The lake unit of a Zscaler file: its content and where it was read, so that the same bytes
    under two names in one night are two units, and the store loads the first in input order."""
    return f"{sha256}_{hashlib.sha256(path.encode()).hexdigest()[:8]}"


def store_tag(con) -> str:
    """A short name of the store file `con` is open on (its resolved path's hash), carried in the
    names of the attribution row parts it keeps in the lake, so that its sweep never deletes the
    parts of another store sharing the lake. A store moved to another path leaves its old unnamed
    parts in place (disk only: they are never read)."""
    path = queries.scalar(con, "store/database_path")
    return hashlib.sha256(str(Path(path).resolve() if path else ":memory:").encode()).hexdigest()[:8]


def store_tables(con) -> list[str]:
    """The tables of the store (or scratch store) `con`, by name."""
    return [t for t, in queries.cursor(con, "store/tables").fetchall()]


def day_range(since: datetime, until: datetime) -> tuple[date, date]:
    """The UTC days a half-open period [since, until) touches."""
    last = until - timedelta(microseconds=1)
    return since.astimezone(timezone.utc).date(), last.astimezone(timezone.utc).date()


def attach_parts(con: duckdb.DuckDBPyConnection, table: str, parts: list[str], dropped: str | None = None) -> None:
    """Make `table` of a scratch store in `con` read the given parts (a view in its place), less
    the rids listed in the Parquet file `dropped` (records the store did not load: duplicates)."""
    if parts:
        queries.drop(con, [table])
        rows = con.read_parquet(parts, union_by_name=True, hive_partitioning=False)
        if dropped:
            rows = rows.join(con.read_parquet(dropped, hive_partitioning=False), "rid", how="anti")
        rows.create_view(table, replace=True)

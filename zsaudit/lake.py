"""The Parquet lake of `zsaudit run --engine spark`: what the executors write and the store reads.

Layout (docs/scale.md), under one root every executor and the driver reach: a shared folder, or
an object-store prefix (s3://, gs://, az://, through fsspec with the credentials and endpoint the
object-storage ingest uses: zsaudit/ingest/sources.py):

    <lake>/<table>/source=<zscaler|airflow>/day=<YYYY-MM-DD>/part-<unit>-<i>.parquet
    <lake>/ingest_ledger/source=<source>/part-<unit>-0.parquet          written last: the unit is in
    <lake>/_work/<store>-<analysis_id>/requests/part=<pk>/part-<chunk>-<i>.parquet  the exchange
    <lake>/_work/<store>-<analysis_id>/rows/part-<task>-0.parquet      a task's narrow attribution_rows
    <lake>/attribution_rows/analysis=<analysis_id>/part-<store>-<run>-<task>.parquet  the same, kept: the
                                                                        store's view reads them

A unit is one Zscaler file (its sha256 and the hash of its path: lake.zscaler_unit) or one Airflow
batch. Every file is written whole to a temporary place and then put under its final name at once
(a rename in a folder; an object store has no rename, but a PUT is atomic per object: the object is
uploaded to its final key), and its name depends only on its content's origin, so a task Spark
runs again (a lost executor) rewrites the same names: nothing is ever in twice. A unit counts only
once its ledger part exists; rows of a unit without one are never read. An analysis' work folder
carries the store's tag, so two stores analysing one period in one lake never share it.

Attribution rows stay in the lake: the store names the parts of each analysis (attribution_parts,
schema 8) and its view `attributions` reads them. A run's parts carry a name of their own (<run>),
so a re-analysis never overwrites the parts the store still names until its transaction commits;
parts no analysis names (replaced, or of a run that failed) are swept by the next analysis.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from . import queries
from .errors import BadUsage
from .ingest.sources import filesystem, is_remote, register_filesystem
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
    root: Path | str        # a local folder, or an object-store prefix URL (no trailing /)

    @classmethod
    def at(cls, location: str | os.PathLike) -> "Lake":
        text = str(location)
        if is_remote(text):
            if not text.partition("://")[2].strip("/"):
                raise BadUsage(f"engine.lake = {text!r}: name a bucket (and a prefix) for the lake")
            return cls(text.rstrip("/"))
        return cls(Path(text).resolve())

    # -- where things are: a folder, or a prefix of objects ----------------------------------------
    @property
    def remote(self) -> bool:
        return isinstance(self.root, str)

    @property
    def fs(self):
        """The fsspec filesystem of a remote lake (sources.filesystem: the ingest's credentials)."""
        return filesystem(self.root)[0]      # fsspec keeps one instance per store and options

    def path(self, *rel: str) -> str:
        """The full path (a local path, or an object URL) of `rel` below the root: what DuckDB reads."""
        return "/".join([str(self.root), *(r.strip("/") for r in rel if r)])

    def _key(self, *rel: str) -> str:
        """The filesystem's own name (bucket/key) of `rel` below a remote root."""
        return self.path(*rel).partition("://")[2]

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let `con` read this lake's parts (an object store's, through fsspec); nothing for a folder."""
        if self.remote:
            register_filesystem(con, self.root)

    def exists(self, rel: str) -> bool:
        if not self.remote:
            return (self.root / rel).is_file()
        self.fs.invalidate_cache(self._key(rel).rsplit("/", 1)[0])
        return self.fs.isfile(self._key(rel))

    def files(self, rel: str) -> list[str]:
        """Every file below folder `rel`, as paths relative to it (posix), sorted; none if it is absent."""
        if not self.remote:
            folder = self.root / rel
            return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) \
                if folder.is_dir() else []
        key = self._key(rel)
        self.fs.invalidate_cache(key)
        try:
            found = self.fs.find(key)
        except FileNotFoundError:
            return []
        return sorted(k[len(key):].lstrip("/") for k in found if k.startswith(key + "/"))

    def size(self, path: str) -> int:
        """The size in bytes of a file named by its full path (Lake.path)."""
        return self.fs.size(path.partition("://")[2]) if self.remote else Path(path).stat().st_size

    def remove(self, rel: str) -> None:
        """Delete folder `rel` below the root and everything in it, if it is there."""
        if not self.remote:
            shutil.rmtree(self.root / rel, ignore_errors=True)
            return
        key = self._key(rel)
        self.fs.invalidate_cache(key)
        if self.fs.find(key):
            self.fs.rm(key, recursive=True)

    def unlink(self, rel: str) -> None:
        if not self.remote:
            (self.root / rel).unlink(missing_ok=True)
        else:
            self.fs.rm_file(self._key(rel))

    # -- writing (executors) --------------------------------------------------------------------
    def tmp_dir(self) -> Path:
        """A fresh folder for one task attempt's files before they are published: in a local lake
        below its root (a rename then moves them), for a remote one on this machine's disk."""
        if self.remote:
            return Path(tempfile.mkdtemp(prefix="zsaudit-lake-"))
        path = self.root / "_tmp" / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def publish(self, tmp: Path, where: str = "") -> list[str]:
        """Every file below `tmp` to the same relative place below folder `where` of the lake, each
        whole at once, replacing what an earlier attempt of the same task left: a rename in a local
        lake; an upload to the final key in an object store (a PUT is atomic per object: a reader
        sees the old object or the new one, never part of one). Then `tmp` is removed. Returns the
        full paths written."""
        done = []
        for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
            rel = src.relative_to(tmp).as_posix()
            if self.remote:
                dst = self.path(where, rel)
                self.fs.put_file(str(src), self._key(where, rel))
            else:
                dst = self.root / where / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            done.append(str(dst))
        shutil.rmtree(tmp, ignore_errors=True)
        return done

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
        self.publish(tmp)
        tmp = self.tmp_dir()
        folder = tmp / LEDGER / f"source={source}"
        folder.mkdir(parents=True)
        con.table(LEDGER).write_parquet(str(folder / f"part-{unit}-0.parquet"))
        self.publish(tmp)
        return written

    def has_unit(self, source: str, unit: str) -> bool:
        return self.exists(f"{LEDGER}/source={source}/part-{unit}-0.parquet")

    # -- reading --------------------------------------------------------------------------------
    def units(self, source: str | None = None) -> set[str]:
        """Units whose ledger part exists: the only ones whose rows are read."""
        pattern = f"source={source or '*'}/part-*.parquet"
        return {m.group("unit") for rel in self.files(LEDGER)
                if fnmatch.fnmatchcase(rel, pattern) and (m := _PART.match(rel.rsplit("/", 1)[-1]))}

    def tables(self) -> list[str]:
        if not self.remote:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("_")) \
                if self.root.is_dir() else []
        key = self._key()
        self.fs.invalidate_cache(key)
        try:
            found = self.fs.ls(key, detail=True)
        except FileNotFoundError:
            return []
        names = (i["name"].rstrip("/").rsplit("/", 1)[-1] for i in found if i.get("type") == "directory")
        return sorted(n for n in names if not n.startswith("_"))

    def parts(self, table: str, *, units: set[str] | None = None, days: tuple[date, date] | None = None
              ) -> list[str]:
        """Committed part files of `table` (of `units` if given; of days in [first, last] if given)."""
        units = self.units() if units is None else units
        out = []
        for rel in self.files(table):
            folders, _, name = rel.rpartition("/")
            m = _PART.match(name)
            if not m or m.group("unit") not in units or not folders.startswith("source="):
                continue
            parent = folders.rsplit("/", 1)[-1]
            if days is not None and parent.startswith("day=") and parent != f"day={NO_DAY}":
                day = date.fromisoformat(parent[4:])
                if not days[0] <= day <= days[1]:
                    continue
            out.append(self.path(table, rel))
        return out

    def load_into(self, store, order: list[str] | tuple[str, ...] = ()) -> "Loaded":
        """Copy the units the store does not hold yet (by their ledger rows) into it, one
        transaction per unit, so the store answers `report` and the global analysis step. Units
        load in `order` (this run's units in input order; any other first, by name), and each
        record once, as one machine loads files: a record a unit before it (or an earlier night)
        loaded is a duplicate (its ledger row says so; lake_duplicates lists it, so analysis leaves
        it out of the lake's rows), and a unit whose file the store holds from another path (the
        same bytes sent twice, ingested at once on the cluster) is not loaded at all."""
        self.register(store.con)
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

    def work(self, con, analysis_id: str) -> str:
        """The folder (relative to the root) of one analysis' exchange files, of the store `con` is
        open on: two stores analysing the same period in one lake never share it."""
        return f"_work/{store_tag(con)}-{analysis_id}"

    # -- attribution rows kept in the lake (the store's attribution_parts) -------------------------
    def keep_attribution_parts(self, con, analysis_id: str, parts: list[str]) -> int:
        """Move an analysis' row parts (its job 2 tasks', full paths) under
        attribution_rows/analysis=<id>/ with a name of this run, and name them in the store (in the
        analysis' transaction, `con`) so the view `attributions` reads them. A local lake renames
        them; an object store copies each to its new key (the work folder is removed after).
        Returns the number of parts."""
        run = f"{store_tag(con)}-{uuid.uuid4().hex[:12]}"
        folder = f"{ATTRIBUTION_ROWS}/analysis={analysis_id}"
        if not self.remote:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        kept = []
        for src in sorted(str(p) for p in parts):
            rel = f"{folder}/part-{run}-{src.rsplit('/', 1)[-1].removeprefix('part-')}"
            if self.remote:
                self.fs.copy(src.partition("://")[2], self._key(rel))
            else:
                os.replace(src, self.root / rel)
            kept.append(rel)
        self.register(con)
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
        pattern = f"analysis=*/part-{store_tag(con)}-*.parquet"
        for rel in self.files(ATTRIBUTION_ROWS):
            if fnmatch.fnmatchcase(rel, pattern) and f"{ATTRIBUTION_ROWS}/{rel}" not in named:
                self.unlink(f"{ATTRIBUTION_ROWS}/{rel}")
                swept += 1
        return swept

    def adopt_attribution_parts(self, store) -> bool:
        """A store whose attribution parts are named below another root (the lake was moved, or
        copied with the store): re-rooted here when every part is here. Returns whether it was."""
        named = queries.cursor(store.con, "spark/named_attribution_parts").fetchall()
        if not named or all(lake == str(self.root) for lake, _ in named):
            return False
        if not all(self.exists(part) for _, part in named):
            return False
        self.register(store.con)
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

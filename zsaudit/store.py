"""The DuckDB store: one file, schema from queries/schema.sql, forward migrations.

Every file is loaded in one transaction (`Store.transaction()`), so a failed file leaves no rows.
A large Zscaler file commits in chunks before its ledger row; until that row is written the file
is listed in `ingest_inflight`, and every open of the store (read-only ones too) first deletes
the rows of such files: rows of a killed load are never visible to `analyze` or `report`.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from . import DEFAULT_DB, queries
from .errors import BadInput, BadUsage
from .ingest import sources

SCHEMA_VERSION_BASE = 1
_MIGRATION = re.compile(r"^(\d{3})_[\w-]+\.sql$")


def default_db_path() -> Path:
    return Path(os.environ.get("ZSAUDIT_DB") or DEFAULT_DB)


def _migrations() -> list[tuple[int, str]]:
    folder = queries.queries_dir() / "migrations"
    found = []
    for path in sorted(folder.glob("*.sql")):
        m = _MIGRATION.match(path.name)
        if m:
            found.append((int(m.group(1)), f"migrations/{path.stem}"))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        # A store records one number per migration: two files with one number would let a store
        # that has the first skip the second for ever.
        raise RuntimeError(f"queries/migrations: two migrations share a number: {sorted(versions)}")
    return found


def latest_version() -> int:
    return max([SCHEMA_VERSION_BASE] + [v for v, _ in _migrations()])


def _schema_key() -> str:
    """A digest of the schema and every migration, as this process would apply them."""
    h = hashlib.sha256()
    for name in ["schema"] + [name for _, name in _migrations()]:
        h.update(name.encode() + b"\0" + (queries.queries_dir() / f"{name}.sql").read_bytes() + b"\0")
    return h.hexdigest()


class _Template:
    """An empty store at the latest schema, migrated once per process and copied for each new
    store file after the first: a migration is ~25 statements (~0.25 CPU-s), a copy ~0.07 CPU-s
    with the open (measured session 12). A process creating many stores (a Spark executor's
    ingest tasks, a test session) pays the migration once; one creating one store never builds it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fresh = 0                       # new store files made in this process
        self.files: dict[str, Path] = {}     # schema key -> template file
        self.owner = os.getpid()
        self.dir: Path | None = None

    def copy_to(self, path: Path) -> bool:
        """Put a migrated empty store at `path` (a new file) if this process has made one before;
        False when the caller should migrate it itself."""
        with self.lock:
            self.fresh += 1
            if self.fresh == 1:
                return False
            try:
                key = _schema_key()
                template = self.files.get(key)
                if template is None or not template.exists():
                    if self.dir is None or not self.dir.exists():
                        self.dir = Path(tempfile.mkdtemp(prefix="zsaudit-schema-"))
                        atexit.register(self._remove, self.dir)
                    template = self.dir / f"{key[:16]}.duckdb"
                    template.unlink(missing_ok=True)
                    Store(template, template=False).close()
                    self.files[key] = template
            except Exception:   # noqa: BLE001  a schema that does not migrate: the caller's migration says so, with its path
                return False
            # copied beside `path`, then linked into place: the store appears whole or not at all,
            # and never over a file another process created meanwhile (link refuses an existing path)
            partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
            try:
                shutil.copyfile(template, partial)
                os.link(partial, path)
                return True
            except OSError:     # a read-only folder, a file system without links, a store that exists now
                return False
            finally:
                partial.unlink(missing_ok=True)

    def _remove(self, folder: Path) -> None:
        if os.getpid() == self.owner:        # not a forked child's exit (a Spark Python worker)
            shutil.rmtree(folder, ignore_errors=True)


_TEMPLATE = _Template()


def _threads_config() -> dict:
    """ZSAUDIT_THREADS: DuckDB worker threads (default: one per core). Results do not depend on
    it (every choice has a total order; tests/test_reperformance.py); it bounds CPU on a shared host."""
    raw = os.environ.get("ZSAUDIT_THREADS", "").strip()
    if not raw:
        return {}
    if not raw.isdigit() or int(raw) < 1:
        raise BadUsage(f"ZSAUDIT_THREADS={raw!r}: expected a whole number of threads >= 1")
    return {"threads": int(raw)}


# -- DuckDB instances: one per store open at a time, kept for the next store of the process -------


class _Instance:
    """A DuckDB database instance (an in-memory one; each store file is ATTACHed to it and USEd
    by the store's connection). Creating one costs ~30-35 ms CPU (DuckDB 2 builds its catalog of
    functions per instance), an ATTACH ~3: a process opening many stores (a test session, a Spark
    executor's per-task stores) keeps an idle instance for the next one. Its global settings are
    read when it is made and put back before it is kept, with every filesystem registered on it
    meanwhile unregistered, so a store never starts from another's settings."""

    def __init__(self, config: dict):
        self.con = duckdb.connect(":memory:", config=config)
        self.settings = self._settings()
        self.filesystems = set(self.con.list_filesystems())

    def _settings(self) -> dict:
        cur = queries.cursor(self.con, "store/kept_settings")
        return dict(zip([d[0] for d in cur.description], cur.fetchall()[0]))

    def reset(self) -> None:
        now = self._settings()
        for key, was in self.settings.items():
            if now[key] != was:
                queries.set_option(self.con, key, was)
        for name in set(self.con.list_filesystems()) - self.filesystems:
            self.con.unregister_filesystem(name)


class _Attached:
    """A store file attached to an instance: the connections of every Store open on it."""

    def __init__(self, instance: _Instance, alias: str, read_only: bool, key: tuple):
        self.instance, self.alias, self.read_only, self.key = instance, alias, read_only, key
        self.refs = 0


class _Instances:
    """The process' DuckDB instances: the idle ones and the store files attached. A store dropped
    unclosed is released by its __del__, which the garbage collector may run inside open() or
    release() of this thread (any allocation can start a collection: a Store in a cycle with a
    traceback is freed there). Such a release is deferred to the end of the one in progress: run
    at once it would take the lock again (a hang, with threading.Lock) or change the dicts in the
    middle of their update."""

    def __init__(self):
        self.lock = threading.RLock()
        self.busy = False                       # this lock's holder is inside open() or release()
        self.deferred: list[_Connection] = []   # releases asked for meanwhile (by __del__)
        self.pid = os.getpid()
        self.idle: dict[tuple, list[_Instance]] = {}
        self.attached: dict[str, _Attached] = {}
        self.count = 0

    def open(self, path: Path, read_only: bool, config: dict) -> "_Connection":
        memory = str(path) == ":memory:"
        name = ":memory:" if memory else str(path.resolve())
        key = tuple(sorted(config.items()))
        if os.getpid() != self.pid:      # a forked child: the parent's instances (and lock) are not ours
            self.__init__()
        with self._guard():
            att = None if memory else self.attached.get(name)
            if att is not None and att.read_only != read_only:
                raise duckdb.ConnectionException(
                    f"Can't open a connection to same database file with a different configuration "
                    f"than existing connections (read_only={att.read_only} already open in this process)")
            if att is None:
                pool = self.idle.get(key)
                instance = pool.pop() if pool else _Instance(config)
                self.count += 1
                alias = f"zsaudit_store_{self.count}"
                try:
                    queries.run(instance.con, "store/attach_read_only" if read_only else "store/attach",
                                {"path": name}, idents={"alias": alias})
                except BaseException:
                    self.idle.setdefault(key, []).append(instance)
                    raise
                if not memory:      # spill beside the store, as a store opened on its own does
                    queries.set_option(instance.con, "temp_directory", name + ".tmp")
                att = _Attached(instance, alias, read_only, key)
                if not memory:
                    self.attached[name] = att
            att.refs += 1
            cur = att.instance.con.cursor()
        queries.run(cur, "store/use", idents={"alias": att.alias})
        return _Connection(cur, att, name, owner=True)

    @contextmanager
    def _guard(self):
        """The lock, held by open() or release(); the releases deferred meanwhile run after it."""
        with self.lock:
            self.busy = True
            try:
                yield
            finally:
                self.busy = False
        while self.deferred:
            self.release(self.deferred.pop())

    def release(self, con: "_Connection") -> None:
        att = con._attached
        with self.lock:
            if self.busy:               # re-entered by a __del__ the collector ran inside open/release
                self.deferred.append(con)
                return
        with self._guard():
            if con._released:
                return
            con._released = True
            att.refs -= 1
            if att.refs:
                return
            if self.attached.get(con._name) is att:
                del self.attached[con._name]
            instance = att.instance
            try:
                queries.run(instance.con, "store/detach", idents={"alias": att.alias})
                instance.reset()
            except duckdb.Error:                 # a cursor of it still busy: let the instance go
                instance.con.close()
                return
            if os.getpid() == self.pid:
                self.idle.setdefault(att.key, []).append(instance)


_INSTANCES = _Instances()


class _Connection:
    """A store's connection: a DuckDB connection USE-ing the store's catalog, whose cursors
    (a worker thread's own connection) USE it too. Everything else is DuckDB's connection's."""

    __slots__ = ("_con", "_attached", "_name", "_owner", "_released")

    def __init__(self, con: duckdb.DuckDBPyConnection, attached: _Attached, name: str, owner: bool = False):
        self._con, self._attached, self._name = con, attached, name
        self._owner, self._released = owner, False

    def __getattr__(self, name):
        return getattr(self._con, name)

    def cursor(self) -> "_Connection":
        cur = self._con.cursor()
        queries.run(cur, "store/use", idents={"alias": self._attached.alias})
        return _Connection(cur, self._attached, self._name)

    def close(self) -> None:
        self._con.close()
        if self._owner:         # the store's own connection: its file is detached
            _INSTANCES.release(self)

    def __enter__(self) -> "_Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Store:
    """A connection to the zsaudit DuckDB file, migrated to the latest schema on open."""

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False, template: bool = True):
        """`template`: a new store file may be a copy of this process' migrated empty store
        (_Template), which gives the same schema, version rows and (reset below) applied times."""
        self.path = Path(path) if path is not None else default_db_path()
        if read_only and not self.path.exists():
            raise BadInput(
                f"{self.path}: no zsaudit database here; run `zsaudit ingest ...` first "
                "or point --db / ZSAUDIT_DB at an existing one"
            )
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        copied = (template and not read_only and str(path) != ":memory:" and not self.path.exists()
                  and _TEMPLATE.copy_to(self.path))
        self.con = self._connect(read_only)
        if copied:      # as if migrated now: one transaction's time on every version row
            queries.run(self.con, "store/schema_applied_now")
            # the template's copy is at this code's latest schema, with nothing in flight and no
            # lake: the checks below (schema version, migrate, in-flight sweep, lakes) would find nothing
            return
        if not read_only:
            self.migrate()
            self.sweep_inflight()
        elif self._has_inflight():
            # a killed load left committed chunks: sweep them read-write, then read as asked
            self.close()
            self.con = self._connect(False)
            try:
                self.migrate()
                self.sweep_inflight()
            finally:
                self.close()
            self.con = self._connect(True)
        self._register_lakes()
        if read_only:
            self._check_lake_parts()

    def _register_lakes(self) -> None:
        """The view `attributions` reads lake parts (schema 8); those in an object store are read
        through fsspec (sources.register_filesystem), which every connection must be given."""
        try:
            lakes = [lake for lake, in queries.cursor(self.con, "store/attribution_lakes").fetchall()]
        except duckdb.CatalogException:          # a store from before schema 8 names none
            return
        for lake in lakes:
            sources.register_filesystem(self.con, lake)

    def _check_lake_parts(self) -> None:
        """BadInput when the store reads attribution rows from Spark lake parts (schema 8) that are
        not there: the lake was moved or deleted after the run. A read-write open (the run that
        re-roots a moved lake: Lake.adopt_attribution_parts) does not check."""
        try:
            parts = [p for p, in queries.cursor(self.con, "store/attribution_part_paths").fetchall()]
        except duckdb.CatalogException:          # a store from before schema 8 names none
            return
        missing = _missing_parts(parts)
        if missing:
            raise BadInput(
                f"{self.path}: its attribution rows are kept in a Spark lake, and {len(missing)} of its "
                f"{len(parts)} parts are missing (first: {missing[0]}); the lake was moved or deleted. "
                "Run `zsaudit run --engine spark` with [engine] lake set to where the lake is now "
                "(the store is re-pointed), or analyze the period again"
            )

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            return _INSTANCES.open(self.path, read_only, _threads_config())
        except duckdb.Error as exc:  # not a DuckDB file, locked, ...
            raise BadInput(f"{self.path}: cannot open as a zsaudit DuckDB database ({exc})") from exc

    def _has_inflight(self) -> bool:
        try:
            return bool(queries.scalar(self.con, "store/inflight_count"))
        except duckdb.CatalogException:          # a store from before schema 4 has none
            return False

    def sweep_inflight(self) -> None:
        """Delete the rows of Zscaler loads killed between a chunk commit and their ledger row."""
        if self._has_inflight():
            with self.transaction() as con:
                queries.run(con, "ingest/sweep_inflight")

    # -- schema -------------------------------------------------------------------------
    def version(self) -> int:
        if not queries.scalar(self.con, "store/has_schema_version"):
            return 0
        return int(queries.scalar(self.con, "store/schema_version") or 0)

    def require(self, version: int, what: str) -> None:
        """BadInput unless the store has schema `version` (a read-only open does not migrate)."""
        if self.version() < version:
            raise BadInput(f"{self.path}: schema version {self.version()} has no {what} (schema {version}); "
                           "any command that writes the store upgrades it, e.g. `zsaudit analyze` or `zsaudit run`")

    def migrate(self) -> None:
        current, latest = self.version(), latest_version()
        if current > latest:
            raise BadInput(
                f"{self.path}: schema version {current} is newer than this zsaudit "
                f"understands ({latest}); upgrade zsaudit"
            )
        if current == latest:       # every open of a current store: no transaction to begin and commit
            return
        with self.transaction():
            if current < SCHEMA_VERSION_BASE:
                queries.run(self.con, "schema")
                queries.run(self.con, "store/record_version", {"version": SCHEMA_VERSION_BASE})
                current = SCHEMA_VERSION_BASE
            for version, name in _migrations():
                if version > current:
                    queries.run(self.con, name)
                    queries.run(self.con, "store/record_version", {"version": version})

    # -- transactions -------------------------------------------------------------------
    def transaction(self, con: duckdb.DuckDBPyConnection | None = None):
        """`with store.transaction() as con:` the block's writes commit together or not at all;
        on `con`, a cursor of the store (a worker thread's own connection), when given."""
        return transaction(self.con if con is None else con)

    @contextmanager
    def chunked_transaction(self) -> Iterator["Chunked"]:
        """A transaction that may commit what it holds so far and go on (Chunked.commit_chunk):
        a large Zscaler file, whose rows DuckDB would otherwise hold in memory until the end."""
        with transaction(self.con) as con:
            yield Chunked(con)

    # -- helpers ------------------------------------------------------------------------
    def run(self, name: str, params: dict | None = None) -> duckdb.DuckDBPyConnection:
        """The cursor of queries/<name>.sql (one statement) with its bound parameters."""
        return queries.cursor(self.con, name, params)

    def ledger_has(self, sha256: str) -> bool:
        """Whether this content is already ingested (a refused file is tried again)."""
        return bool(queries.scalar(self.con, "store/ledger_has", {"sha256": sha256}))

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()

    def __del__(self):
        # a store dropped unclosed (or whose open failed) detaches its file, as a DuckDB
        # connection dropped closes: another process can then open it
        try:
            self.close()
        except Exception:   # noqa: BLE001  interpreter shutdown
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- transactions: where every BEGIN, COMMIT and ROLLBACK of zsaudit happens ----------------------
@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on `con` (the store's connection, or a cursor of it): committed when the
    block ends, rolled back when it raises."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    else:
        con.commit()


class Chunked:
    """The open transaction of Store.chunked_transaction(). commit_chunk() makes what it holds
    durable and goes on in a new one; what was committed stays when a later chunk fails, so the
    caller keeps the rows findable (ingest_inflight) and removes them itself on failure."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def commit_chunk(self) -> None:
        self.con.commit()
        self.con.begin()


# -- attribution rows in the Spark engine's lake (schema 8) ---------------------------------------
def _missing_parts(paths: list[str]) -> list[str]:
    """The lake parts (local paths, or object URLs) that are not there, in the order given. An
    object store's are checked by listing each folder they are in (one LIST per analysis, not a
    HEAD per part: a store of a year of nights names tens of thousands)."""
    listed: dict[str, set[str]] = {}
    missing = []
    for path in paths:
        if not sources.is_remote(path):
            if not Path(path).is_file():
                missing.append(path)
            continue
        folder, _, name = path.rpartition("/")
        if folder not in listed:
            fs, key = sources.filesystem(folder)
            try:
                fs.invalidate_cache(key)
                listed[folder] = {k.rsplit("/", 1)[-1] for k in fs.ls(key, detail=False)}
            except FileNotFoundError:
                listed[folder] = set()
            except Exception as exc:  # noqa: BLE001 - unreachable, denied: the same advice as for an input
                raise BadInput(f"{folder}: cannot list this lake folder ({sources._reason(exc)}); check the "
                               "credentials and the endpoint (AWS_ENDPOINT_URL for an S3-compatible server)") from None
        if name not in listed[folder]:
            missing.append(path)
    return missing


def name_attribution_parts(con: duckdb.DuckDBPyConnection) -> None:
    """Re-create the view attribution_lake_rows over the lake parts attribution_parts names (the
    empty view when it names none): what the view `attributions` reads besides attribution_rows."""
    parts = [p for p, in queries.cursor(con, "store/attribution_part_paths").fetchall()]
    if parts:
        queries.run(con, "store/attribution_lake_rows", literals={"parts": parts})
    else:
        queries.run(con, "store/attribution_lake_rows_none")


def release_attribution_parts(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Before correlate/10_store_attributions on either engine: the lake parts of the analysis it
    replaces, and of analyses overlapping its period (their rows moved into attribution_rows first),
    are no longer read (queries/store/release_attribution_parts.sql). Nothing to do, and nothing
    changed, in a store that names no part."""
    if queries.scalar(con, "store/attribution_parts_count"):
        queries.run(con, "store/release_attribution_parts", params)
        name_attribution_parts(con)

"""Airflow ingest: task logs, metadata DBs, REST API exports, CSV dumps and scheduler stdout.

`ingest_paths(store, paths, template=None, tz="UTC")` tells each PATH apart by its content:

- a directory: walked; task logs are the files whose path fits the log_filename_template
  (Airflow's defaults, or `template`); other files in it are sniffed like single files;
- `postgresql://...`: an Airflow metadata DB on PostgreSQL (needs the `postgres` extra);
- `https://...` (or `http://`): a live Airflow's REST API (ingest/airflow_api.py): the period's
  task instances, every try and each try's log, mirrored into files and ingested as such;
- a file starting with the SQLite header: an Airflow metadata DB;
- JSON with `task_instances` (or a list of task instances): a REST API v1/v2 export;
- CSV with a header naming dag_id, task_id, run_id / try_number: a `task_instance` dump;
- text with scheduler / API-server lines: component stdout;
- a file whose path fits the template: a task log.

Every source adds observations to `task_attempt_sources`; `task_attempts` is rebuilt from them
for the attempts each file touched (see queries/airflow/merge_attempts.sql).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import BadInput
from ..progress import QUIET, Progress
from . import airflow_api, limits
from . import airflow_metadata as metadata
from . import sources
from .airflow_logs import LogFile, ingest_log_files
from .ledger import FileResult
from .log_template import PathTemplate, describe, templates_for

__all__ = ["ingest_paths", "attempt_id", "ApiOptions"]

# Directories of Airflow's own (non-task) logs under $AIRFLOW_HOME/logs.
NON_TASK_DIRS = {"scheduler", "dag_processor", "dag_processor_manager", "triggerer"}
_SNIFF_BYTES = 64 * 1024


def attempt_id(dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
    """First 16 hex of sha256("dag_id|run_id|task_id|map_index|try_number") (same as the SQL macro)."""
    import hashlib

    key = f"{dag_id}|{run_id}|{task_id}|{int(map_index)}|{int(try_number)}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _match(path_text: str, templates: list[PathTemplate]) -> tuple[dict, PathTemplate] | None:
    for t in templates:
        ident = t.parse(path_text)
        if ident is not None:
            return ident, t
    return None


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror or exc})") from exc


# GET .../taskInstances/{task_id}/logs/{try}: {"content": ..., "continuation_token": ...}
_REST_LOGS = re.compile(r'^\{\s*"(?:content|continuation_token)"\s*:')


def _rest_logs(path: Path) -> BadInput:
    return BadInput(
        f"{path}: an Airflow REST API task-log response (JSON with \"content\"), which zsaudit does not "
        "read: its task identity is in the request URL, not in the file. Pass the API server's base URL "
        "to `zsaudit ingest airflow`, or save the log under a task-log tree whose path fits the "
        "log_filename_template.")


def sniff(path: Path) -> str | None:
    """What kind of Airflow input a (non-task-log) file is, by its content; None if none."""
    head = _head(path)
    if head.startswith(b"SQLite format 3\x00"):
        return "metadata_db"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and ('"task_id"' in text or '"task_instances"' in text):
        if '"task_instances"' in text or ('"try_number"' in text and '"event"' not in text[:2000]):
            return "rest_api"
    if _REST_LOGS.match(stripped):
        return "rest_logs"
    first = stripped.splitlines()[0] if stripped else ""
    low = first.lower()
    if "," in first and "task_id" in low and "dag_id" in low and ("run_id" in low or "try_number" in low):
        return "csv"
    if any(marker in text for marker in metadata.STDOUT_MARKERS):
        return "scheduler_stdout"
    return None


def _walk(root: Path) -> list[tuple[Path, str, bool]]:
    """Regular files below root (no hidden ones, no symlinks), each with its path relative to
    root (posix) and whether it sits in one of Airflow's own non-task log directories
    (scheduler/, dag_processor/, ...). Same files and order as a sorted top-down os.walk; one
    scandir per directory and no extra stat per file (100k-file trees: docs/benchmarks.md)."""
    found: list[tuple[Path, str, bool]] = []

    def visit(dirpath: str, parts: list[str]) -> None:
        try:
            with os.scandir(dirpath) as it:
                entries = list(it)
        except OSError:
            return                      # unreadable directory: skipped, as os.walk does
        anchor = parts.index("logs") + 1 if "logs" in parts else 0
        non_task = len(parts) > anchor and parts[anchor] in NON_TASK_DIRS
        prefix = "/".join(parts) + "/" if parts else ""
        subdirs = []
        for entry in sorted(entries, key=lambda e: e.name):
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.name.startswith("."):
                    try:
                        if not entry.is_symlink():
                            subdirs.append(entry)
                    except OSError:
                        pass
                continue
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink():
                    continue
            except OSError:
                continue
            found.append((Path(entry.path), prefix + entry.name, non_task))
        for entry in subdirs:
            visit(entry.path, parts + [entry.name])

    visit(os.fspath(root), [])
    return found


def ingest_paths(store, paths, *, template: str | None = None, tz: str = "UTC",
                 progress: Progress = QUIET, api: "ApiOptions | None" = None,
                 max_line_bytes: int = limits.MAX_LINE_BYTES, workers: int | None = None) -> list[FileResult]:
    """Ingest each PATH (see module doc). Returns one FileResult per file or source read.
    `api`: the period and options for Airflow API URLs among the paths (default: yesterday).
    `workers`: task-log batches parsed at once (default: ingest/workers.py's resolve())."""
    templates = templates_for(template)
    log_files: list[LogFile] = []
    others: list[tuple[str, object]] = []   # (kind, path-or-url)
    rejected: list[FileResult] = []
    api_warnings: list[str] = []
    for raw in paths:
        text = str(raw)
        if metadata.is_postgres_url(text):
            others.append(("postgres", text))
            continue
        if airflow_api.is_api_url(text):
            fetched = _fetch_api(store, text, api or ApiOptions(), progress)
            default_templates = templates_for(None)   # the mirror is written in Airflow's default layout
            root = fetched.export.parent.parent / "logs"
            for full in fetched.logs:
                ident, t = _match(full.relative_to(root.resolve()).as_posix(), default_templates)
                log_files.append(LogFile(path=full, ident=ident, template=t.template))
            others.append(("rest_api", fetched.export))
            api_warnings.extend(fetched.warnings)
            continue
        if sources.is_remote(text):
            found, misfits = _remote_task_logs(text, templates)
            log_files.extend(found)
            rejected.extend(_misfit(obj, templates) for obj in misfits)
            if not found:
                example = f"; e.g. {misfits[0]} does not fit {describe(templates)}" if misfits else ""
                raise BadInput(
                    f"{text}: no Airflow task logs here (no object whose key fits the log_filename_template "
                    f"{describe(templates)} under this prefix){example}. Point at the remote_base_log_folder "
                    "of airflow.cfg, or pass --template as written there.")
            continue
        path = Path(sources.local_path(raw))
        if not path.exists():
            raise BadInput(f"{path}: no such file or directory")
        if path.is_dir():
            found_before = len(log_files) + len(others)
            misfits = []
            for full, rel, non_task in _walk(path):
                hit = _match(rel, templates)
                if hit is not None:
                    ident, t = hit
                    log_files.append(LogFile(path=full, ident=ident, template=t.template))
                    continue
                if non_task:        # Airflow's own scheduler / DAG-processor logs: not task logs
                    continue
                kind = sniff(full)
                if kind == "rest_logs":
                    raise _rest_logs(full)
                if kind is not None:
                    others.append((kind, full))
                elif full.suffix == ".log":
                    misfits.append(full)
            for full in misfits:
                rejected.append(_misfit(full, templates))
            if len(log_files) + len(others) == found_before:
                example = f"; e.g. {misfits[0]} does not fit {describe(templates)}" if misfits else ""
                raise BadInput(
                    f"{path}: no Airflow task logs here (no file whose path fits the log_filename_template "
                    f"{describe(templates)}), and no metadata DB, REST export, CSV dump or scheduler output"
                    f"{example}. Point at $AIRFLOW_HOME/logs, or pass --template as written in airflow.cfg.")
            continue
        hit = _match(path.as_posix(), templates)
        kind = sniff(path)
        if kind == "rest_logs":
            raise _rest_logs(path)
        if kind is not None and (hit is None or kind in ("metadata_db", "rest_api", "csv")):
            others.append((kind, path))
        elif hit is not None:
            ident, t = hit
            log_files.append(LogFile(path=path, ident=ident, template=t.template))
        else:
            raise BadInput(
                f"{path}: not an Airflow input zsaudit knows: its path does not fit the log_filename_template "
                f"{describe(templates)}, and it is not a metadata DB (SQLite), a REST API task-instance "
                "export (JSON), a task_instance CSV dump or scheduler/API-server output. "
                "For a custom log layout pass --template exactly as in airflow.cfg.")
    results: list[FileResult] = []
    if log_files:
        results.extend(ingest_log_files(store, log_files, tz=tz, progress=progress, max_line_bytes=max_line_bytes,
                                        workers=workers))
    for kind, where in others:
        results.append(metadata.ingest_source(store, kind, where, tz=tz))
    results.extend(rejected)
    results = [r for r in results if r is not None]
    if api_warnings and results:
        results[-1].warnings.extend(api_warnings)
    _report(results, progress)
    return results


def _remote_task_logs(location: str, templates: list[PathTemplate]):
    """Task logs in object storage (Airflow's remote logging writes the same log_filename_template
    under remote_base_log_folder): (LogFiles, .log objects that fit no template). Read in the
    same batches as local files, one object at a time."""
    found, misfits = [], []
    for obj in sources.remote_files(location):
        parts = obj.relative.split("/")
        anchor = parts.index("logs") + 1 if "logs" in parts[:-1] else 0
        if len(parts) > anchor + 1 and parts[anchor] in NON_TASK_DIRS:
            continue
        hit = _match(obj.relative, templates) or _match(obj.key, templates)
        if hit is not None:
            ident, t = hit
            found.append(LogFile(path=obj, ident=ident, template=t.template, display=obj.url))
        elif obj.suffix == ".log":
            misfits.append(obj)
    return found, misfits


@dataclass
class ApiOptions:
    """How to read an Airflow API URL: the period, where its mirror lives, TLS and secrets."""

    since: datetime | None = None
    until: datetime | None = None
    mirror: Path | None = None          # default: <db>.airflow-api/ beside the store
    ca_bundle: str | None = None
    secrets_file: str | None = None


def _fetch_api(store, url: str, options: ApiOptions, progress: Progress):
    from ..timeutil import yesterday_utc

    since, until = options.since, options.until
    if since is None or until is None:
        since, until = yesterday_utc()
    client = airflow_api.Client(url, airflow_api.Credentials.load(secrets_file=options.secrets_file),
                                ca_bundle=options.ca_bundle)
    root = options.mirror or store.path.with_name(f"{store.path.name}.airflow-api")
    return airflow_api.fetch(client, airflow_api.mirror_dir(root, client.base), since, until, progress=progress)


def _report(results: list[FileResult], progress: Progress, detail_limit: int = 50) -> None:
    """One line per file for small runs; for a big tree, a total per kind and the problems."""
    if len(results) <= detail_limit:
        for r in results:
            progress.log(r.summary() if not r.note or r.rows_loaded else f"{r.path}: {r.note}")
        return
    totals: dict[str, list[int]] = {}
    for r in results:
        t = totals.setdefault(r.source_kind or "?", [0, 0, 0, 0, 0, 0])
        t[0] += 1
        t[1] += r.lines_read
        t[2] += r.rows_loaded
        t[3] += r.rows_rejected
        t[4] += int(r.skipped)
        t[5] += int(r.replaced)
    for kind, (n, read, loaded, rejected, skipped, replaced) in sorted(totals.items()):
        progress.log(f"{kind}: {n} files, {read} lines read, {loaded} loaded, {rejected} rejected, "
                     f"{skipped} already ingested, {replaced} replaced")


def _misfit(path, templates: list[PathTemplate]) -> FileResult:
    msg = (f"{path}: rejected: the path does not fit the log_filename_template {describe(templates)}; "
           "not ingested (pass --template if your airflow.cfg sets another one)")
    return FileResult(path=str(path), sha256="", source_kind="airflow_tasklog", format="",
                      note=msg, warnings=[msg])

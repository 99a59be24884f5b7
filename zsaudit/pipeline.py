"""The nightly job as one core API: ingest -> analyze -> report, from a zsaudit.toml.

`zsaudit run`, `zsaudit demo` and the Airflow DAG `zsaudit_nightly` all call this module; none of
them has logic the others lack. The DAG runs one stage per task (`run_stage`), the CLI runs all
of them (`run`).

Re-running is safe at every point:
  * ingest: each file loads in one transaction and is recorded in the ledger with its sha256;
    files already in the ledger are skipped, so a run killed mid-ingest resumes where it stopped;
  * analyze: replaces the period's previous analysis; skipped when nothing was ingested since
    the last analysis of the same period with the same identity map (so a re-run changes nothing);
  * report: renders into a temporary sibling directory and swaps it in when complete, so a
    killed run never leaves half a pack; the pack's generation time is the store's last ingest
    time, so two runs for the same night write the same bytes.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterator

from . import __version__
from .analyze.rules import SEVERITY_RANK
from .config import Config, expand, lake_of
from .errors import BadInput, BadUsage, Busy
from .ingest.workers import resolve as resolve_workers
from .lake import Lake, zscaler_unit
from .packs import apply_retention, claim_packs_dir
from .periods import pack_name, resolve_period
from .progress import QUIET, Progress
from .store import Store
from .timeutil import iso_z

STAGES = ("ingest_zscaler", "ingest_airflow", "analyze", "report")


def _iso(t):
    return iso_z(t, "seconds")   # this module's precision of timeutil.iso_z



class StoreBusy(Busy):
    """The DuckDB file is locked by another process (another run, a notebook): worth a retry."""


def open_store(path: Path) -> Store:
    try:
        return Store(path)
    except BadInput as exc:
        if "Could not set lock" in str(exc):
            raise StoreBusy(f"{path}: in use by another process; try again when it is done "
                            f"({str(exc).split('(', 1)[-1].rstrip(')')})") from exc
        raise


# -- results ------------------------------------------------------------------------------------
@dataclass
class IngestSummary:
    source: str                      # zscaler | airflow
    paths: list[str] = field(default_factory=list)
    files_new: int = 0
    files_skipped: int = 0           # already in the ledger
    files_replaced: int = 0          # grown files that replaced their earlier rows
    lines_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0          # records already loaded (resent), not loaded again
    files_refused: int = 0           # no line could be a record: in the ledger as refused
    files_over_reject_rate: int = 0  # rejected more than the configured share of their lines
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_results(cls, source: str, paths: list[str], results, warnings: list[str]) -> "IngestSummary":
        s = cls(source=source, paths=list(paths), warnings=list(warnings))
        for r in results:
            if r.skipped:
                s.files_skipped += 1
                continue
            s.files_new += 1
            s.files_refused += int(bool(r.refused))
            s.rows_duplicate += r.rows_duplicate
            s.files_replaced += int(bool(r.replaced))
            s.lines_read += r.lines_read
            s.rows_loaded += r.rows_loaded
            s.rows_rejected += r.rows_rejected
            s.warnings.extend(f"{r.path}: {w}" for w in (r.warnings or []))
        return s

    def text(self) -> str:
        if not self.paths:
            return f"ingest {self.source}: no locations configured"
        text = (f"ingest {self.source}: {self.files_new} new files ({self.files_skipped} already ingested), "
                f"{self.rows_loaded} rows loaded, {self.rows_rejected} rejected")
        if self.rows_duplicate:
            text += f", {self.rows_duplicate} duplicates not loaded again"
        if self.files_refused:
            text += f"; {self.files_refused} files refused"
        if self.files_over_reject_rate:
            text += f"; {self.files_over_reject_rate} files over the reject rate"
        return text


@dataclass
class FindingsSummary:
    analyzed: bool = False           # False: the period's earlier analysis was still current
    analysis_id: str | None = None
    total: int = 0
    open: int = 0
    accepted: int = 0
    by_kind: dict = field(default_factory=dict)        # open findings per kind
    by_severity: dict = field(default_factory=dict)    # open findings per severity
    not_evaluable: int = 0

    def text(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items())) or "none"
        word = "analyzed" if self.analyzed else "analysis unchanged (nothing new ingested)"
        return (f"analyze: {word}; {self.open} open findings ({kinds}), {self.accepted} accepted "
                f"by exception, {self.not_evaluable} checks not evaluable")


@dataclass
class PackSummary:
    dir: Path
    index_html: Path
    pdf: Path | None
    manifest: Path
    manifest_sha256: str
    problems: list[str] = field(default_factory=list)   # zsaudit.report.verify of the written pack
    removed: list[str] = field(default_factory=list)    # old packs removed by retention
    status: dict = field(default_factory=dict)          # the pack's one overall status
    warnings: list[str] = field(default_factory=list)   # e.g. a night re-rendered under later nights

    def text(self) -> str:
        state = "verified" if not self.problems else f"{len(self.problems)} PROBLEMS: {self.problems[0]}"
        return (f"report: {self.index_html}" + (f" and {self.pdf}" if self.pdf else "") + f" ({state}); "
                f"manifest sha256 {self.manifest_sha256}")


@dataclass
class NightResult:
    """One night of a backfill (`run --since --until` over several whole days)."""

    night: str                       # YYYY-MM-DD
    status: str                      # built | complete (an intact pack was there: skipped) | failed
    reason: str | None = None        # why a night could not be built
    pack: PackSummary | None = None
    findings: FindingsSummary | None = None

    def text(self) -> str:
        if self.status == "failed":
            return f"night {self.night}: NOT BUILT: {self.reason}"
        if self.status == "complete":
            return f"night {self.night}: complete (an intact pack is there), skipped"
        state = "verified" if not self.pack.problems else f"{len(self.pack.problems)} PROBLEMS: {self.pack.problems[0]}"
        return (f"night {self.night}: built, {self.findings.open} open findings, manifest sha256 "
                f"{self.pack.manifest_sha256} ({state})")


def _at_or_above(findings: FindingsSummary | None, fail_on: str | None) -> int:
    if not fail_on or not findings:
        return 0
    floor = SEVERITY_RANK[fail_on]
    return sum(n for sev, n in findings.by_severity.items() if SEVERITY_RANK.get(sev, -1) >= floor)


@dataclass
class RunSummary:
    since: datetime
    until: datetime
    db: Path
    ingest: dict[str, IngestSummary] = field(default_factory=dict)
    findings: FindingsSummary | None = None
    pack: PackSummary | None = None
    fail_on: str | None = None
    warnings: list[str] = field(default_factory=list)
    nights: list[NightResult] | None = None   # a backfill: each night's pack (findings/pack: the newest built)

    @property
    def failing(self) -> int:
        """Open findings at or above fail_on (0 when fail_on is off); a backfill: over its built nights."""
        if self.nights is not None:
            return sum(_at_or_above(n.findings, self.fail_on) for n in self.nights if n.status == "built")
        return _at_or_above(self.findings, self.fail_on)

    @property
    def nights_failed(self) -> list[NightResult]:
        return [n for n in self.nights or [] if n.status == "failed"]

    @property
    def exit_code(self) -> int:
        """2: a night of a backfill could not be built; 1: findings at or above fail_on; else 0."""
        return 2 if self.nights_failed else 1 if self.failing else 0

    def lines(self) -> list[str]:
        out = [f"zsaudit run: period {_iso(self.since)} .. {_iso(self.until)}, store {self.db}"]
        out += [s.text() for s in self.ingest.values()]
        if self.nights is not None:
            out += [n.text() for n in self.nights]
            built = sum(n.status == "built" for n in self.nights)
            done = sum(n.status == "complete" for n in self.nights)
            out.append(f"backfill: {built} nights built, {done} already complete, "
                       f"{len(self.nights_failed)} not built, of {len(self.nights)}")
        else:
            if self.findings:
                out.append(self.findings.text())
            if self.pack:
                out.append(self.pack.text())
        out += [f"warning: {w}" for w in self.warnings]
        if self.pack and self.pack.status:
            out.append(f"status: {self.pack.status['text']}")
        if self.fail_on:
            verdict = (f"FAIL: {self.failing} open findings at or above {self.fail_on}" if self.failing
                       else f"ok: no open findings at or above {self.fail_on}")
            out.append(verdict)
        return out

    def to_json(self) -> dict:
        """The `--json` form (documented in docs/running.md; keys are stable)."""

        def ingest_json(s: IngestSummary) -> dict:
            d = asdict(s)
            d.pop("source")
            return d

        def pack_json(p: PackSummary | None) -> dict | None:
            return None if p is None else {
                "dir": str(p.dir),
                "index_html": str(p.index_html),
                "pdf": str(p.pdf) if p.pdf else None,
                "manifest": str(p.manifest),
                "manifest_sha256": p.manifest_sha256,
                "verified": not p.problems,
                "problems": p.problems,
                "removed_by_retention": p.removed,
                "status": p.status.get("label"),
                "status_reasons": p.status.get("reasons", []),
            }

        out = {
            "zsaudit_version": __version__,
            "period": {"since": _iso(self.since), "until": _iso(self.until)},
            "db": str(self.db),
            "ingest": {k: ingest_json(v) for k, v in self.ingest.items()},
            "findings": asdict(self.findings) if self.findings else None,
            "pack": pack_json(self.pack),
            "fail_on": self.fail_on,
            "failing_findings": self.failing,
            "exit_code": self.exit_code,
            "warnings": self.warnings,
        }
        if self.nights is not None:
            out["nights"] = [{"night": n.night, "status": n.status, "reason": n.reason, "pack": pack_json(n.pack),
                              "findings": asdict(n.findings) if n.findings else None} for n in self.nights]
        return out



# -- stages -------------------------------------------------------------------------------------
def ingest_zscaler(store: Store, config: Config, progress: Progress = QUIET, *,
                   workers: int | None = None) -> IngestSummary:
    """Every zscaler.paths file not yet in the ledger; `workers`: the CLI's --workers (else
    ZSAUDIT_INGEST_WORKERS, else `[ingest] workers`, else one per core: ingest/workers.py)."""
    paths, warnings = expand(config.zscaler_paths, "zscaler.paths", config)
    if not paths:
        return IngestSummary("zscaler", [], warnings=warnings)
    from .ingest import zscaler

    from .ingest import ledger

    files, known = _not_in_ledger(store, paths)
    try:
        results = zscaler.ingest_paths(store, files, fmt=config.zscaler_format, fields=config.zscaler_fields,
                                       tz=config.zscaler_tz, progress=progress,
                                       workers=resolve_workers(workers, config.ingest_workers)) if files else []
    except zscaler.IngestInternalError:
        raise
    except zscaler.IngestErrors as exc:
        # a refused file never stops the night: it is in the ledger, the pack lists it
        results = exc.results
        warnings = [*warnings, *(f"not ingested: {line}" for line in str(exc).splitlines())]
    over = ledger.over_reject_rate(results, config.max_reject_rate)
    summary = IngestSummary.from_results("zscaler", paths, results, [*warnings, *over])
    summary.files_skipped += known
    summary.files_over_reject_rate = len(over)
    return summary


def list_files(paths: list[str]) -> list[tuple[str, object]]:
    """(path or URL, what stat()s it) of every file under `paths`: directories read recursively,
    hidden files skipped, as the Zscaler ingester reads them."""
    from .ingest import sources

    files: list[tuple[str, object]] = []
    for p in paths:
        if sources.is_remote(p):                   # objects: size and modification time listed
            files.extend((obj.url, obj) for obj in sources.remote_files(p))
        elif os.path.isdir(p):
            files.extend((str(f), f) for f in sources.local_files(Path(p)))
        else:
            files.append((p, Path(p)))
    return files


def _not_in_ledger(store: Store, paths: list[str]) -> tuple[list[str], int]:
    """Files under `paths` (directories read recursively, hidden ones skipped, as the Zscaler
    ingester does) minus those the ledger already holds unchanged: same path and size, not
    modified since their load started. Spares re-hashing months of logs every night; the
    ingester still checks the sha256 of everything it is given."""
    files = list_files(paths)
    ledger = {(path, size): started for path, size, started in store.run("pipeline/ledger_files").fetchall()}
    fresh, known = [], 0
    for f, entry in files:
        st = entry.stat()
        started = ledger.get((f, st.st_size))
        if started is not None and st.st_mtime < started.timestamp():
            known += 1
        else:
            fresh.append(f)
    return fresh, known


def ingest_airflow(store: Store, config: Config, progress: Progress = QUIET, *,
                   since: datetime | None = None, until: datetime | None = None,
                   workers: int | None = None) -> IngestSummary:
    """Every airflow.paths location; an Airflow API URL among them is read for [since, until).
    `workers`: as for ingest_zscaler."""
    paths, warnings = expand(config.airflow_paths, "airflow.paths", config)
    if not paths:
        return IngestSummary("airflow", [], warnings=warnings)
    from .ingest import airflow

    def opt(p):
        return None if p is None else str(p)

    api = airflow.ApiOptions(since=since, until=until, mirror=config.airflow_api_mirror,
                             ca_bundle=opt(config.airflow_api_ca_bundle),
                             secrets_file=opt(config.airflow_api_secrets_file))
    results = airflow.ingest_paths(store, paths, template=config.airflow_template, tz=config.airflow_tz,
                                   progress=progress, api=api,
                                   workers=resolve_workers(workers, config.ingest_workers))
    return IngestSummary.from_results("airflow", paths, results, warnings)


def analyze(store: Store, config: Config, since: datetime, until: datetime, *, force: bool = False,
            progress: Progress = QUIET, correlator=None) -> FindingsSummary:
    """Analyze the period unless its latest analysis is still current (same identity map, nothing
    ingested after it): then the pack of a re-run is byte-identical."""
    if not config.identity_map.is_file():
        raise BadUsage(f"{config.where('identity_map')}: {config.identity_map} does not exist")
    current = None if force else _current_analysis(store, config, since, until)
    if current is None:
        from .analyze.analysis import analyze as run_analysis

        run_analysis(store, config.identity_map, since=since, until=until, progress=progress,
                     gap_threshold=config.gap_threshold, max_reject_rate=config.max_reject_rate,
                     correlator=correlator)
    summary = findings_summary(store, since, until)
    summary.analyzed = current is None
    return summary


def _identity_map_warnings(config: Config) -> list[str]:
    from .identity_map import load as load_identity_map

    return load_identity_map(config.identity_map).warnings()


def _current_analysis(store: Store, config: Config, since: datetime, until: datetime) -> str | None:
    from .identity_map import load as load_identity_map

    sha = load_identity_map(config.identity_map).sha256  # as analyze records it; also validates the map
    row = store.run("pipeline/current_analysis", {"since": since, "until": until, "sha": sha}).fetchone()
    return row[0] if row else None


def findings_summary(store: Store, since: datetime, until: datetime) -> FindingsSummary:
    s = FindingsSummary()
    row = store.run("pipeline/latest_analysis", {"since": since, "until": until}).fetchone()
    s.analysis_id = row[0] if row else None
    for kind, severity, status, n in store.run("pipeline/findings_counts",
                                               {"analysis_id": s.analysis_id}).fetchall():
        s.total += n
        if status == "accepted":
            s.accepted += n
            continue
        s.open += n
        s.by_kind[kind] = s.by_kind.get(kind, 0) + n
        s.by_severity[severity] = s.by_severity.get(severity, 0) + n
    s.not_evaluable = store.run("pipeline/not_evaluable_count", {"analysis_id": s.analysis_id}).fetchone()[0]
    return s


def signing_key(config: Config):
    """The key that signs each manifest (report.signing.key_from: pack.signing_key, $ZSAUDIT_SIGNING_KEY)."""
    from .report.signing import key_from

    return key_from(None, config)


def report(store: Store, config: Config, since: datetime, until: datetime, *,
           progress: Progress = QUIET, key=None) -> PackSummary:
    """Render the period's pack into pack_dir/<period>/ atomically, verify it, apply retention.
    A night's pack (one UTC day) is chained to the nearest earlier night (report.chain)."""
    from . import report as report_mod
    from .ingest.ledger import sha256_file
    from .report import chain

    claim_packs_dir(config)
    name = pack_name(since, until)
    final = config.pack_dir / name
    night = chain.night_of(name)
    before = sha256_file(final / "manifest.json") if (final / "manifest.json").is_file() else None
    result = report_mod.render(store, final, since=since, until=until, pdf=config.pdf,
                               generated_at=_evidence_time(store, until),
                               identity_map_path=config.identity_map, progress=progress,
                               controls=config.controls, lock_wait=config.lock_wait,
                               chain=chain.link(config.pack_dir, night) if night else None,
                               signing_key=key if key is not None else signing_key(config))
    problems = report_mod.verify(final)
    warnings = []
    later = chain.nightly_manifests(config.pack_dir, since=night + timedelta(days=1)) if night else []
    if before is not None and before != result.manifest_sha256 and later:
        warnings.append(f"night {name} re-rendered with other content after later nights: night "
                        f"{later[0].night.isoformat()} recorded its earlier manifest sha256 {before}, so "
                        f"`zsaudit verify --chain {config.pack_dir}` now reports night {name} as rewritten "
                        "(keep this run's output as the explanation for the auditor)")
    removed = apply_retention(config, until, keep=final.name)
    return PackSummary(dir=final, index_html=final / "index.html",
                       pdf=(final / "audit-pack.pdf") if result.pdf else None,
                       manifest=final / "manifest.json", manifest_sha256=result.manifest_sha256,
                       problems=problems, removed=removed, status=result.status, warnings=warnings)


def _evidence_time(store: Store, until: datetime) -> datetime:
    """The pack's 'generated at': when the store last took in evidence (so a re-run that
    ingests nothing writes the same bytes); the period end for an empty store."""
    row = store.run("pipeline/last_ingest").fetchone()
    return row[0] if row and row[0] is not None else until


# -- engines ------------------------------------------------------------------------------------
@contextmanager
def _engine(config: Config) -> Iterator[object]:
    """The SparkContext of a run with engine.name = "spark" (stopped after it), else None."""
    if config.engine != "spark":
        yield None
        return
    from .spark.session import session

    with session(config.spark_master) as spark:
        yield spark


def _ingest_on_spark(spark, store: Store, config: Config, summary: "RunSummary", stages, progress: Progress) -> None:
    """Ingest on the cluster into the lake, then the lake's new units into the store (for the
    global analysis step and the report)."""
    from .ingest import ledger
    from .spark import ingest as spark_ingest

    lake = Lake.at(lake_of(config))
    wanted = {"zscaler": "ingest_zscaler" in stages, "airflow": "ingest_airflow" in stages}
    z_paths, z_warn = expand(config.zscaler_paths, "zscaler.paths", config) if wanted["zscaler"] else ([], [])
    a_paths, a_warn = expand(config.airflow_paths, "airflow.paths", config) if wanted["airflow"] else ([], [])
    done = {}
    if any(wanted.values()):
        progress.log(f"ingest: spark job on {config.spark_master}, lake {lake.root}")
        done = spark_ingest.ingest(spark, lake, config, [f for f, _ in list_files(z_paths)], a_paths,
                                   since=summary.since, until=summary.until)
    # the store loads this run's Zscaler units in input order, each record once (as on one machine)
    units = {zscaler_unit(r.sha256, r.path): r for r in done.get("zscaler", ([], []))[0] if not r.skipped and r.sha256}
    loaded = lake.load_into(store, order=list(units))
    for unit in loaded.copies:          # the same bytes under another path: skipped, as on one machine
        if unit in units:
            units[unit].skipped = True
    for r in units.values():            # records another file loaded first: duplicates, as on one machine
        row = store.run("pipeline/ledger_counts", {"file_id": r.sha256}).fetchone()
        if row and not r.skipped:
            r.rows_loaded, r.rows_duplicate = row
    progress.log(f"ingest: {loaded.units} new units of the lake loaded into the store")
    if done:
        for source, paths, warnings in (("zscaler", z_paths, z_warn), ("airflow", a_paths, a_warn)):
            if not wanted[source]:
                continue
            results, errors = done[source]
            over = ledger.over_reject_rate(results, config.max_reject_rate) if source == "zscaler" else []
            s = IngestSummary.from_results(source, paths, results,
                                           [*warnings, *(f"not ingested: {e}" for e in errors), *over])
            s.files_over_reject_rate = len(over)
            summary.ingest[source] = s
    if lake.adopt_attribution_parts(store):
        progress.log(f"analyze: the store's attribution rows are read from the lake at {lake.root} (it was moved)")


# -- composition --------------------------------------------------------------------------------
def run(config: Config, *, since=None, until=None, fail_on: str | None = None, use_config_fail_on: bool = True,
        progress: Progress = QUIET, stages: tuple[str, ...] = STAGES, now: datetime | None = None,
        reanalyze: bool = False, workers: int | None = None) -> RunSummary:
    """The nightly job: the given stages (all by default) for the period (see resolve_period).
    Never raises for findings: the caller turns RunSummary.exit_code into its own signal.
    `workers`: the CLI's --workers for the ingest stages (see ingest_zscaler)."""
    start, end = resolve_period(config, since, until, now=now)
    summary = RunSummary(since=start, until=end, db=config.db,
                         fail_on=fail_on if fail_on is not None or not use_config_fail_on else config.fail_on)
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise BadUsage(f"unknown stage(s) {sorted(unknown)}; stages are {', '.join(STAGES)}")
    key = None
    if "report" in stages:
        claim_packs_dir(config)  # a wrong pack.out_dir fails now, not after an hour of ingest
        key = signing_key(config)  # and so does a wrong signing key
    nights = backfill_nights(start, end) if "report" in stages else None
    with open_store(config.db) as store, _engine(config) as spark:
        if spark is not None:
            _ingest_on_spark(spark, store, config, summary, stages, progress)
        if "ingest_zscaler" in stages and spark is None:
            summary.ingest["zscaler"] = ingest_zscaler(store, config, progress, workers=workers)
        if "ingest_airflow" in stages and spark is None:
            summary.ingest["airflow"] = ingest_airflow(store, config, progress, since=start, until=end,
                                                       workers=workers)
        for s in summary.ingest.values():
            summary.warnings.extend(s.warnings)
        correlator = None
        if spark is not None and "analyze" in stages:
            from .spark.analyze import Correlator

            correlator = Correlator(spark, Lake.at(lake_of(config)))
        if nights:
            summary.nights = backfill(store, config, nights, analyze_too="analyze" in stages, force=reanalyze,
                                      key=key, progress=progress, correlator=correlator)
            built = [n for n in summary.nights if n.status == "built"]
            summary.warnings.extend(w for n in built for w in n.pack.warnings)
            summary.findings, summary.pack = (built[-1].findings, built[-1].pack) if built else (None, None)
            if "analyze" in stages:
                summary.warnings.extend(_identity_map_warnings(config))
            return summary
        if "analyze" in stages:
            summary.findings = analyze(store, config, start, end, force=reanalyze, progress=progress,
                                       correlator=correlator)
            summary.warnings.extend(_identity_map_warnings(config))
        elif "report" in stages:
            summary.findings = findings_summary(store, start, end)
        if "report" in stages:
            summary.pack = report(store, config, start, end, progress=progress, key=key)
            summary.warnings.extend(summary.pack.warnings)
    return summary


def backfill_nights(since: datetime, until: datetime) -> list[tuple[datetime, datetime]] | None:
    """The UTC nights of a period of several whole days (a backfill renders one pack per night);
    None for one night or a period that does not start and end at midnight (one pack)."""
    since, until = since.astimezone(timezone.utc), until.astimezone(timezone.utc)
    span = until - since
    if since.time() != time.min or until.time() != time.min or span <= timedelta(days=1):
        return None
    return [(since + timedelta(days=i), since + timedelta(days=i + 1)) for i in range(span.days)]


def backfill(store: Store, config: Config, nights: list[tuple[datetime, datetime]], *, analyze_too: bool = True,
             force: bool = False, key=None, progress: Progress = QUIET, correlator=None) -> list[NightResult]:
    """Each night's pack in order, chained to the one before; nights with an intact pack are
    skipped. A night that cannot be built (a bad input, a folder in the way) is reported with
    its reason and the others go on; an internal error stops the backfill."""
    from . import report as report_mod
    from .errors import ZsauditError
    from .report.manifest import is_pack

    out = []
    for since, until in nights:
        name = pack_name(since, until)
        existing = config.pack_dir / name
        if is_pack(existing) and not report_mod.verify(existing):
            out.append(NightResult(name, "complete"))
            continue
        progress.log(f"backfill: night {name}")
        try:
            findings = (analyze(store, config, since, until, force=force, progress=progress, correlator=correlator)
                        if analyze_too
                        else findings_summary(store, since, until))
            pack = report(store, config, since, until, progress=progress, key=key)
        except ZsauditError as exc:
            out.append(NightResult(name, "failed", reason=str(exc)))
            continue
        out.append(NightResult(name, "built", pack=pack, findings=findings))
    return out


def run_stage(stage: str | None, config: Config, *, since=None, until=None, progress: Progress = QUIET) -> dict:
    """One stage (None: every stage, in one process) for one Airflow task: {"text": a line for
    the task log, "json": for XCom}. The report stage raises FindingsAtOrAbove when the config's
    fail_on is reached."""
    from .errors import FindingsAtOrAbove

    stages = STAGES if stage is None else (stage,)
    summary = run(config, since=since, until=until, progress=progress, stages=stages)
    lines = summary.lines()[1:] or [stage or "run"]
    if summary.nights_failed:
        failed = summary.nights_failed
        raise BadInput(f"{len(failed)} night(s) not built: " + "; ".join(f"{n.night}: {n.reason}" for n in failed))
    if "report" in stages and summary.exit_code:
        raise FindingsAtOrAbove(f"{summary.failing} open findings at or above {summary.fail_on}; "
                                f"pack written to {summary.pack.dir if summary.pack else '?'}")
    data = summary.to_json()
    return {"text": "; ".join(lines), "json": data}

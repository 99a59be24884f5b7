"""The SOC 2 audit pack: index.html, audit-pack.pdf, evidence/, findings.ocsf.json, manifest.json.

    render(store, out_dir, since=..., until=..., generated_at=...) -> PackResult
    verify(pack_dir) -> list of problems (empty: intact)

Modules: context (the numbers, from queries/report/*.sql), charts (SVG geometry), html (jinja2),
pdf (WeasyPrint), evidence (CSV/Parquet populations), ocsf (findings for SIEMs), manifest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__, output, queries
from ..errors import BadInput
from ..progress import QUIET, Progress
from ..timeutil import parse_time, resolve_period
from . import context, evidence, html, manifest, ocsf, paths, signing
from .manifest import verify

__all__ = ["render", "verify", "PackResult"]

PACK_FILES = ("index.html", "audit-pack.pdf", "findings.ocsf.json", manifest.MANIFEST)
ATTACHMENTS = "attachments"


@dataclass
class PackResult:
    out_dir: Path
    since: datetime
    until: datetime
    generated_at: datetime
    files: list[str]
    manifest_sha256: str
    counts: dict = field(default_factory=dict)
    pdf: Path | None = None
    seconds: float = 0.0
    query_seconds: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)      # context.overall_status: label, tone, text, reasons
    kind: str = "pack"                              # pack | period (report/period.py)

    def summary(self) -> str:
        c = self.counts
        if self.kind == "period":
            return (
                f"status: {self.status.get('text', '?')}\n"
                f"{self.out_dir}: period pack for {html.iso(self.since)} .. {html.iso(self.until)}: "
                f"{c.get('nights_analysed', 0)} of {c.get('nights', 0)} nights analysed, {c.get('subjects', 0)} "
                f"finding subjects ({c.get('subjects_open', 0)} open, {c.get('subjects_accepted', 0)} accepted, "
                f"{c.get('subjects_resolved', 0)} resolved); {len(self.files) + 1} files, "
                f"manifest sha256 {self.manifest_sha256}"
            )
        return (
            f"status: {self.status.get('text', '?')}\n"
            f"{self.out_dir}: audit pack for {html.iso(self.since)} .. {html.iso(self.until)}: "
            f"{c.get('requests', 0)} requests, {c.get('attempts', 0)} task attempts, "
            f"{c.get('findings_open', 0)} open findings, {c.get('findings_accepted', 0)} accepted; "
            f"{len(self.files) + 1} files, manifest sha256 {self.manifest_sha256}"
        )


def _iso_or_none(value):
    return html.iso(value) if value is not None else None


def _require_analysis(con, period: context.Period) -> None:
    """Refuse a pack over a stretch no analysis covers: its checks never ran, so it would read clean."""
    gaps = con.execute(queries.load("report/analysis_gaps"), period.params()).fetchall()
    if not gaps:
        return
    start, end = gaps[0]
    more = f" (and {len(gaps) - 1} more stretch(es))" if len(gaps) > 1 else ""
    raise BadInput(
        f"no analysis covers {html.iso(start)} .. {html.iso(end)}{more} of the period "
        f"{html.iso(period.since)} .. {html.iso(period.until)}: nothing was checked there, so the pack "
        f"would read clean. Run `zsaudit analyze --identity-map FILE --since {html.iso(period.since)} "
        f"--until {html.iso(period.until)}` first (or `zsaudit run`, which analyzes before it reports)"
    )


def render(store, out_dir, *, since=None, until=None, pdf: bool = True, generated_at=None,
           identity_map_path=None, progress: Progress = QUIET, sample_seed: int | None = None,
           top_n: int = 25, sample_size: int = 10, controls: dict | None = None,
           lock_wait: float = output.LOCK_WAIT, chain: dict | None = None, signing_key=None) -> PackResult:
    """Render the audit pack for [since, until) into out_dir.

    chain: the manifest's link to the previous night (chain.link; nightly packs of `run`).
    signing_key (signing.load_private_key): manifest.sig signs manifest.json, and the cover and
    the manifest show the public key's fingerprint.

    Defaults: the period of the latest analysis (else whole days around the data), generated_at
    now (seconds), the sample seed derived from the period. Same store, period, generated_at and
    seed give byte-identical index.html, CSV files and manifest.json.

    out_dir must be new, empty or an earlier pack (BadUsage otherwise). The pack is rendered into
    a temporary sibling and swapped in whole, under a lock on out_dir (zsaudit.output): a killed
    render leaves the earlier pack as it was; a second render into out_dir meanwhile waits up to
    `lock_wait` seconds for the first to finish, then gets Busy.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)

    return write_pack(store, out_dir, lambda con, tmp: _render(
        store, con, tmp, since=since, until=until, pdf=pdf, generated_at=generated_at,
        identity_map_path=identity_map_path, progress=progress, sample_seed=sample_seed, top_n=top_n,
        sample_size=sample_size, controls=controls, started=started, chain=chain, signing_key=signing_key),
        lock_wait=lock_wait)


def write_pack(store, out_dir: Path, render_into, *, lock_wait: float = output.LOCK_WAIT) -> PackResult:
    """Run render_into(con, tmp_dir) -> PackResult on its own DuckDB session (its settings do not
    leak into the caller's connection), into a temporary sibling of out_dir swapped in whole under
    the lock of zsaudit.output (a second writer waits up to lock_wait seconds); the result names out_dir.
    A small store's pack is planned without DuckDB's optimizers (queries.small_store_settings)."""
    def write(tmp: Path) -> PackResult:
        con = store.con.cursor()
        try:
            with queries.settings(con, **queries.small_store_settings(con)):
                return render_into(con, tmp)
        finally:
            con.close()

    result = output.write_atomically(out_dir, write, is_ours=manifest.is_pack, kind="pack", lock_wait=lock_wait)
    result.out_dir = out_dir
    if result.pdf is not None:
        result.pdf = out_dir / result.pdf.name
    return result


def _render(store, con, out_dir: Path, *, since, until, pdf, generated_at, identity_map_path, progress,
            sample_seed, top_n, sample_size, controls, started, chain, signing_key) -> PackResult:
    queries.set_option(con, "TimeZone", "UTC")  # CSV and displayed times are UTC whatever the machine says
    # memory_limit is database-wide: bound it while the pack renders (DuckDB spills to disk past
    # it), then give the caller back its own setting
    with queries.settings(con, memory_limit=os.environ.get("ZSAUDIT_REPORT_MEMORY", "2GB")):
        return _render_pack(store, con, out_dir, since=since, until=until, pdf=pdf, generated_at=generated_at,
                            identity_map_path=identity_map_path, progress=progress, sample_seed=sample_seed,
                            top_n=top_n, sample_size=sample_size, controls=controls, started=started,
                            chain=chain, signing_key=signing_key)


def queries_attachment(used: list[dict]) -> str:
    """attachments/queries.sql: the text of every query a pack used, each headed by its sha256."""
    return "".join(f"-- ==== queries/{q['name']}.sql  sha256 {q['sha256']}\n{q['text'].rstrip()}\n\n" for q in used)


def _write_attachments(out_dir: Path, ctx: dict) -> list[dict]:
    """attachments/: the query texts and the identity map, also embedded in the PDF. The per-file
    ledger is evidence/ingest_ledger.csv, embedded likewise."""
    folder = out_dir / ATTACHMENTS
    folder.mkdir(exist_ok=True)
    queries_sql = queries_attachment(ctx["queries"])
    written = [(f"{ATTACHMENTS}/queries.sql", queries_sql,
                f"the text of the {len(ctx['queries'])} queries behind every number of the pack")]
    identity = ctx["identity"]
    identity["attachment"] = None
    if identity.get("text") is not None:
        identity["attachment"] = f"{ATTACHMENTS}/identity-map.toml"
        written.append((identity["attachment"], identity["text"],
                        "the identity map the findings were judged against (service accounts, workers, exceptions)"))
    out = []
    for name, text, description in written:
        (out_dir / name).write_text(text, encoding="utf-8", newline="\n")
        out.append({"name": name, "description": description})
    out.append({"name": "evidence/ingest_ledger.csv",
                "description": "the ledger of every input file: path below its source root, sha256, lines read, loaded, rejected"})
    for a in out:
        a["sha256"] = manifest.sha256_file(out_dir / a["name"])
    return out


def _write_pdf(out_dir: Path, ctx: dict, generated: datetime, *, template: str = "pack.html") -> Path:
    """audit-pack.pdf from the template in PDF mode, with the pack's attachments embedded."""
    from . import pdf as pdf_writer

    path = out_dir / "audit-pack.pdf"
    pdf_writer.write(html.render(ctx, mode="pdf", template=template), path, created=generated,
                     attachments=[(out_dir / a["name"], a["description"]) for a in ctx.get("attachments", [])])
    return path


def _render_pack(store, con, out_dir: Path, *, since, until, pdf, generated_at, identity_map_path, progress,
                 sample_seed, top_n, sample_size, controls, started, chain, signing_key) -> PackResult:
    period = context.Period(*resolve_period(since, until, fill=context.stored_period(con)))
    generated = parse_time(generated_at, what="--generated-at") if generated_at else datetime.now(timezone.utc)
    generated = generated.replace(microsecond=0)
    seed = int(sample_seed) if sample_seed is not None else context.default_seed(period)
    _require_analysis(con, period)

    log = context.QueryLog()
    for name in queries.names("analyze") + queries.names("correlate") + queries.names("findings"):
        log.note(name)  # the analysis behind the findings: shown and hashed with the pack's own
    run = context.Runner(con, period, log)
    progress.log(f"report: period {html.iso(period.since)} .. {html.iso(period.until)}")
    roots = paths.source_roots(run)   # before any query that shows a path
    evidence_files = evidence.export(run, out_dir / "evidence", progress)
    n_ocsf = ocsf.write(run, out_dir / "findings.ocsf.json", generated)
    progress.log(f"report: findings.ocsf.json: {n_ocsf} events")
    analysis_runs = run.rows("report/analysis_runs")
    identity = context.identity_info(analysis_runs, identity_map_path)
    ctx = context.gather(run, generated_at=generated, seed=seed, top_n=top_n, sample_size=sample_size,
                         identity=identity, analysis_runs=analysis_runs, evidence_dir=out_dir / "evidence",
                         evidence_rows={e.name: e.rows for e in evidence_files}, controls=controls)
    progress.log("report: numbers gathered")
    ctx["evidence"] = evidence_files
    ctx["ocsf_events"] = n_ocsf
    inputs = run.rows("report/manifest_inputs")
    ctx["queries"] = log.texts()
    ctx["db_name"] = Path(store.path).name
    ctx["source_roots"] = roots
    ctx["attachments"] = _write_attachments(out_dir, ctx)
    # the PDF and index.html cannot carry a digest of the manifest that lists them: they carry
    # the digest of every other file of the pack, which the manifest records and verify checks
    ctx["evidence_digest"] = manifest.evidence_digest(out_dir)
    ctx["chain"] = chain
    ctx["signing"] = signing_key.header() if signing_key is not None else None

    (out_dir / "index.html").write_text(html.render(ctx, mode="html"), encoding="utf-8", newline="\n")
    progress.log("report: index.html written")
    pdf_path = _write_pdf(out_dir, ctx, generated) if pdf else None
    if pdf_path:
        progress.log("report: audit-pack.pdf written")

    header = {
        "tool": {"name": "zsaudit", "version": __version__},
        "generated_at": html.iso(generated),
        "period": {"since": html.iso(period.since), "until": html.iso(period.until)},
        "sample": {"seed": seed, "size": sample_size, "rule": "smallest md5('<seed>:' || id)"},
        "identity_map": {"path": identity["attachment"], "sha256": identity["sha256"],
                         "sha256_at_analysis": identity["recorded_sha256"]},
        "evidence_digest": {"sha256": ctx["evidence_digest"], "rule": manifest.EVIDENCE_DIGEST_RULE},
        "source_roots": {r["name"]: r["description"] for r in roots},
        "queries": {q["name"]: q["sha256"] for q in ctx["queries"]},
        "inputs": inputs,
        "analysis_runs": [
            {"analysis_id": a["analysis_id"], "identity_map_sha256": a["identity_map_sha256"],
             "period": [_iso_or_none(a["period_start"]), _iso_or_none(a["period_end"])]}
            for a in ctx["analysis_runs"]
        ],
        "counts": {e.name: e.rows for e in evidence_files} | {"ocsf_events": n_ocsf},
    }
    if chain is not None:
        header["chain"] = chain
    if ctx["signing"] is not None:
        header["signing"] = ctx["signing"]
    data = manifest.build(out_dir, header=header)
    digest = manifest.write(out_dir, data)
    if signing_key is not None:
        signing.sign(out_dir / manifest.MANIFEST, signing_key)
    counts = {
        "requests": ctx["requests_total"],
        "attempts": ctx["attempts_total"],
        "findings_open": ctx["findings_totals"]["open"],
        "findings_accepted": ctx["findings_totals"]["accepted"],
    }
    return PackResult(out_dir=out_dir, since=period.since, until=period.until, generated_at=generated,
                      files=sorted(data["files"]), manifest_sha256=digest, counts=counts, pdf=pdf_path,
                      seconds=time.perf_counter() - started, query_seconds=dict(log.seconds),
                      status=ctx["overall"])

"""The SOC 2 Type II period pack: a quarter, a month, a year (or any run of whole nights) from the
nightly history in the store (docs/report.md "Period packs").

    render_period(store, out_dir, since, until, packs_dir=..., ...) -> PackResult

It reads what the nightly analyses left (queries/period/*.sql, queries/lifecycle/list.sql over
the views of queries/migrations/005_finding_lifecycle.sql): per criterion the nights it operated,
the nights it could not be evaluated and why, deviations per week, every finding subject's
lifecycle, accepted risks per exception, coverage gaps, and a sample of nights across the whole
period sized by control frequency. No request is read again: the nightly packs hold that evidence,
and this pack lists the manifest sha256 of each one it stands on.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .. import __version__, queries
from ..errors import BadInput, BadUsage
from ..progress import QUIET, Progress
from ..timeutil import parse_time
from . import charts, context, evidence, html, manifest

PERIOD_TEMPLATE = "period.html"
KIND = "period"

# AU-C 530 practice for tests of controls (AICPA Audit Guide "Audit Sampling", table of sample
# sizes by control frequency): (smallest, largest) sample for a period of a year.
FREQUENCY_SAMPLES = {"daily": (25, 40), "weekly": (5, 15), "monthly": (2, 5), "quarterly": (2, 2), "annual": (1, 1)}
FREQUENCY_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91, "annual": 365}
SAMPLE_RULE = ("nights ordered by md5('<seed>:<criterion>:<YYYY-MM-DD>'), then by date; the first n "
               "(column sample_rank of evidence/criterion_nights.csv)")

POPULATIONS = [
    # name, query, description, sliced by time
    ("period_nights", "period/nights", "Every night of the period: its nightly analysis, coverage, findings", False),
    ("criterion_nights", "period/criterion_nights",
     "Each criterion on each night: operated, deviation or not evaluable (and why); sample_rank", False),
    ("finding_lifecycle", "lifecycle/list", "Every finding subject: first and last seen, status history, "
                                            "resolved on, days to resolve", False),
    ("accepted_risks", "period/exceptions", "Each exception: nights valid, nights matched after its expiry", False),
    ("period_coverage_gaps", "period/coverage_gaps", "Nights without analysis and every coverage_gap finding", False),
]


def sample_size(frequency: str, occurrences: int, period_days: int) -> int:
    """Sample size for a control of `frequency` that had `occurrences` in a period of `period_days`:
    the AU-C 530 range's smallest size up to a quarter, rising linearly to its largest for a year;
    every occurrence when there are fewer."""
    lo, hi = FREQUENCY_SAMPLES[frequency]
    quarter, year = 92, 365   # the longest quarter (Q3, Q4)
    frac = min(1.0, max(0.0, (period_days - quarter) / (year - quarter)))
    n = lo + math.ceil((hi - lo) * frac)
    return min(n, occurrences)


def nightly_manifests(packs_dir: Path | None, since: date, until: date) -> tuple[list[dict], str]:
    """The nightly packs the period stands on: [{night, pack, manifest_sha256}], and how they were
    found. The one place that reads the nightly packs: the chain of nightly manifests
    (report/chain.py, issue 16) provides nightly_manifests() when it is there."""
    if packs_dir is None:
        return [], "no packs folder given (--packs): the nightly manifests are not listed"
    packs_dir = Path(packs_dir)
    if not packs_dir.is_dir():
        raise BadUsage(f"--packs {packs_dir}: no such folder; expected the packs folder of `zsaudit run` "
                       "(pack.out_dir), one folder per night named YYYY-MM-DD")
    try:
        from .chain import nightly_manifests as from_chain  # issue 16's chain of nightly manifests
    except ImportError:
        from_chain = None
    if from_chain is not None:
        return [n.to_json() for n in from_chain(packs_dir, since, until)], "report/chain.nightly_manifests"
    out = []
    for p in sorted(packs_dir.iterdir()):
        try:
            night = date.fromisoformat(p.name)
        except ValueError:
            continue
        m = p / manifest.MANIFEST
        if since <= night < until and p.is_dir() and not p.is_symlink() and m.is_file():
            out.append({"night": night.isoformat(), "pack": p.name, "manifest_sha256": manifest.sha256_file(m)})
    return out, "the manifest.json of each folder YYYY-MM-DD"


def render_period(store, out_dir, *, since: datetime, until: datetime, name: str, packs_dir=None,
                  pdf: bool = True, generated_at=None, sample_seed: int | None = None,
                  progress: Progress = QUIET, top_n: int = 25, lock_wait: float | None = None) -> "PackResult":
    """Render the period pack for the whole UTC nights [since, until) into out_dir (atomically,
    under the lock of zsaudit.output, like the nightly pack)."""
    from . import PackResult, write_pack

    started = time.perf_counter()
    out_dir = Path(out_dir)
    store.require(5, "nightly history")
    for t, opt in ((since, "--since"), (until, "--until")):
        if t.astimezone(timezone.utc).time() != datetime.min.time():
            raise BadUsage(f"{opt}: a period pack is made of whole UTC nights; expected a date such as 2026-07-01")
    if until <= since:
        raise BadUsage(f"--until ({html.iso(until)}) must be after --since ({html.iso(since)})")

    def render_into(con, tmp: Path) -> PackResult:
        queries.set_option(con, "TimeZone", "UTC")
        return _render(store, con, tmp, since=since, until=until, name=name, packs_dir=packs_dir, pdf=pdf,
                       generated_at=generated_at, sample_seed=sample_seed, progress=progress, top_n=top_n,
                       started=started)

    return write_pack(store, out_dir, render_into,
                      **({} if lock_wait is None else {"lock_wait": lock_wait}))


def _weeks(since: date, until: date) -> list[date]:
    """Monday of each ISO week the period touches."""
    first = since - timedelta(days=since.weekday())
    return [first + timedelta(days=7 * i) for i in range(((until - first).days + 6) // 7)]


def _criterion(spec: dict, rows: list[dict], weeks: list[date], period_days: int) -> dict:
    nights = len(rows)
    frequency = spec.get("frequency", "daily")
    if frequency not in FREQUENCY_SAMPLES:
        raise BadInput(f"report_templates/criteria.toml: criterion {spec['id']}: frequency {frequency!r}; expected "
                       f"one of {', '.join(FREQUENCY_SAMPLES)}")
    n = sample_size(frequency, nights, period_days)
    reasons: dict[str, int] = {}
    for r in rows:
        if r["result"] == "not evaluable":
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    values, names = {}, ["deviations", "accepted risks"]
    for r in rows:
        week = datetime.combine(r["night"] - timedelta(days=r["night"].weekday()), datetime.min.time())
        values[(week, "deviations")] = values.get((week, "deviations"), 0) + r["deviations"]
        values[(week, "accepted risks")] = values.get((week, "accepted risks"), 0) + r["accepted_risks"]
    buckets = [datetime.combine(w, datetime.min.time()) for w in weeks]
    chart = charts.stacked(buckets, names, values, {"deviations": charts.SEVERITY_COLORS["high"],
                                                    "accepted risks": charts.STATUS_COLORS["ambiguous"]},
                           bucket="day", title=f"{spec['id']}: findings per week (finding-nights)")
    operated = sum(r["result"] != "not evaluable" for r in rows)
    deviating = sum(r["result"] == "deviation" for r in rows)
    sample = sorted((r for r in rows if r["sample_rank"] <= n), key=lambda r: r["night"])
    return {
        "id": spec["id"], "title": spec["title"], "anchor": "c-" + spec["id"].replace(".", "-").lower(),
        "frequency": frequency, "nights": nights, "operated": operated, "deviation_nights": deviating,
        "clean_nights": operated - deviating, "not_evaluable": nights - operated,
        "not_evaluable_reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0] or "")),
        "deviations": sum(r["deviations"] for r in rows), "accepted_risks": sum(r["accepted_risks"] for r in rows),
        "accepted_nights": sum(r["accepted_risks"] > 0 for r in rows),
        "expired_exception_deviations": sum(r["expired_exception_deviations"] for r in rows),
        "chart": chart, "sample_size": n, "sample": sample,
        "weekly": [{"week": w, "deviations": values.get((datetime.combine(w, datetime.min.time()), "deviations"), 0),
                    "accepted": values.get((datetime.combine(w, datetime.min.time()), "accepted risks"), 0),
                    "not_evaluable": sum(1 for r in rows if r["result"] == "not evaluable"
                                         and w <= r["night"] < w + timedelta(days=7))} for w in weeks],
    }


def _render(store, con, out_dir: Path, *, since, until, name, packs_dir, pdf, generated_at, sample_seed, progress,
            top_n, started):
    from . import PackResult, _write_pdf, queries_attachment

    period = context.Period(since.astimezone(timezone.utc), until.astimezone(timezone.utc))
    d_since, d_until = period.since.date(), period.until.date()
    period_days = (d_until - d_since).days
    generated = (parse_time(generated_at, what="--generated-at") if generated_at
                 else datetime.now(timezone.utc)).replace(microsecond=0)
    seed = int(sample_seed) if sample_seed is not None else context.default_seed(period)
    specs = context.load_criteria()
    log = context.QueryLog()
    run = context.Runner(con, period, log)
    extra = {"criteria": [s["id"] for s in specs], "seed": seed, "kind": None}
    progress.log(f"report: period pack {name}: {d_since} .. {d_until} ({period_days} nights)")

    nights = run.rows("period/nights")
    analysed = [n for n in nights if n["analysed"]]
    if not analysed:
        raise BadInput(f"no nightly analysis in the store for {d_since} .. {d_until}: a period pack is built from "
                       "the nights `zsaudit run` (or `zsaudit analyze --since DAY --until NEXT_DAY`) analysed; "
                       "backfill them with `zsaudit run --since ... --until ...`")
    crit_rows = run.rows("period/criterion_nights", **extra)
    weeks = _weeks(d_since, d_until)
    criteria = [_criterion(s, [r for r in crit_rows if r["criterion"] == s["id"]], weeks, period_days) for s in specs]
    lifecycle_rows = run.rows("lifecycle/list", kind=None)
    exceptions = run.rows("period/exceptions")
    gaps = run.rows("period/coverage_gaps")
    digests, digests_from = nightly_manifests(packs_dir, d_since, d_until)
    by_night = {d["night"]: d for d in digests}
    for n in nights:
        d = by_night.get(n["night"].isoformat())
        n["manifest_sha256"] = d["manifest_sha256"] if d else None
    for c in criteria:
        for r in c["sample"]:
            d = by_night.get(r["night"].isoformat())
            r["manifest_sha256"] = d["manifest_sha256"] if d else None

    evidence_files = evidence.export(run, out_dir / "evidence", progress, populations=POPULATIONS, extra=extra)
    (out_dir / "evidence" / "nightly_manifests.json").write_text(
        json.dumps({"found_by": digests_from, "nights": digests}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    statuses = {s: sum(1 for r in lifecycle_rows if r["status"] == s) for s in ("open", "accepted", "resolved")}
    resolved = [r["days_to_resolve"] for r in lifecycle_rows if r["days_to_resolve"] is not None]
    ctx = {
        "tool_version": __version__, "generated_at": generated, "period": period, "period_name": name,
        "period_days": period_days, "nights": nights, "nights_analysed": len(analysed),
        "nights_missing": [n["night"] for n in nights if not n["analysed"]],
        "nights_gap": [n for n in nights if n["analysed"] and n["gap_sources"]],
        "criteria": criteria, "lifecycle": lifecycle_rows, "lifecycle_status": statuses,
        "median_days_to_resolve": sorted(resolved)[len(resolved) // 2] if resolved else None,
        "exceptions": exceptions, "gaps": gaps, "digests": digests, "digests_from": digests_from,
        "packs_dir_given": packs_dir is not None, "seed": seed, "sample_rule": SAMPLE_RULE,
        "frequency_samples": FREQUENCY_SAMPLES, "top_n": top_n, "evidence": evidence_files,
        "identity_maps": sorted({n["identity_map_sha256"] for n in analysed if n["identity_map_sha256"]}),
        "requests_analysed": sum(n["worker_requests"] or 0 for n in analysed),
        "db_name": Path(store.path).name,
    }
    ctx["queries"] = log.texts()
    (out_dir / "attachments").mkdir(exist_ok=True)
    (out_dir / "attachments" / "queries.sql").write_text(queries_attachment(ctx["queries"]), encoding="utf-8",
                                                          newline="\n")
    ctx["attachments"] = [{"name": "attachments/queries.sql",
                           "description": f"the text of the {len(ctx['queries'])} queries behind every number of the pack"}]
    ctx["evidence_digest"] = manifest.evidence_digest(out_dir)
    (out_dir / "index.html").write_text(html.render(ctx, mode="html", template=PERIOD_TEMPLATE), encoding="utf-8",
                                        newline="\n")
    progress.log("report: index.html written")
    pdf_path = _write_pdf(out_dir, ctx, generated, template=PERIOD_TEMPLATE) if pdf else None
    header = {
        "kind": KIND,
        "tool": {"name": "zsaudit", "version": __version__},
        "generated_at": html.iso(generated),
        "period": {"name": name, "since": html.iso(period.since), "until": html.iso(period.until)},
        "sample": {"seed": seed, "rule": SAMPLE_RULE,
                   "sizes": {c["id"]: {"frequency": c["frequency"], "n": c["sample_size"]} for c in criteria}},
        "nightly_manifests": {"found_by": digests_from, "nights": digests},
        "nightly_analyses": [{"night": n["night"].isoformat(), "analysis_id": n["analysis_id"]} for n in analysed],
        "evidence_digest": {"sha256": ctx["evidence_digest"], "rule": manifest.EVIDENCE_DIGEST_RULE},
        "queries": {q["name"]: q["sha256"] for q in ctx["queries"]},
        "counts": {e.name: e.rows for e in evidence_files},
    }
    data = manifest.build(out_dir, header=header)
    digest = manifest.write(out_dir, data)
    counts = {"nights": period_days, "nights_analysed": len(analysed), "subjects": len(lifecycle_rows),
              **{f"subjects_{k}": v for k, v in statuses.items()}}
    return PackResult(out_dir=out_dir, since=period.since, until=period.until, generated_at=generated,
                      files=sorted(data["files"]), manifest_sha256=digest, counts=counts, pdf=pdf_path,
                      seconds=time.perf_counter() - started, query_seconds=dict(log.seconds),
                      status={"text": period_status(criteria, len(analysed), period_days)}, kind=KIND)


def period_status(criteria: list[dict], analysed: int, nights: int) -> str:
    deviating = [c["id"] for c in criteria if c["deviation_nights"]]
    parts = [f"{analysed} of {nights} nights analysed"]
    if deviating:
        parts.append(f"deviations in {len(deviating)} of {len(criteria)} criteria ({', '.join(deviating)})")
    else:
        parts.append("no deviation")
    return "; ".join(parts)


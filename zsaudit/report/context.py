"""Gather everything the pack shows, by running the queries in queries/report/ for the period.

Every number in the pack comes from one named query; `QueryLog` remembers which ones ran so the
manifest and the appendix can list (and hash) exactly those.
"""

from __future__ import annotations

import hashlib
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import __version__, identity_map, queries
from ..analyze.rules import SEVERITY_ORDER
from ..errors import BadInput
from ..resources import templates_dir
from ..timeutil import yesterday_utc
from . import charts

ALL_ROWS = 1 << 62  # LIMIT for "every row" when a top-N query feeds an evidence file

CRITERION_TOP = 10  # open findings shown under each criterion (all of them are in the findings section)
PDF_TOP = 10        # rows of each list in the PDF, and PDF_CRITERION_TOP under each criterion: the PDF
PDF_CRITERION_TOP = 5   # keeps to about 20 pages at any input size (index.html shows --top)
COVERAGE_STATUSES = ("attributed", "ambiguous", "unattributed")
SAMPLE_RESULTS = ("pass", "deviation", "accepted risk", "not evaluable")
RECORD_FIXED = ("evidence_id", "source", "observed", "result")  # a sample row's columns shown apart


@dataclass
class Period:
    since: datetime
    until: datetime

    @property
    def hours(self) -> float:
        return (self.until - self.since).total_seconds() / 3600

    def params(self) -> dict:
        return {"since": self.since, "until": self.until}


@dataclass
class QueryLog:
    """The queries a pack used, in first-use order (names as in queries/<name>.sql)."""

    names: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)   # time spent per query (bench/report.py)

    def note(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def texts(self) -> list[dict]:
        out = []
        for name in sorted(self.names):
            text = queries.load(name)
            out.append({"name": name, "text": text, "sha256": hashlib.sha256(text.encode()).hexdigest()})
        return out


# findings_in_period(), not_evaluable_in_period(): what "in the period" means, defined once
PERIOD_MACROS = "report/in_period"


class Runner:
    """Runs named queries with only the parameters each one uses (DuckDB refuses extras)."""

    def __init__(self, con, period: Period, log: QueryLog):
        self.con, self.period, self.log = con, period, log
        queries.run(con, PERIOD_MACROS)
        log.note(PERIOD_MACROS)

    def bind(self, name: str, extra: dict | None = None) -> tuple[str, dict]:
        text = queries.load(name)
        values = {**self.period.params(), "severity_order": list(SEVERITY_ORDER), **(extra or {})}
        params = queries.bind(text, values, name)
        self.log.note(name)
        return text, params

    def rows(self, name: str, **extra) -> list[dict]:
        text, params = self.bind(name, extra)
        started = time.perf_counter()
        cur = self.con.execute(text, params)
        cols = [d[0] for d in cur.description]
        out = [dict(zip(cols, row)) for row in cur.fetchall()]
        self.log.seconds[name] = self.log.seconds.get(name, 0.0) + time.perf_counter() - started
        return out

    def one(self, name: str, **extra) -> dict:
        rows = self.rows(name, **extra)
        return rows[0] if rows else {}

    def rows_unless(self, empty: bool, name: str, **extra) -> list[dict]:
        """rows(name), or no rows without running it when `empty`: an earlier query of the pack
        already counted its population as empty (each caller says which). The query is still
        listed among the pack's queries, as the number it shows (none) comes from it."""
        if empty:
            self.log.note(name)
            return []
        return self.rows(name, **extra)


def stored_period(con):
    """The report's default period (timeutil.resolve_period's `fill`): the ends not given are those
    of the stored data (queries/report/period_default.sql); in an empty store, the previous UTC day,
    so an empty pack still says what it covers."""
    def fill(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
        d_since, d_until = queries.one(con, "report/period_default") or (None, None)
        since, until = since or d_since, until or d_until
        if since is None or until is None:
            until = until or yesterday_utc()[1]
            since = since or until - timedelta(days=1)
        return _utc(since), _utc(until)

    return fill


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def default_seed(period: Period) -> int:
    """A seed fixed by the period, so re-rendering a period draws the same sample."""
    text = f"{period.since.isoformat()}/{period.until.isoformat()}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def load_criteria() -> list[dict]:
    with open(templates_dir() / "criteria.toml", "rb") as fh:
        return tomllib.load(fh)["criterion"]


def gather(run: Runner, *, generated_at: datetime, seed: int, top_n: int, sample_size: int, identity: dict,
           analysis_runs: list[dict], evidence_dir: Path, evidence_rows: dict[str, int],
           controls: dict | None = None) -> dict:
    """The pack's numbers. analysis_runs: report/analysis_runs' rows (identity_info read them
    first); evidence_rows: the rows of each file evidence.export wrote into evidence_dir, by name."""
    period = run.period
    ctx: dict = {
        "tool_version": __version__,
        "generated_at": generated_at,
        "period": period,
        "seed": seed,
        "top_n": top_n,
        "sample_size": sample_size,
        "pdf_top": min(top_n, PDF_TOP),
        "pdf_criterion_top": min(top_n, PDF_CRITERION_TOP),
    }

    # -- summary ------------------------------------------------------------------------------
    ctx["sources"] = run.rows("report/sources")
    by_source = {s["source"]: s["rows"] for s in ctx["sources"]}
    ctx["requests_total"] = by_source.get("zia_web", 0) + by_source.get("zpa_user_activity", 0)
    ctx["attempts_total"] = by_source.get("task_attempts", 0)
    coverage = run.rows("report/attribution_coverage")
    population = sum(r["requests"] for r in coverage if r["status"] in COVERAGE_STATUSES)
    all_requests = sum(r["requests"] for r in coverage)
    for r in coverage:
        r["share"] = _share(r["requests"], population if r["status"] in COVERAGE_STATUSES else all_requests)
    attributed = next((r["requests"] for r in coverage if r["status"] == "attributed"), 0)
    ctx["coverage"] = {
        "rows": coverage,
        "population": population,
        "all": all_requests,
        "attributed": attributed,
        "pct": _share(attributed, population),
    }
    kinds = run.rows("report/findings_by_kind")
    totals = {k: sum(r[k] for r in kinds) for k in (*SEVERITY_ORDER, "open", "accepted", "total")}
    ctx["findings_by_kind"] = kinds
    ctx["findings_totals"] = totals
    ctx["analysis_runs"] = analysis_runs
    no_findings = not totals["total"]

    # -- criteria -----------------------------------------------------------------------------
    not_evaluable = run.rows("report/not_evaluable", limit=ALL_ROWS)
    per_control = {r["control"]: r for r in run.rows_unless(no_findings, "report/findings_per_control")}
    run.rows("report/sample_findings")        # the macros the test sheets (cc*_sample) use
    specs = load_criteria()
    # the criteria's open findings (top of each) in one query, for the criteria that have any
    deviating = [spec["id"] for spec in specs if per_control.get(spec["id"], {}).get("open")]
    top_findings: dict[str, list[dict]] = {control: [] for control in deviating}
    for row in run.rows_unless(not deviating, "report/findings_for_controls", controls=deviating,
                               limit=min(top_n, CRITERION_TOP)):
        top_findings[row.pop("control")].append(row)
    criteria = []
    for spec in specs:
        facts = run.rows(spec["summary"])
        sample = run.rows(spec["sample"], seed=str(seed), n=sample_size)
        counts = per_control.get(spec["id"], {"open": 0, "accepted": 0, "kinds": ""})
        judged = judge(spec, facts, counts, not_evaluable)
        results = {r: sum(1 for row in sample if row.get("result") == r) for r in SAMPLE_RESULTS}
        criteria.append({
            **spec,
            "anchor": "cc-" + spec["id"].lower().replace(".", "-"),
            "facts": facts,
            **judged,
            "open": counts["open"],
            "accepted": counts["accepted"],
            "kinds": counts["kinds"] or "",
            "top_findings": top_findings.get(spec["id"], []),
            "sample": sample,
            "sample_columns": [c for c in (sample[0].keys() if sample else []) if c not in RECORD_FIXED],
            "sample_results": results,
            "review": (controls or {}).get(spec["id"], {}),
            "redraw": spec.get("redraw", "").format(seed=int(seed), n=int(sample_size)),
        })
    ctx["criteria"] = criteria

    # -- completeness and accuracy ---------------------------------------------------------------
    run.rows("report/ledger_checks")          # the per-file checks both queries below read
    ledger_totals = run.rows("report/ledger_totals")
    files = run.rows("report/ledger_files", limit=top_n * 4)
    # the top-N of an evidence file, or of its rejects: none when the file has no rows
    gaps = run.rows_unless(not evidence_rows["coverage_gaps"], "report/coverage_gaps_top", limit=top_n,
                           evidence=str(evidence_dir / "coverage_gaps.parquet"))
    jumps = run.rows_unless(not evidence_rows["recordid_jumps"], "report/recordid_jumps_top", limit=top_n,
                            evidence=str(evidence_dir / "recordid_jumps.parquet"))
    ctx["completeness"] = {
        "totals": ledger_totals,
        "files": files,
        "files_total": sum(t["files"] for t in ledger_totals),
        "lines_read": sum(t["lines_read"] or 0 for t in ledger_totals),
        "rows_loaded": sum(t["rows_loaded"] or 0 for t in ledger_totals),
        "rows_rejected": sum(t["rows_rejected"] or 0 for t in ledger_totals),
        "rows_duplicate": sum(t["rows_duplicate"] or 0 for t in ledger_totals),
        "refused": sum(t["refused"] for t in ledger_totals),
        "not_adding_up": sum(t["not_adding_up"] for t in ledger_totals),
        "store_mismatch": sum(t["store_mismatch"] for t in ledger_totals),
        "gaps": gaps,
        "gaps_total": gaps[0]["total_gaps"] if gaps else 0,
        "gap_hours": gaps[0]["total_hours"] if gaps else 0,
        "jumps": jumps,
        "jumps_total": jumps[0]["total_jumps"] if jumps else 0,
        "ids_missing": int(jumps[0]["total_missing"]) if jumps else 0,
        # the recordids the jumps were looked for among (none: "no jumps" would be a claim on no data)
        "ids_checked": run.one("report/recordid_checked")["ids_checked"],
        "drift": run.rows_unless(not sum(t["drifted"] for t in ledger_totals), "report/field_drift", limit=top_n),
        "rejects": run.rows_unless(not evidence_rows["rejects"], "report/rejects_by_reason", limit=top_n),
    }
    ctx["not_evaluable"] = not_evaluable[:top_n]
    ctx["overall"] = overall_status(ctx["criteria"], ctx["completeness"]["gaps"], totals["open"],
                                   identity.get("warnings") or [])

    # -- findings -------------------------------------------------------------------------------
    # none open when every finding of the period is accepted (a status other than those two is open)
    ctx["open_findings"] = run.rows_unless(totals["total"] == totals["accepted"], "report/findings_open", limit=top_n)
    ctx["accepted_findings"] = run.rows_unless(not totals["accepted"], "report/findings_accepted", limit=top_n)

    # -- charts ---------------------------------------------------------------------------------
    bucket = "hour" if period.hours <= 72 else "day"
    ctx["charts"] = {
        "requests": charts.requests_per_hour(run.rows("report/chart_requests_per_hour"), period),
        "findings": charts.findings_over_time(
            run.rows_unless(no_findings, "report/chart_findings_per_day", bucket=bucket), period, bucket),
        "attribution": charts.attribution(coverage, run.rows("report/chart_attribution_per_day", bucket=bucket),
                                          period, bucket),
    }

    ctx["identity"] = identity
    return ctx


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def judge(spec: dict, facts: list[dict], counts: dict, not_evaluable: list[dict]) -> dict:
    """A criterion's three counts (tested, not evaluable, exceptions = deviations) and its result.

    Empty or entirely not evaluable reads "Not tested" with the reason, never "No deviations";
    a criterion whose population is made of the others' findings (`empty_means` in criteria.toml)
    says what an empty population means instead."""
    role = {f.get("role"): f["value"] or 0 for f in facts if f.get("role")}
    population = int(role.get("population", facts[0]["value"] if facts else 0) or 0)
    ne = min(int(role.get("not_evaluable", 0)), population)
    tested = population - ne
    exceptions = int(counts["open"])
    reason = next((n["reason"] for n in not_evaluable if n["check_kind"] in spec.get("checks", [])), None)
    not_tested = False
    if not population and spec.get("empty_means"):
        result, tone = spec["empty_means"], "ok"
    elif not population:
        result, tone, not_tested = f"Not tested: no {spec['sample_of']} in the period (the population is empty)", "warn", True
    elif not tested:
        result, tone, not_tested = (f"Not tested: none of the {population} {spec['sample_of']} could be evaluated"
                                    + (f" ({reason})" if reason else ""), "warn", True)
    elif exceptions:
        result, tone = f"{exceptions} {plural(exceptions, 'deviation')} to follow up", "bad"
    elif counts["accepted"]:
        result, tone = (f"No deviations; {counts['accepted']} {plural(counts['accepted'], 'accepted risk')}"
                        " under approved exceptions"), "ok"
    else:
        result, tone = "No deviations", "ok"
    if ne and not not_tested:
        result += f" (among {tested} tested; {ne} not evaluable)"
    return {"population": population, "tested_count": tested, "not_evaluable": ne, "exceptions": exceptions,
            "not_tested": not_tested, "result": result, "tone": tone}


def overall_status(criteria: list[dict], gaps: list[dict], open_findings: int, warnings: list[str]) -> dict:
    """The one status of the pack (cover, summary, `zsaudit report` and `zsaudit run`): never
    green while a criterion is not tested, a source is missing or the identity map leaves checks out."""
    not_tested = [c["id"] for c in criteria if c["not_tested"]]
    deviating = [c["id"] for c in criteria if c["open"]]
    missing = sorted({g["source"] for g in gaps if g["source"] != "file"})
    rejected = sum(1 for g in gaps if g["source"] == "file")
    reasons = []
    if deviating:
        reasons.append(f"deviations in {len(deviating)} of {len(criteria)} criteria ({', '.join(deviating)})")
    elif open_findings:
        reasons.append(f"{open_findings} open {plural(open_findings, 'finding')}")
    if not_tested:
        reasons.append("not tested: " + ", ".join(not_tested))
    if missing:
        reasons.append("source missing for part of the period: " + ", ".join(missing))
    if rejected:
        reasons.append(f"{rejected} input file(s) mostly rejected")
    if warnings:
        reasons.append(f"identity map leaves checks out ({len(warnings)} warning(s))")
    if deviating or open_findings:
        label, tone = "Deviations found", "bad"
    elif reasons:
        label, tone = "Incomplete evidence", "warn"
    else:
        label, tone = "No deviations", "ok"
    text = label + (": " + "; ".join(reasons) if reasons else
                    f": every one of the {len(criteria)} criteria tested, every source delivered")
    return {"label": label, "tone": tone, "text": text, "reasons": reasons, "deviating": deviating,
            "untested": not_tested, "not_tested": not_tested, "missing_sources": missing}


def _share(part: int, whole: int) -> str:
    """A percentage as fixed text (one decimal), so output never carries float noise."""
    if not whole:
        return "n/a"
    return f"{100 * part / whole:.1f}%"


def identity_info(analysis_runs: list[dict], identity_map_path) -> dict:
    """The identity map behind the analysis: given explicitly, or as recorded by the latest of the
    period's analysis runs (report/analysis_runs' rows, latest first)."""
    recorded = None
    if analysis_runs:
        row = analysis_runs[0]
        recorded = {"path": row["identity_map_path"], "sha256": row["identity_map_sha256"]}
    path = Path(identity_map_path) if identity_map_path else (Path(recorded["path"]) if recorded and recorded["path"] else None)
    info = {"path": str(path) if path else None, "sha256": None, "text": None, "note": None,
            "recorded_sha256": recorded["sha256"] if recorded else None, "warnings": []}
    if path and path.is_file():
        data = path.read_bytes()
        info["sha256"] = hashlib.sha256(data).hexdigest()
        info["text"] = data.decode("utf-8", errors="replace")
        try:
            info["warnings"] = identity_map.parse(info["text"], path.name).warnings()
        except BadInput as exc:
            info["warnings"] = [str(exc)]
        if recorded and recorded["sha256"] and recorded["sha256"] != info["sha256"]:
            info["note"] = (f"The identity map changed since the analysis (analysis used sha256 "
                            f"{recorded['sha256']}); re-run `zsaudit analyze` before relying on this pack.")
    elif recorded:
        info["sha256"] = recorded["sha256"]
        info["note"] = "The identity map file is not readable here; its sha256 is the one recorded by the analysis."
    else:
        info["note"] = "No analysis covers this period and no identity map was given."
    return info

"""One analysis run: correlation, every detection, the not-evaluable checks and the exceptions
for one period, replacing the previous analysis of that period in one transaction, and the
analysis_runs row that records it (identity map digest, policy, counts).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from .. import identity_map, queries
from ..config import DEFAULT_GAP_THRESHOLD, DEFAULT_MAX_REJECT_RATE
from ..errors import BadUsage, FindingsAtOrAbove
from ..progress import QUIET, Progress
from ..timeutil import iso_z, resolve_period
from . import correlate as correlate_mod
from .rules import KINDS, SEVERITIES, at_or_above, load_rules

# Below this many requests in the period an analysis runs on one DuckDB thread: its ~23 statements
# then cost their fixed set-up (plans, pipelines, hash tables for tens of rows), which more threads
# only multiply (-10-18 % CPU a small analysis, no longer wall: docs/benchmarks.md, session 11)
SMALL_PERIOD_REQUESTS = 50_000

# coverage_gap runs first: the detections after it leave stretches without coverage to not_evaluable.
RUN_ORDER = ("coverage_gap",) + tuple(k for k in KINDS if k != "coverage_gap")


@dataclass
class AnalysisSummary:
    analysis_id: str
    period_start: datetime | None
    period_end: datetime | None
    worker_requests: int
    attributed: int
    ambiguous: int
    unattributed: int
    findings_by_kind: dict[str, int]
    open_by_severity: dict[str, int]
    accepted: int
    not_evaluable_by_check: dict[str, int]
    seconds: float
    warnings: list[str] = field(default_factory=list)   # what the identity map leaves unchecked

    @property
    def findings(self) -> int:
        return sum(self.findings_by_kind.values())

    def lines(self) -> list[str]:
        period = f"{iso_z(self.period_start) or 'the beginning'} .. {iso_z(self.period_end) or 'now'}"
        out = [
            f"analysis {self.analysis_id} for {period} in {self.seconds:.1f}s",
            f"worker requests: {self.worker_requests} (attributed {self.attributed}, ambiguous "
            f"{self.ambiguous}, unattributed {self.unattributed})",
            "findings: " + (", ".join(f"{k} {v}" for k, v in self.findings_by_kind.items() if v) or "none")
            + f"; accepted risks (approved exceptions): {self.accepted}",
        ]
        if self.not_evaluable_by_check:
            out.append("not evaluable: " + ", ".join(f"{k} {v}" for k, v in self.not_evaluable_by_check.items()))
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["period_start"], d["period_end"] = iso_z(self.period_start), iso_z(self.period_end)
        d["findings"] = self.findings
        return d


def analysis_id_for(since: datetime | None, until: datetime | None) -> str:
    return hashlib.sha256(f"{iso_z(since) or '-'}|{iso_z(until) or '-'}".encode()).hexdigest()[:16]


def analyze(store, identity_map_path, *, since=None, until=None, progress: Progress = QUIET,
            gap_threshold: timedelta | None = None, max_reject_rate: float | None = None,
            correlator=None) -> AnalysisSummary:
    """Correlate requests with attempts and compute findings and not-evaluable checks for the
    period [since, until) (None = unbounded), replacing the previous analysis of that period.

    gap_threshold: the shortest stretch without records from a source that is a coverage_gap;
    max_reject_rate: the rejected share of a file's lines above which it is one (docs/findings.md);
    correlator: what builds _attr and stores the attributions (default correlate.correlate; the
    Spark engine's has its executors compute them, zsaudit/spark/analyze.py). A correlator whose
    `runs_rule_rows` is true also runs each rule's setup and row stage (queries.stages) with the
    rules' parameters (rule_params=) and leaves their tables; the rules' group stages run here."""
    imap = identity_map.load(identity_map_path)
    gap_threshold = DEFAULT_GAP_THRESHOLD if gap_threshold is None else gap_threshold
    max_reject_rate = DEFAULT_MAX_REJECT_RATE if max_reject_rate is None else float(max_reject_rate)
    if gap_threshold <= timedelta(0):
        raise BadUsage("--gap-threshold: expected a positive duration such as 1h or 30m")
    if not 0 <= max_reject_rate <= 1:
        raise BadUsage(f"--max-reject-rate: expected a share between 0 and 1 (0.01 = 1%), got {max_reject_rate}")
    rules = load_rules()
    since, until = resolve_period(since, until)
    con = store.con
    queries.set_option(con, "enable_progress_bar", False)   # our own progress, not DuckDB's bar on stderr
    # Bounded memory (DuckDB spills beyond it) and parallel inserts: no statement here relies on
    # insertion order. Both settings are restored afterwards.
    with queries.settings(con, memory_limit=os.environ.get("ZSAUDIT_ANALYZE_MEMORY", "2GB"),
                          preserve_insertion_order=False, **analysis_settings(con, since, until, correlator)):
        return _analyze(store, imap, rules, since, until, identity_map_path, progress,
                        {"gap_threshold": gap_threshold, "max_reject_rate": max_reject_rate},
                        correlator or correlate_mod.correlate)


def analysis_settings(con, since, until, correlator) -> dict:
    """DuckDB settings for a small analysis run here: {"threads": 1} for a small period
    (SMALL_PERIOD_REQUESTS), unless ZSAUDIT_THREADS says how many (it always wins), and
    queries.small_store_settings for a small store (planned without DuckDB's optimizers); else
    {} (the store's settings). Neither with another correlator: the Spark engine's requests
    are in its lake, not counted here. Results depend on neither (tests/test_reperformance.py)."""
    if correlator is not None:
        return {}
    requests = queries.scalar(con, "analyze/period_size", {"since": since or correlate_mod.FAR_PAST,
                                                           "until": until or correlate_mod.FAR_FUTURE})
    out = queries.small_store_settings(con)
    if requests < SMALL_PERIOD_REQUESTS and not os.environ.get("ZSAUDIT_THREADS", "").strip():
        out["threads"] = 1
    return out


def _analyze(store, imap, rules, since, until, identity_map_path, progress, coverage: dict,
             correlator) -> AnalysisSummary:
    analysis_id = analysis_id_for(since, until)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    con = store.con
    params = {"since": since or correlate_mod.FAR_PAST, "until": until or correlate_mod.FAR_FUTURE,
              "skew": imap.policy.clock_skew, "lifetime": imap.policy.token_lifetime, "analysis_id": analysis_id,
              "fail_min_code": rules.failure_min_code, "airflow_token_regex": rules.airflow_token_regex,
              **coverage}
    with store.transaction(), queries.Steps(con, params) as steps:
        progress.log("analyze: tying worker requests to task attempts")
        staged = getattr(correlator, "runs_rule_rows", False)
        counts = correlator(con, imap, since=since, until=until, analysis_id=analysis_id, progress=progress,
                            **({"rule_params": params} if staged else {}))
        # what correlation hands on (_attempts, _attempt_hosts, _attr) and its rule and identity-map
        # tables: dropped with the detections' when the steps close (its scratch tables the
        # correlator dropped itself: correlate.finish)
        steps.adopt(correlate_mod.SETUP_STEPS + tuple(queries.names("correlate")), scratch=False)
        steps.run("findings/_stage")
        for kind in RUN_ORDER:
            progress.log(f"analyze: {kind}")
            steps.run(f"findings/{kind}", stage="group" if staged else None)
        progress.log("analyze: not_evaluable")
        steps.run("findings/_not_evaluable")
        progress.log("analyze: finalize")
        steps.run("findings/_finalize")
        by_kind, open_sev, accepted, ne = {}, {}, 0, {}
        for what, kind, status, severity, n in queries.cursor(con, "analyze/counts", params).fetchall():
            if what == "not_evaluable":
                ne[kind] = n
                continue
            by_kind[kind] = by_kind.get(kind, 0) + n
            if status == "open":
                open_sev[severity] = open_sev.get(severity, 0) + n
            accepted += n if status == "accepted" else 0
        worker_requests = sum(counts.values())
        queries.run(con, "analyze/record_run", {
            "analysis_id": analysis_id, "period_start": since, "period_end": until,
            "identity_map": str(identity_map_path), "identity_map_sha256": imap.sha256, "started": started,
            "worker_requests": worker_requests, **counts, "findings": sum(by_kind.values()),
            "not_evaluable": sum(ne.values()), "token_lifetime_s": imap.policy.token_lifetime.total_seconds(),
            "clock_skew_s": imap.policy.clock_skew.total_seconds()})
    return AnalysisSummary(
        analysis_id=analysis_id, period_start=since, period_end=until, worker_requests=worker_requests,
        attributed=counts["attributed"], ambiguous=counts["ambiguous"], unattributed=counts["unattributed"],
        findings_by_kind={k: int(by_kind.get(k, 0)) for k in KINDS},
        open_by_severity={s: int(open_sev.get(s, 0)) for s in SEVERITIES if open_sev.get(s)},
        accepted=int(accepted), not_evaluable_by_check={k: int(v) for k, v in ne.items()},
        seconds=time.perf_counter() - t0, warnings=imap.warnings(),
    )


def check_fail_on(summary: AnalysisSummary, threshold: str | None) -> None:
    """Raise FindingsAtOrAbove (exit 1) when open findings reach the --fail-on severity."""
    if not threshold:
        return
    if threshold not in SEVERITIES:
        raise BadUsage(f"--fail-on: expected one of {', '.join(SEVERITIES)}, got {threshold!r}")
    n = sum(summary.open_by_severity.get(s, 0) for s in at_or_above(threshold))
    if n:
        raise FindingsAtOrAbove(f"{n} open finding(s) at or above severity {threshold}")



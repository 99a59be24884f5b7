"""Findings: what an auditor must see, computed from the correlated requests.

Each kind is one file, queries/findings/<kind>.sql, and one [[rule]] in queries/findings/rules.toml
(severity, SOC 2 controls, title, description, remediation) validated on load. `analyze()` runs
correlation, every detection, the not-evaluable checks and the exceptions for one period, and
replaces the previous analysis of that period in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from . import correlate as correlate_mod
from . import identity_map, queries
from .config import DEFAULT_GAP_THRESHOLD, DEFAULT_MAX_REJECT_RATE
from .errors import BadInput, BadUsage, FindingsAtOrAbove
from .identity_map import KINDS
from .progress import QUIET, Progress
from .resources import queries_dir
from .timeutil import parse_period

SEVERITIES = ("low", "medium", "high", "critical")
# coverage_gap runs first: the detections after it leave stretches without coverage to not_evaluable.
RUN_ORDER = ("coverage_gap",) + tuple(k for k in KINDS if k != "coverage_gap")
_RULE_KEYS = {"kind", "severity", "controls", "title", "description", "remediation", "subtype_severity"}


@dataclass(frozen=True)
class Rule:
    kind: str
    severity: str
    controls: tuple[str, ...]
    title: str
    description: str
    remediation: str
    subtype_severity: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    rules: dict[str, Rule]
    auth_codes: tuple[int, ...]
    auth_reasons: tuple[str, ...]
    auth_prefixes: tuple[str, ...]
    failure_actions: tuple[str, ...]
    failure_min_code: int
    zpa_failure_categories: tuple[str, ...]
    airflow_token_patterns: tuple[str, ...] = ()

    @property
    def airflow_token_regex(self) -> str:
        """One case-insensitive regular expression for the log lines of an Airflow token failure."""
        return "(?i)(?:" + "|".join(self.airflow_token_patterns or (r"[^\s\S]",)) + ")"


def _rules_path() -> Path:
    return queries_dir() / "findings" / "rules.toml"


def parse_rules(text: str, source: str = "rules.toml") -> Rules:
    """Validate the rule metadata; every kind must have exactly one rule and one .sql file."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{source}: not valid TOML ({exc})") from None

    def fail(where: str, msg: str) -> BadInput:
        return BadInput(f"{source}: {where}: {msg}")

    rules: dict[str, Rule] = {}
    for i, r in enumerate(doc.get("rule", []), 1):
        where = f"[[rule]] #{i}"
        extra = set(r) - _RULE_KEYS
        if extra:
            raise fail(where, f"unknown key {sorted(extra)[0]!r} (expected one of: {', '.join(sorted(_RULE_KEYS))})")
        for key in ("kind", "severity", "title", "description", "remediation"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise fail(where, f"key {key!r}: expected a non-empty string")
        kind = r["kind"]
        if kind not in KINDS:
            raise fail(where, f"key 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        if kind in rules:
            raise fail(where, f"key 'kind': {kind!r} has an earlier rule (expected one rule per kind)")
        sev = {None: r["severity"], **r.get("subtype_severity", {})}
        for sub, s in sev.items():
            if s not in SEVERITIES:
                raise fail(where, f"key {'severity' if sub is None else 'subtype_severity.' + sub!r}: "
                                  f"expected one of {', '.join(SEVERITIES)}, got {s!r}")
        controls = r.get("controls")
        if not isinstance(controls, list) or not controls or not all(isinstance(c, str) and c for c in controls):
            raise fail(where, "key 'controls': expected a non-empty list of SOC 2 criteria such as [\"CC6.1\"]")
        if not (queries_dir() / "findings" / f"{kind}.sql").is_file():
            raise fail(where, f"no detection query queries/findings/{kind}.sql for kind {kind!r}")
        rules[kind] = Rule(kind=kind, severity=r["severity"], controls=tuple(controls), title=r["title"].strip(),
                           description=" ".join(r["description"].split()),
                           remediation=" ".join(r["remediation"].split()),
                           subtype_severity=dict(r.get("subtype_severity", {})))
    missing = [k for k in KINDS if k not in rules]
    if missing:
        raise fail("[[rule]]", f"no rule for kind {missing[0]!r} (expected one rule per kind)")
    auth, failure = doc.get("auth", {}), doc.get("failure", {})
    try:
        return Rules(
            rules=rules,
            auth_codes=tuple(int(c) for c in auth["zia_response_codes"]),
            auth_reasons=tuple(str(s) for s in auth["zia_reasons"]),
            auth_prefixes=tuple(str(s) for s in auth["zpa_reason_prefixes"]),
            failure_actions=tuple(str(s) for s in failure["zia_actions"]),
            failure_min_code=int(failure["zia_min_response_code"]),
            zpa_failure_categories=tuple(str(s) for s in failure["zpa_categories"]),
            airflow_token_patterns=tuple(str(s) for s in doc.get("airflow_token", {}).get("log_patterns", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise fail("[auth]/[failure]", f"missing or malformed key ({exc})") from None


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    path = _rules_path()
    return parse_rules(path.read_text(encoding="utf-8"), str(path))


def zpa_codes() -> list[tuple[str, str, str]]:
    """(category, code, label) from queries/findings/zpa_session_status_codes.tsv."""
    path = queries_dir() / "findings" / "zpa_session_status_codes.tsv"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def load_rule_tables(con, rules: Rules) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE rule_kinds (kind VARCHAR, severity VARCHAR, controls VARCHAR[], title VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_subtypes (kind VARCHAR, subtype VARCHAR, severity VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_auth_codes (code INTEGER)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_auth_reasons (reason VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_auth_prefixes (prefix VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_failure_zia_actions (value VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE rule_zpa_failure_codes (code VARCHAR)")
    con.executemany("INSERT INTO rule_kinds VALUES (?, ?, ?, ?)",
                    [(r.kind, r.severity, list(r.controls), r.title) for r in rules.rules.values()])
    subs = [(r.kind, s, v) for r in rules.rules.values() for s, v in r.subtype_severity.items()]
    if subs:
        con.executemany("INSERT INTO rule_subtypes VALUES (?, ?, ?)", subs)
    con.executemany("INSERT INTO rule_auth_codes VALUES (?)", [(c,) for c in rules.auth_codes])
    con.executemany("INSERT INTO rule_auth_reasons VALUES (?)", [(c,) for c in rules.auth_reasons])
    con.executemany("INSERT INTO rule_auth_prefixes VALUES (?)", [(c,) for c in rules.auth_prefixes])
    con.executemany("INSERT INTO rule_failure_zia_actions VALUES (?)", [(c,) for c in rules.failure_actions])
    codes = [(code,) for cat, code, _ in zpa_codes() if cat in rules.zpa_failure_categories]
    con.executemany("INSERT INTO rule_zpa_failure_codes VALUES (?)", codes)


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
        period = f"{_iso(self.period_start) or 'the beginning'} .. {_iso(self.period_end) or 'now'}"
        out = [
            f"analysis {self.analysis_id} for {period} in {self.seconds:.1f}s",
            f"worker requests: {self.worker_requests} (attributed {self.attributed}, ambiguous "
            f"{self.ambiguous}, unattributed {self.unattributed})",
            "findings: " + (", ".join(f"{k} {v}" for k, v in self.findings_by_kind.items() if v) or "none")
            + f"; accepted by exception: {self.accepted}",
        ]
        if self.not_evaluable_by_check:
            out.append("not evaluable: " + ", ".join(f"{k} {v}" for k, v in self.not_evaluable_by_check.items()))
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["period_start"], d["period_end"] = _iso(self.period_start), _iso(self.period_end)
        d["findings"] = self.findings
        return d


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if t else None


def analysis_id_for(since: datetime | None, until: datetime | None) -> str:
    return hashlib.sha256(f"{_iso(since) or '-'}|{_iso(until) or '-'}".encode()).hexdigest()[:16]


def analyze(store, identity_map_path, *, since=None, until=None, progress: Progress = QUIET,
            gap_threshold: timedelta | None = None, max_reject_rate: float | None = None) -> AnalysisSummary:
    """Correlate requests with attempts and compute findings and not-evaluable checks for the
    period [since, until) (None = unbounded), replacing the previous analysis of that period.

    gap_threshold: the shortest stretch without records from a source that is a coverage_gap;
    max_reject_rate: the rejected share of a file's lines above which it is one (docs/findings.md)."""
    imap = identity_map.load(identity_map_path)
    gap_threshold = DEFAULT_GAP_THRESHOLD if gap_threshold is None else gap_threshold
    max_reject_rate = DEFAULT_MAX_REJECT_RATE if max_reject_rate is None else float(max_reject_rate)
    if gap_threshold <= timedelta(0):
        raise BadUsage("--gap-threshold: expected a positive duration such as 1h or 30m")
    if not 0 <= max_reject_rate <= 1:
        raise BadUsage(f"--max-reject-rate: expected a share between 0 and 1 (0.01 = 1%), got {max_reject_rate}")
    rules = load_rules()
    since, until = parse_period(since, until)
    con = store.con
    con.execute("SET enable_progress_bar = false")      # our own progress, not DuckDB's bar on stderr
    # Bounded memory (DuckDB spills beyond it) and parallel inserts: no statement here relies on
    # insertion order. Both settings are restored afterwards.
    previous = con.execute("SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET memory_limit = ?", [os.environ.get("ZSAUDIT_ANALYZE_MEMORY", "2GB")])
    con.execute("SET preserve_insertion_order = false")
    try:
        return _analyze(store, imap, rules, since, until, identity_map_path, progress,
                        {"gap_threshold": gap_threshold, "max_reject_rate": max_reject_rate})
    finally:
        con.execute("SET memory_limit = ?", [previous[0]])
        con.execute("SET preserve_insertion_order = ?", [str(previous[1]).lower() in ("true", "1")])


def _analyze(store, imap, rules, since, until, identity_map_path, progress, coverage: dict) -> AnalysisSummary:
    analysis_id = analysis_id_for(since, until)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    con = store.con
    p_since = since or correlate_mod.FAR_PAST
    p_until = until or correlate_mod.FAR_FUTURE
    params = {"since": p_since, "until": p_until, "skew": imap.policy.clock_skew,
              "lifetime": imap.policy.token_lifetime, "analysis_id": analysis_id,
              "fail_min_code": rules.failure_min_code, "airflow_token_regex": rules.airflow_token_regex,
              **coverage}
    with store.transaction():
        progress.log("analyze: tying worker requests to task attempts")
        counts = correlate_mod.correlate(con, imap, since=since, until=until, analysis_id=analysis_id,
                                         progress=progress)
        correlate_mod.run_sql(con, "findings/_stage", params)
        for kind in RUN_ORDER:
            progress.log(f"analyze: {kind}")
            correlate_mod.run_sql(con, f"findings/{kind}", params)
        con.execute("DELETE FROM not_evaluable WHERE analysis_id = ?", [analysis_id])
        correlate_mod.run_sql(con, "findings/_not_evaluable", params)
        correlate_mod.run_sql(con, "findings/_finalize", params)
        by_kind = dict(con.execute("SELECT kind, count(*) FROM _final GROUP BY kind").fetchall())
        open_sev = dict(con.execute("SELECT severity, count(*) FROM _final WHERE status = 'open' GROUP BY severity").fetchall())
        accepted = con.execute("SELECT count(*) FROM _final WHERE status = 'accepted'").fetchone()[0]
        ne = dict(con.execute("SELECT check_kind, count(*) FROM not_evaluable WHERE analysis_id = ? "
                              "GROUP BY check_kind ORDER BY check_kind", [analysis_id]).fetchall())
        worker_requests = sum(counts.values())
        con.execute("DELETE FROM analysis_runs WHERE analysis_id = ?", [analysis_id])
        con.execute(
            "INSERT INTO analysis_runs VALUES (?, ?, ?, ?, ?, ?, current_timestamp, ?, ?, ?, ?, ?, ?, ?, ?)",
            [analysis_id, since, until, str(identity_map_path), imap.sha256, started, worker_requests,
             counts["attributed"], counts["ambiguous"], counts["unattributed"], sum(by_kind.values()),
             sum(ne.values()), imap.policy.token_lifetime.total_seconds(), imap.policy.clock_skew.total_seconds()],
        )
        for table in ("_token_requests", "_attr", "_coverage_activity"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
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
    at_or_above = SEVERITIES[SEVERITIES.index(threshold):]
    n = sum(summary.open_by_severity.get(s, 0) for s in at_or_above)
    if n:
        raise FindingsAtOrAbove(f"{n} open finding(s) at or above severity {threshold}")


# -- listing ------------------------------------------------------------------------------
LIST_COLUMNS = ("finding_id", "kind", "subtype", "severity", "status", "controls", "event_time", "dag_id",
                "run_id", "task_id", "map_index", "try_number", "worker", "login", "host", "conn_id", "detail",
                "gap_start", "gap_end", "gap_seconds", "attempts_hit", "evidence_count", "evidence_ids",
                "exception_approver", "exception_reason", "exception_ticket", "exception_expires",
                "exception_note", "analysis_id")
_SEV_ORDER = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END"


def list_findings(store, *, kind: str | None = None, status: str | None = None) -> list[dict]:
    """Findings as dicts, most severe first, then by time and id (a stable order)."""
    if kind is not None and kind not in KINDS:
        raise BadUsage(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    cols = ", ".join(LIST_COLUMNS)
    rows = store.con.execute(
        f"SELECT {cols} FROM findings WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR status = ?) "
        f"ORDER BY {_SEV_ORDER}, event_time, finding_id",
        [kind, kind, status, status],
    ).fetchall()
    return [dict(zip(LIST_COLUMNS, r)) for r in rows]


def _plain(value):
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# -- export (CSV / JSON): one definition with evidence/findings.csv ---------------------------
EXPORT_QUERY = "report/evidence_findings"
_LIST_FIELDS = ("controls", "evidence_ids", "attempts_hit")   # space-joined in CSV, lists in JSON


def export_findings(store, *, kind: str | None = None, status: str | None = None) -> tuple[list[str], list[dict]]:
    """(columns, rows) of queries/report/evidence_findings.sql over every finding: the columns and
    formats of the pack's evidence/findings.csv, most severe first, then by time and id."""
    if kind is not None and kind not in KINDS:
        raise BadUsage(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")

    cur = store.con.execute(queries.load(EXPORT_QUERY), {"since": None, "until": None, "kind": kind, "status": status})
    columns = [d[0] for d in cur.description]
    rows = [dict(zip(columns, r)) for r in cur.fetchall()]
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    rows.sort(key=lambda r: (rank.get(r["severity"], 9), r["event_time"] or "", r["finding_id"]))
    return columns, rows


def to_json(export: tuple[list[str], list[dict]]) -> str:
    _, rows = export
    out = [{k: (v.split(" ") if v else []) if k in _LIST_FIELDS else _plain(v) for k, v in r.items()} for r in rows]
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not execute: text starting with = + - @ (or tab/CR) gets a
    leading apostrophe (OWASP CSV injection guidance); numbers stay numbers (-1 stays -1). Lists
    are joined with a space, as in evidence/findings.csv."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        value = " ".join(str(_plain(v)) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(export: tuple[list[str], list[dict]]) -> str:
    columns, rows = export
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([csv_cell(r[c]) for c in columns])
    return buf.getvalue()


def to_table(rows: list[dict]) -> str:
    """A fixed-width text table of the key columns (control characters shown escaped)."""
    cols = ("finding_id", "severity", "status", "kind", "event_time", "dag_id", "task_id", "login", "host", "detail")
    def cell(v, width):
        text = "" if v is None else str(_plain(v))
        text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
        return text if len(text) <= width else text[: width - 1] + "…"
    widths = {"finding_id": 16, "severity": 8, "status": 8, "kind": 19, "event_time": 20, "dag_id": 20,
              "task_id": 18, "login": 26, "host": 26, "detail": 60}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    for r in rows:
        lines.append("  ".join(cell(r[c], widths[c]).ljust(widths[c]) for c in cols).rstrip())
    lines.append(f"{len(rows)} finding(s)")
    return "\n".join(lines) + "\n"

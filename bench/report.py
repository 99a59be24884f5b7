"""Benchmark: render the audit pack for a month of N requests (default 10 million).

The month is generated straight into DuckDB with SQL (no ingest, no analysis): ZIA web requests
from eight workers and some laptops spread over 30 days in hourly files, ZPA activity, task
attempts, attributions for the worker traffic, findings, ledger rows, rejects, a coverage gap and
recordid jumps. Then `zsaudit.report.render` runs with the PDF, and the script prints the time per
stage, the pack's sizes and the peak memory.

    python bench/report.py                    # 10M requests (several minutes to generate)
    python bench/report.py --sizes 100000,1000000
Targets (issue 6): under 60 s to render and a PDF under 10 MB for the 10M month.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zsaudit.progress import Progress  # noqa: E402
from zsaudit.report import render  # noqa: E402
from zsaudit.store import Store  # noqa: E402

SINCE = datetime(2026, 10, 1, tzinfo=timezone.utc)
UNTIL = datetime(2026, 10, 31, tzinfo=timezone.utc)
GENERATED_AT = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)

GENERATE = """
CREATE OR REPLACE TEMP TABLE _files AS
SELECT h AS hour, sha256('zia_web:' || h) AS sha, '/logs/zscaler/web/' || strftime(TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_hours(h), '%Y/%m/%d/%H') || '.json.gz' AS path
FROM range(720) t(h);

INSERT INTO zia_web (rid, event_time, login, department, location, client_ip, device_hostname, request_method,
                     url, host, protocol, response_code, action, reason, url_category, user_agent, request_size,
                     response_size, record_id, file_id, source_file, source_line)
SELECT substr(f.sha, 1, 16) || ':' || (i % $per_hour + 1),
       TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds((i * $step_us)::BIGINT),
       CASE WHEN i % 10 = 0 THEN 'user' || (i % 50) || '@corp.example' ELSE 'svc-' || (['billing', 'etl', 'ml', 'reports'])[i % 4 + 1] || '@corp.example' END,
       'Data Platform', 'DC-1', '10.20.0.' || (i % 8 + 11),
       CASE WHEN i % 10 = 0 THEN 'laptop-' || (i % 50) || '.corp.example' ELSE 'airflow-worker-' || (i % 8 + 1) || '.corp.example' END,
       CASE WHEN i % 3 = 0 THEN 'POST' ELSE 'GET' END,
       CASE WHEN i % 100003 = 7 THEN 'https://evil.example/<script>alert(1)</script>'
            ELSE 'https://api' || (i % 40) || '.partner.example/v1/items/' || (i % 1000) END,
       'api' || (i % 40) || '.partner.example',
       CASE WHEN i % 20 = 0 THEN 'HTTP' ELSE 'HTTPS' END,
       CASE WHEN i % 97 = 0 THEN 403 ELSE 200 END,
       CASE WHEN i % 97 = 0 THEN 'Blocked' ELSE 'Allowed' END,
       CASE WHEN i % 97 = 0 THEN 'Blocked by URL filtering' ELSE 'Allowed' END,
       'Business', 'python-requests/2.32', 900 + i % 500, 3000 + i % 7000,
       CASE WHEN i % 1000000 < 3 THEN NULL ELSE i + 1 + (i // 1000000) * 5 END,
       f.sha, f.path, i % $per_hour + 1
FROM range($n) t(i)
JOIN _files f ON f.hour = i // $per_hour
-- a five-hour outage of the feed on day 12
WHERE NOT (i // $per_hour BETWEEN 270 AND 274);

INSERT INTO zpa_user_activity (rid, event_time, username, session_id, connection_status, client_private_ip,
                               host, application, hostname, file_id, source_file, source_line)
SELECT 'zpa' || lpad(i::VARCHAR, 13, '0') || ':' || i, TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds((i * $step_us * 50)::BIGINT),
       'svc-etl@corp.example', 'S' || (i % 100), CASE WHEN i % 2 = 0 THEN 'open' ELSE 'close' END,
       '10.20.0.' || (i % 8 + 11), 'db.internal.example', 'Internal DB', 'airflow-worker-' || (i % 8 + 1),
       sha256('zpa'), '/logs/zscaler/zpa/activity.json', i + 1
FROM range($n // 50) t(i);

INSERT INTO task_attempts (attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname, start_time,
                           end_time, state, return_code, log_file, log_sha256, host_source, times_source, state_source)
SELECT substr(sha256('attempt' || a), 1, 16), 'dag_' || (a % 60), 'scheduled__' || (a // 60), 'task_' || (a % 7), -1,
       1 + (a % 13 = 0)::INT, 'airflow-worker-' || (a % 8 + 1),
       TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_seconds(a * 2592000 // $attempts),
       TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_seconds(a * 2592000 // $attempts + 600),
       CASE WHEN a % 29 = 0 THEN 'failed' ELSE 'success' END, CASE WHEN a % 29 = 0 THEN 1 ELSE 0 END,
       '/opt/airflow/logs/dag_id=dag_' || (a % 60) || '/attempt=' || a || '.log', sha256('log' || a), 'log', 'log', 'log'
FROM range($attempts) t(a);

INSERT INTO task_egress_hints (attempt_id, dag_id, run_id, task_id, map_index, try_number, event_time, url, host, port)
SELECT attempt_id, dag_id, run_id, task_id, map_index, try_number, start_time + INTERVAL 1 MINUTE,
       'https://api1.partner.example/v1', 'api1.partner.example', 443
FROM task_attempts WHERE hash(attempt_id) % 3 = 0;

INSERT INTO analysis_runs (analysis_id, period_start, period_end, identity_map_path, identity_map_sha256, started_at, finished_at)
VALUES ('bench', TIMESTAMPTZ '2026-10-01 00:00:00+00', TIMESTAMPTZ '2026-10-31 00:00:00+00', NULL, sha256('identity'),
        TIMESTAMPTZ '2026-11-01 05:00:00+00', TIMESTAMPTZ '2026-11-01 05:10:00+00');

-- attributions (schema 7): narrow rows whose worker and attempt are references into the
-- analysis' attribution_workers and attribution_attempts; the view `attributions` joins them
INSERT INTO attribution_workers (analysis_id, worker_ref, worker)
SELECT 'bench', w, 'airflow-worker-' || w FROM range(1, 9) t(w);

INSERT INTO attribution_attempts (analysis_id, attempt_ref, attempt_id, dag_id, run_id, task_id, map_index, try_number)
SELECT 'bench', a, substr(sha256('attempt' || a), 1, 16), 'dag_' || (a % 60), 'scheduled__' || (a // 60),
       'task_' || (a % 7), -1, 1 + (a % 13 = 0)::INT
FROM range($attempts) t(a);

INSERT INTO attribution_rows (analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref,
                              method_code, candidates)
SELECT 'bench', 0, w.rid, w.event_time, CAST(split_part(split_part(w.device_hostname, '.', 1), '-', 3) AS INTEGER),
       w.login, w.host,
       CASE WHEN s.status = 'attributed'
            THEN epoch(w.event_time - TIMESTAMPTZ '2026-10-01 00:00:00+00')::BIGINT * $attempts // 2592000 END,
       0, CASE s.status WHEN 'attributed' THEN 1 WHEN 'ambiguous' THEN 2 ELSE 0 END
FROM zia_web w,
     LATERAL (SELECT CASE WHEN w.source_line % 53 = 0 THEN 'ambiguous' WHEN w.source_line % 71 = 0 THEN 'unattributed'
                          ELSE 'attributed' END AS status) s
WHERE w.device_hostname LIKE 'airflow-worker-%';

INSERT INTO findings (finding_id, kind, severity, controls, title, status, event_time, attempt_id, login, host,
                      detail, evidence_ids, evidence_count, analysis_id, exception_approver, exception_reason,
                      exception_ticket, exception_expires)
SELECT substr(sha256('finding' || k), 1, 16),
       (['unmapped_identity', 'token_gap', 'silent_failure', 'egress_bypass', 'unattributed_egress'])[k % 5 + 1],
       (['high', 'medium', 'high', 'critical', 'medium'])[k % 5 + 1],
       ([['CC6.1', 'CC6.2'], ['CC6.1', 'CC6.6'], ['CC7.2', 'CC7.3'], ['CC6.6', 'CC6.7'], ['CC6.6', 'CC7.2']])[k % 5 + 1],
       'Bench finding', CASE WHEN k % 17 = 0 THEN 'accepted' ELSE 'open' END,
       TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_seconds(k * 2592000 // $findings),
       substr(sha256('attempt' || (k * $attempts // $findings)), 1, 16), 'svc-etl@corp.example', 'api1.partner.example',
       'Finding number ' || k, ['bench:' || k], 1, 'bench',
       CASE WHEN k % 17 = 0 THEN 'jane.doe@corp.example' END, CASE WHEN k % 17 = 0 THEN 'Vendor migration' END,
       CASE WHEN k % 17 = 0 THEN 'SEC-' || (k % 5) END, CASE WHEN k % 17 = 0 THEN DATE '2027-03-31' END
FROM range($findings) t(k);

INSERT INTO not_evaluable (check_kind, attempt_id, reason, analysis_id)
SELECT 'token_gap', attempt_id, 'no ZPA user status for the worker during the attempt', 'bench'
FROM task_attempts WHERE hash(attempt_id) % 50 = 0;

INSERT INTO ingest_ledger (file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected,
                           first_event, last_event, started_at, finished_at)
SELECT file_id, any_value(source_file), count(*) * 400, file_id, 'zia_web', 'json', count(*) + 2, count(*), 2,
       min(event_time), max(event_time), TIMESTAMPTZ '2026-11-01 01:00:00+00', TIMESTAMPTZ '2026-11-01 01:00:00+00'
FROM zia_web GROUP BY file_id;

INSERT INTO rejects (file_id, source_file, source_line, raw, reason)
SELECT l.file_id, l.path, l.rows_loaded + r, '{"datetime": "garbage", "login": "=cmd|"}', 'datetime: expected a time'
FROM ingest_ledger l, range(1, 3) t(r);

INSERT INTO ingest_ledger (file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected,
                           first_event, last_event)
SELECT log_sha256, log_file, 20000, log_sha256, 'airflow_tasklog', 'airflow3_json', 40, 40, 0, start_time, end_time
FROM task_attempts;
"""


class Timed(Progress):
    """Records when each progress line was logged, to split the render into stages."""

    def __init__(self):
        super().__init__(quiet=True)
        self.marks: list[tuple[float, str]] = []

    def log(self, message: str) -> None:
        self.marks.append((time.perf_counter(), message))


def generate(store: Store, n: int) -> float:
    t = time.perf_counter()
    params = {"n": n, "per_hour": max(1, n // 720), "step_us": 2_592_000_000_000 // n,
              "attempts": max(100, n // 500), "findings": max(50, n // 2000)}
    sql = GENERATE
    for name, value in sorted(params.items(), key=lambda kv: -len(kv[0])):
        sql = sql.replace(f"${name}", str(int(value)))  # integers we chose, not input
    with store.transaction() as con:
        for statement in [s for s in sql.split(";\n") if s.strip()]:
            con.execute(statement)
    store.con.execute("CHECKPOINT")
    return time.perf_counter() - t


def _cpu() -> float:
    """CPU seconds used by this process (all threads): a measure the machine's load cannot inflate."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000000", help="comma-separated request counts (default 10000000)")
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "report"), help="scratch directory")
    ap.add_argument("--keep", action="store_true", help="keep the DuckDB file and the pack")
    ap.add_argument("--reuse", action="store_true", help="render from the kept DuckDB file of the last --keep run")
    args = ap.parse_args()
    work = Path(args.work)
    print("| requests | generate s | render s (evidence / html / pdf) | render CPU s | load avg | PDF MB | pages | HTML KB | evidence MB | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",")]:
        if args.reuse and (work / "bench.duckdb").exists():
            shutil.rmtree(work / "pack", ignore_errors=True)
            store, gen = Store(work / "bench.duckdb"), 0.0
        else:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            store = Store(work / "bench.duckdb")
            gen = generate(store, n)
        progress = Timed()
        cpu0 = _cpu()
        t0 = time.perf_counter()
        result = render(store, work / "pack", since=SINCE, until=UNTIL, generated_at=GENERATED_AT, pdf=True,
                        progress=progress)
        total = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        marks = {m: t for t, m in progress.marks}
        t_ev = next(t for m, t in marks.items() if m.startswith("evidence/recordid_jumps")) - t0
        t_html = marks["report: index.html written"] - t0
        t_pdf = marks["report: audit-pack.pdf written"] - t0
        store.close()
        from pypdf import PdfReader

        pdf = work / "pack" / "audit-pack.pdf"
        pages = len(PdfReader(str(pdf)).pages)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load = os.getloadavg()[0]
        print(f"| {n:,} | {gen:.1f} | {total:.1f} ({t_ev:.1f} / {t_html - t_ev:.1f} / {t_pdf - t_html:.1f}) | "
              f"{cpu:.0f} | {load:.1f} | "
              f"{pdf.stat().st_size / 1e6:.2f} | {pages} | {(work / 'pack' / 'index.html').stat().st_size / 1024:.0f} | "
              f"{dir_size(work / 'pack' / 'evidence') / 1e6:.0f} | {rss:.0f} |", flush=True)
        slow = sorted(result.query_seconds.items(), key=lambda kv: -kv[1])[:8]
        print("    slowest queries: " + ", ".join(f"{name} {s:.1f}s" for name, s in slow), file=sys.stderr)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

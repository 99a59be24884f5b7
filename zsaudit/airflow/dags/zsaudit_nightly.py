"""zsaudit_nightly: audit yesterday's Airflow egress through Zscaler and write the SOC 2 pack.

Install: `zsaudit airflow-dag --install $AIRFLOW_HOME/dags` (or `zsaudit airflow-dag --print`
and save it there). zsaudit must be importable by the Airflow workers (`pip install zsaudit`
in the workers' environment). The configuration is a zsaudit.toml (`zsaudit init` writes one);
its path comes from the Airflow Variable `zsaudit_config`, else the environment variable
ZSAUDIT_CONFIG of the workers.

Tasks, one per stage of `zsaudit run`, each calling the same `zsaudit.pipeline` function:
    ingest_zscaler >> ingest_airflow >> analyze >> report
With ZSAUDIT_DAG_LAYOUT=single in the DAG processor's environment the DAG is one task, `audit`,
running every stage in one process: for executors that put each task on another machine with no
shared disk (Celery, Kubernetes, managed Airflow), the DuckDB store and the packs then live on the
one worker (or volume) that runs it; ZSAUDIT_DAG_QUEUE routes the tasks to a Celery queue
(docs/running.md, "The DAG on distributed executors").

Each night's pack is chained to the previous night's (its manifest records that manifest's
sha256; `zsaudit verify --chain <pack.out_dir>`) and, with pack.signing_key in the config (or
ZSAUDIT_SIGNING_KEY in the workers' environment: a file path), signed (docs/report.md). A manual
run over several whole days backfills one pack per night.

Airflow-side inputs: when the config lists no `airflow.paths`, the tasks read the Airflow they
run in through its REST API ([api] base_url on Airflow 3, [webserver] base_url on 2.x), with the
credentials of the Airflow connection `zsaudit_airflow_api` (login + password, or a token as
password without login) if it exists, else ZSAUDIT_AIRFLOW_* in the workers' environment.
The period (zsaudit.periods.airflow_run_period): a run with a data interval of some width audits
that interval (Airflow 2's @daily; a manual run given data_interval_start/end); a run without one
audits the UTC day that ended at or before the run's time (Airflow 3's @daily is a
CronTriggerTimetable whose runs have start == end; asset-triggered and plain manual runs too).
So every scheduled run audits the day that just ended, whatever the timetable.
zsaudit's exit classes map to Airflow's: bad input or usage (exit 2) and findings at or above
`fail_on` (exit 1) fail the task at once (AirflowFailException, no retry); internal errors
(exit 3), a busy store and an unreachable Airflow API raise as they are, so Airflow retries them.
Retries back off exponentially from ZSAUDIT_DAG_RETRY_DELAY seconds (in the DAG processor's
environment; default 60, at most 30 minutes between tries). Nothing heavy is imported here: the
DAG processor parses this file often, so zsaudit (and DuckDB, Polars) is imported inside the task
callables only.
"""

from __future__ import annotations

import datetime
import os

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task

CONFIG_VARIABLE = "zsaudit_config"
CONFIG_ENV = "ZSAUDIT_CONFIG"
API_CONNECTION = "zsaudit_airflow_api"
LAYOUT = os.environ.get("ZSAUDIT_DAG_LAYOUT", "stages")   # stages | single
QUEUE = os.environ.get("ZSAUDIT_DAG_QUEUE")               # e.g. a Celery queue served by one worker
RETRY_DELAY_ENV = "ZSAUDIT_DAG_RETRY_DELAY"                # seconds before the first retry


def _retry_delay() -> datetime.timedelta:
    """The first retry's delay: ZSAUDIT_DAG_RETRY_DELAY seconds, default 60 (a store busy with
    another run is usually free within minutes; backoff doubles it each try)."""
    raw = os.environ.get(RETRY_DELAY_ENV, "").strip() or "60"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86400:
        # an import error in the Airflow UI, naming the variable: better than a silent default
        raise ValueError(f"{RETRY_DELAY_ENV}={raw!r}: expected a number of seconds between 0 and 86400, e.g. 60")
    return datetime.timedelta(seconds=seconds)


default_args = {
    "owner": "security",
    "retries": 3,
    "retry_delay": _retry_delay(),
    "retry_exponential_backoff": True,
    "max_retry_delay": datetime.timedelta(minutes=30),
}
if QUEUE:
    default_args["queue"] = QUEUE


def _config():
    """The zsaudit configuration this run uses (Variable first, then environment)."""
    path = None
    try:
        from airflow.sdk import Variable

        path = Variable.get(CONFIG_VARIABLE, default=None)
    except ImportError:  # Airflow 2.x
        from airflow.models import Variable

        path = Variable.get(CONFIG_VARIABLE, default_var=None)
    except Exception:  # noqa: BLE001  the Variable is optional; a missing one is not an error
        path = None
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(
            f"zsaudit: set the Airflow Variable {CONFIG_VARIABLE!r} or the environment variable "
            f"{CONFIG_ENV} to the path of a zsaudit.toml (`zsaudit init` writes one)"
        )
    from zsaudit.config import load_config

    config = load_config(path)
    if not config.airflow_paths:  # default: the live API of the Airflow this task runs in
        import dataclasses

        _api_credentials_from_connection()
        config = dataclasses.replace(config, airflow_paths=(_own_api_url(),))
    return config


def _own_api_url() -> str:
    from airflow.configuration import conf

    url = conf.get("api", "base_url", fallback=None)               # Airflow 3
    if not url:
        execution = conf.get("core", "execution_api_server_url", fallback=None)
        url = execution.rstrip("/").removesuffix("/execution") if execution else None
    url = url or conf.get("webserver", "base_url", fallback=None)    # Airflow 2
    if not url:
        raise _fail_permanently(ValueError(
            "airflow.paths is empty and this Airflow names no base URL ([api] base_url); "
            "list the Airflow API URL or the log tree in the zsaudit.toml"))
    return url.rstrip("/")


def _api_credentials_from_connection() -> None:
    """The connection `zsaudit_airflow_api` (optional) -> ZSAUDIT_AIRFLOW_* of this task's process."""
    try:
        try:
            from airflow.sdk import BaseHook
        except ImportError:  # Airflow 2.x
            from airflow.hooks.base import BaseHook
        conn = BaseHook.get_connection(API_CONNECTION)
    except Exception:  # noqa: BLE001  no such connection: the workers' environment decides
        return
    if conn.login and conn.password:
        os.environ["ZSAUDIT_AIRFLOW_USER"], os.environ["ZSAUDIT_AIRFLOW_PASSWORD"] = conn.login, conn.password
    elif conn.password:
        os.environ["ZSAUDIT_AIRFLOW_TOKEN"] = conn.password


def _fail_permanently(exc: Exception):
    """Bad configuration or bad input will not heal on retry: fail now, with the message."""
    from airflow.exceptions import AirflowFailException

    return AirflowFailException(f"zsaudit: {exc}")


def _call(stage: str | None, context: dict):
    """One stage (None: all of them, in one process) for the run's period."""
    from zsaudit import periods, pipeline
    from zsaudit.errors import ZsauditError, is_retryable

    try:
        config = _config()
        since, until = periods.airflow_run_period(
            context.get("data_interval_start"), context.get("data_interval_end"),
            logical_date=context.get("logical_date"),
            run_after=getattr(context.get("dag_run"), "run_after", None))  # Airflow 3 only
        result = pipeline.run_stage(stage, config, since=since, until=until)
    except ZsauditError as exc:
        if is_retryable(exc):
            raise  # a store busy elsewhere, an Airflow API that did not answer: the retry may succeed
        raise _fail_permanently(exc) from exc  # exit 2 (bad input/usage) or 1 (findings): no retry
    # anything else is an internal error (zsaudit's exit 3): it propagates, and Airflow retries it
    print(f"zsaudit {stage or 'run'}: {result['text']}")  # noqa: T201  lands in the task log
    return result["json"]


with DAG(
    dag_id="zsaudit_nightly",
    description="zsaudit: Zscaler + Airflow logs -> findings -> SOC 2 evidence pack",
    schedule="@daily",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,  # one DuckDB file: runs must not overlap
    default_args=default_args,
    tags=["zsaudit", "security", "soc2"],
    doc_md=__doc__,
) as dag:

    if LAYOUT == "single":
        @task
        def audit(**context):
            """Every stage in one process: ingest both feeds, analyze, render the pack."""
            return _call(None, context)

        audit()

    @task
    def ingest_zscaler(**context):
        """Load new Zscaler log files (those not yet in the ledger)."""
        return _call("ingest_zscaler", context)

    @task
    def ingest_airflow(**context):
        """Load new Airflow task logs and the task-instance metadata."""
        return _call("ingest_airflow", context)

    @task
    def analyze(**context):
        """Correlate the period's requests with task attempts; compute findings."""
        return _call("analyze", context)

    @task
    def report(**context):
        """Render the period's evidence pack; fail the run if findings reach `fail_on`."""
        return _call("report", context)

    if LAYOUT != "single":
        ingest_zscaler() >> ingest_airflow() >> analyze() >> report()

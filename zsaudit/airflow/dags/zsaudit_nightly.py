"""zsaudit_nightly: audit yesterday's Airflow egress through Zscaler and write the SOC 2 pack.

Install: `zsaudit airflow-dag --install $AIRFLOW_HOME/dags` (or `zsaudit airflow-dag --print`
and save it there). zsaudit must be importable by the Airflow workers (`pip install zsaudit`
in the workers' environment). The configuration is a zsaudit.toml (`zsaudit init` writes one);
its path comes from the Airflow Variable `zsaudit_config`, else the environment variable
ZSAUDIT_CONFIG of the workers.

Tasks, one per stage of `zsaudit run`, each calling the same `zsaudit.pipeline` function:
    ingest_zscaler >> ingest_airflow >> analyze >> report
The period (zsaudit.pipeline.airflow_run_period): a run with a data interval of some width audits
that interval (Airflow 2's @daily; a manual run given data_interval_start/end); a run without one
audits the UTC day that ended at or before the run's time (Airflow 3's @daily is a
CronTriggerTimetable whose runs have start == end; asset-triggered and plain manual runs too).
So every scheduled run audits the day that just ended, whatever the timetable.
Retries back off exponentially. Nothing heavy is imported here: the DAG processor parses this
file often, so zsaudit (and DuckDB, Polars) is imported inside the task callables only.
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

default_args = {
    "owner": "security",
    "retries": 3,
    "retry_delay": datetime.timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": datetime.timedelta(minutes=30),
}


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

    return load_config(path)


def _fail_permanently(exc: Exception):
    """Bad configuration or bad input will not heal on retry: fail now, with the message."""
    from airflow.exceptions import AirflowFailException

    return AirflowFailException(f"zsaudit: {exc}")


def _call(stage: str, context: dict):
    from zsaudit import pipeline
    from zsaudit.errors import ZsauditError

    try:
        config = _config()
        since, until = pipeline.airflow_run_period(
            context.get("data_interval_start"), context.get("data_interval_end"),
            logical_date=context.get("logical_date"),
            run_after=getattr(context.get("dag_run"), "run_after", None))  # Airflow 3 only
        result = pipeline.run_stage(stage, config, since=since, until=until)
    except pipeline.StoreBusy:
        raise  # another process holds the DuckDB file: the retry (with backoff) may find it free
    except ZsauditError as exc:
        raise _fail_permanently(exc) from exc
    print(f"zsaudit {stage}: {result['text']}")  # noqa: T201  lands in the task log
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

    ingest_zscaler() >> ingest_airflow() >> analyze() >> report()

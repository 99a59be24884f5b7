"""The period a nightly run audits: from --since/--until or the config (resolve_period), from what
Airflow tells a DAG task (airflow_run_period), and the pack folder named after it (pack_name)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from . import timeutil
from .config import Config
from .timeutil import parse_time, yesterday_utc


def resolve_period(config: Config | None, since=None, until=None, *, now: datetime | None = None
                   ) -> tuple[datetime, datetime]:
    """--since/--until, else the config's fixed period, else yesterday (UTC).
    Only --since: up to the start of today. Only --until: the day before it."""
    def fill(start, end):
        if start is None and end is None:
            return (config.since, config.until) if config is not None and config.since else yesterday_utc(now)
        end = end or yesterday_utc(now)[1]
        return start or end - timedelta(days=1), end

    return timeutil.resolve_period(since, until, fill=fill)


def airflow_run_period(data_interval_start=None, data_interval_end=None, *, logical_date=None, run_after=None,
                       now: datetime | None = None) -> tuple[datetime, datetime]:
    """The period a run of the DAG `zsaudit_nightly` audits, from what Airflow tells the task.

    A data interval of some width is audited as given: Airflow 2's `@daily`
    (CronDataIntervalTimetable: [yesterday, today)) and a manual run triggered with
    data_interval_start/end. Without one (Airflow 3's `@daily` is a CronTriggerTimetable whose runs
    have start == end == the trigger time; asset-triggered runs; a manual run with no interval), the
    run audits the UTC day that ended at or before its time: the interval's end, else its
    logical_date, else its run_after (Airflow 3 runs may have no logical date), else now.
    """
    start = parse_time(data_interval_start, what="data_interval_start")
    end = parse_time(data_interval_end, what="data_interval_end")
    if start is not None and end is not None and end > start:
        return start, end
    when = (end or start or parse_time(logical_date, what="logical_date")
            or parse_time(run_after, what="run_after") or now)
    return yesterday_utc(when)


def pack_name(since: datetime, until: datetime) -> str:
    """packs/<name>: YYYY-MM-DD for one UTC day, else <since>--<until>."""
    def fmt(t: datetime) -> str:
        t = t.astimezone(timezone.utc)
        return t.strftime("%Y-%m-%d") if t.time() == time.min else t.strftime("%Y-%m-%dT%H%MZ")

    if since.astimezone(timezone.utc).time() == time.min and until - since == timedelta(days=1):
        return fmt(since)
    return f"{fmt(since)}--{fmt(until)}"

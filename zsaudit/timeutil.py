"""Time helpers shared by the CLI, config and analysis: periods and durations, all UTC."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from .errors import BadUsage

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """'15m', '5s', '1h', '250ms', '2d' -> timedelta."""
    m = _DURATION.match(str(text))
    if not m:
        raise BadUsage(f"{what}: expected a duration like '15m', '5s', '1h' or '250ms', got {text!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_time(text: str | datetime | date | None, *, what: str = "time") -> datetime | None:
    """An ISO 8601 date or date-time; naive values are UTC. Returns an aware UTC datetime."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        value = text
    elif isinstance(text, date):
        value = datetime.combine(text, time.min)
    else:
        raw = str(text).strip()
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BadUsage(
                f"{what}: expected an ISO 8601 date or time such as 2026-11-24 or "
                f"2026-11-24T00:00:00Z, got {raw!r}"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def resolve_period(since, until, *, fill=None) -> tuple[datetime | None, datetime | None]:
    """The one period resolver: --since/--until parsed (ISO 8601, UTC unless they say), the ends
    left open filled by `fill(start, end) -> (start, end)`, each caller's default (none: unbounded,
    `zsaudit analyze`; yesterday, the nightly job; the stored data, a report), then checked."""
    start, end = parse_time(since, what="--since"), parse_time(until, what="--until")
    if fill is not None and (start is None or end is None):
        start, end = fill(start, end)
    if start is not None and end is not None and end <= start:
        raise BadUsage(f"--until ({iso_z(end)}) must be after --since ({iso_z(start)})")
    return start, end


def yesterday_utc(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The default nightly period: the previous UTC day, [00:00, 00:00)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    end = datetime.combine(now.date(), time.min, tzinfo=timezone.utc)
    return end - timedelta(days=1), end


def iso_z(t: datetime | None, timespec: str = "auto") -> str | None:
    """A time as ISO 8601 UTC with a Z: '2026-11-24T03:00:00Z' (timespec as datetime.isoformat:
    'auto', 'seconds', 'milliseconds', 'microseconds'). Naive times are UTC; None stays None."""
    if t is None:
        return None
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    return t.isoformat(timespec=timespec).replace("+00:00", "Z")


_NAMED_PERIOD = re.compile(r"^\s*(\d{4})(?:-(?:(0[1-9]|1[0-2])|[Qq]([1-4])))?\s*$")


def parse_named_period(text: str, *, what: str = "--period") -> tuple[datetime, datetime]:
    """'2026-Q3' (a quarter), '2026-09' (a month), '2026' (a year) or '2026-07-15..2026-10-15'
    (dates, the end exclusive) -> [start, end) in UTC."""
    if ".." in str(text):
        a, _, b = str(text).partition("..")
        start, end = resolve_period(a.strip(), b.strip())
        if start is None or end is None:
            raise BadUsage(f"{what}: expected two dates around '..' such as 2026-07-15..2026-10-15, got {text!r}")
        return start, end
    m = _NAMED_PERIOD.match(str(text))
    if not m:
        raise BadUsage(f"{what}: expected a quarter, month, year or dates such as 2026-Q3, 2026-09, 2026 or "
                       f"2026-07-15..2026-10-15, got {text!r}")
    year = int(m.group(1))
    if m.group(2):
        first, months = int(m.group(2)), 1
    elif m.group(3):
        first, months = 3 * (int(m.group(3)) - 1) + 1, 3
    else:
        first, months = 1, 12
    start = datetime(year, first, 1, tzinfo=timezone.utc)
    last = first - 1 + months
    end = datetime(year + last // 12, last % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def whole_days(since: datetime, until: datetime, *, what: str = "the period") -> tuple[date, date]:
    """[since, until) as UTC dates; both must be midnights (a period of nights)."""
    for t, name in ((since, "--since"), (until, "--until")):
        if t.astimezone(timezone.utc).time() != time.min:
            raise BadUsage(f"{name}: {what} is made of whole UTC nights; expected a date such as 2026-07-01, "
                           f"got {t.isoformat()}")
    return since.astimezone(timezone.utc).date(), until.astimezone(timezone.utc).date()

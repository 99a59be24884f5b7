"""Java SimpleDateFormat patterns (LEEF devTimeFormat) as strptime formats, and what they read."""

from __future__ import annotations

import duckdb
import pytest

from zsaudit.ingest.time_formats import declared_formats, java_format

CASES = [  # (Java pattern, strptime format, a value, UTC it means)
    ("MMM dd yyyy HH:mm:ss z", "%b %d %Y %H:%M:%S %Z", "Nov 24 2025 16:00:20 PST", "2025-11-25 00:00:20+00"),
    ("MMM dd yyyy HH:mm:ss z", "%b %d %Y %H:%M:%S %Z", "Nov 24 2025 10:00:20 America/Chicago", "2025-11-24 16:00:20+00"),
    ("EEE MMM d HH:mm:ss zzz yyyy", "%a %b %-d %H:%M:%S %Z %Y", "Mon Oct 2 16:21:40 UTC 2017", "2017-10-02 16:21:40+00"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "%Y-%m-%dT%H:%M:%S.%g%z", "2025-11-24T16:00:20.276+0100", "2025-11-24 15:00:20.276+00"),
    ("dd/MM/yyyy hh:mm:ss a z", "%d/%m/%Y %I:%M:%S %p %Z", "03/11/2025 04:00:20 PM CET", "2025-11-03 15:00:20+00"),
    ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S", "2025-11-24 16:00:20", "2025-11-24 16:00:20"),
    ("MMMM d, yy H:mm", "%B %-d, %y %-H:%M", "November 4, 25 6:05", "2025-11-04 06:05:00"),
    ("'at' HH:mm:ss 'on' yyyy.MM.dd", "at %H:%M:%S on %Y.%m.%d", "at 16:00:20 on 2025.11.24", "2025-11-24 16:00:20"),
]


@pytest.mark.parametrize("java,fmt,value,utc", CASES)
def test_java_pattern_reads_its_values(java, fmt, value, utc):
    assert java_format(java) == fmt
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    assert con.execute("SELECT try_strptime(?, ?)::VARCHAR", [value, fmt]).fetchone()[0] == utc


def test_patterns_strptime_cannot_follow_are_not_used():
    assert java_format("GGG yyyy") is None          # era
    assert java_format("yyyy 'unterminated") is None


def test_declared_formats_from_lines_most_common_first():
    lines = ["LEEF:1.0|Zscaler|NSS|4.1|x|devTime=Nov 24 2025 16:00:20 GMT\tdevTimeFormat=MMM dd yyyy HH:mm:ss z\tsrc=1"] * 3
    lines += ['{"devTime": "2025-11-24 16:00:20", "devTimeFormat": "yyyy-MM-dd HH:mm:ss"}']
    assert declared_formats(lines) == ["%b %d %Y %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S"]
    # space-delimited (as the Sumo Logic docs render the LEEF sample)
    assert declared_formats(["cat=Blocked devTimeFormat=MMM dd yyyy HH:mm:ss z referer=None"]) == ["%b %d %Y %H:%M:%S %Z"]

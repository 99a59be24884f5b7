"""Time styles of Zscaler feeds, as DuckDB strptime formats, and the formats records declare.

The chains below are tried in order (try_strptime takes a list), so the common NSS styles cost
one attempt and the rarer ones only cost the lines that need them. A record can also declare its
own format: QRadar LEEF carries `devTimeFormat=` (a Java SimpleDateFormat pattern such as
`MMM dd yyyy HH:mm:ss z`) next to `devTime=`; java_format() turns it into a strptime format.
"""

from __future__ import annotations

import re
from collections import Counter

# naive: read in the session TimeZone (--tz)
NAIVE_TIME_FORMATS = [
    "%a %b %d %H:%M:%S %Y",          # NSS %s{time}, ZPA LogTimestamp
    "%Y-%m-%d %H:%M:%S",             # Splunk app datetime
    "%Y-%m-%d,%H:%M:%S",             # Sentinel Cloud NSS TimeGenerated
    "%b %d %Y %H:%M:%S",             # CEF rt
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%m/%d/%Y, %I:%M:%S.%g %p",      # Sentinel (Log Analytics) export: 3/31/2022, 08:18:20.276 AM
    "%m/%d/%Y, %I:%M:%S %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",             # %02d{mth}/%02d{dd}/%04d{yyyy} %02d{hh}:...
    "%d %b %Y %H:%M:%S",
    "%b %d %Y %I:%M:%S %p",
]
# with a zone: an abbreviation (UTC, GMT, PST, CET, ...), an IANA name or an offset (%s{tz})
ZONED_TIME_FORMATS = [
    "%a %b %d %H:%M:%S %Z %Y",       # LEEF devTime "Mon Oct 02 16:21:40 UTC 2017"
    "%a %b %d %H:%M:%S %Y %Z",       # %s{time} %s{tz}
    "%Y-%m-%d %H:%M:%S %Z",
    "%b %d %Y %H:%M:%S %Z",          # LEEF devTimeFormat=MMM dd yyyy HH:mm:ss z
    "%Y-%m-%dT%H:%M:%S %Z",
    "%a %b %d %H:%M:%S %z %Y",
    "%Y-%m-%d %H:%M:%S %z",
    "%b %d %Y %H:%M:%S %z",
]

_DECLARED = re.compile(r"""devTimeFormat["']?\s*[=:]\s*"?([^\t"|=]+?)"?(?=\t|"|\s+[A-Za-z_][A-Za-z0-9_.]*=|$)""", re.I)
_JAVA = {
    "y": lambda n: "%y" if n == 2 else "%Y",
    "M": lambda n: {1: "%-m", 2: "%m", 3: "%b"}.get(n, "%B"),
    "d": lambda n: "%-d" if n == 1 else "%d",
    "H": lambda n: "%-H" if n == 1 else "%H",
    "k": lambda n: "%-H" if n == 1 else "%H",
    "h": lambda n: "%-I" if n == 1 else "%I",
    "K": lambda n: "%-I" if n == 1 else "%I",
    "m": lambda n: "%-M" if n == 1 else "%M",
    "s": lambda n: "%-S" if n == 1 else "%S",
    "S": lambda n: "%g" if n <= 3 else ("%f" if n <= 6 else "%n"),
    "a": lambda n: "%p",
    "E": lambda n: "%a" if n <= 3 else "%A",
    "D": lambda n: "%j",
    "z": lambda n: "%Z",
    "Z": lambda n: "%z",
    "X": lambda n: "%z",
    "x": lambda n: "%z",
}


def java_format(pattern: str) -> str | None:
    """The strptime format of a Java SimpleDateFormat pattern, or None when it uses a letter
    strptime has no equivalent for (era, week of year, ...)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":                               # 'literal', '' is a quote
            end = pattern.find("'", i + 1)
            if end == i + 1:
                out.append("'")
                i += 2
                continue
            if end < 0:
                return None
            out.append(pattern[i + 1:end].replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            n = 1
            while i + n < len(pattern) and pattern[i + n] == ch:
                n += 1
            conv = _JAVA.get(ch)
            if conv is None:
                return None
            out.append(conv(n))
            i += n
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out) or None


def is_zoned(fmt: str) -> bool:
    return "%Z" in fmt or "%z" in fmt


def declared_formats(lines: list[str], limit: int = 4) -> list[str]:
    """strptime formats the lines declare (devTimeFormat=), most common first."""
    found = Counter(m.group(1).strip() for line in lines for m in _DECLARED.finditer(line))
    out = []
    for pattern, _ in found.most_common():
        f = java_format(pattern)
        if f and f not in out:
            out.append(f)
        if len(out) == limit:
            break
    return out

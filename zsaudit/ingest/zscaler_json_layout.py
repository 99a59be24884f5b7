"""The layout of a JSON feed's template lines: the text around their values.

An NSS / LSS JSON feed renders every record from one format string, so nearly all of its lines
are the same text with other values in the same places. The batch SQL reads such a line's values
with one parse (a wildcard path: every value of the record, in order) and proves the line has the
template's keys by rebuilding it: the template's text with the line's values put back, compared
with the line (zscaler_sql._json_source). Equal text means the same keys in the same order, so
the line has no key the plan lacks and needs no second parse (json_keys) to find late keys.

Why equality proves it: on a line without a backslash no value holds a quote, so every quote of
the line is one of the template's; read from the left, each piece of template text leaves the
reader where it left it in the template line, and each value put back is the line's own value at
that place (the wildcard's n-th value is the record's n-th). A line that differs anywhere (a key
added, missing, reordered, a value written another way, an escape) is read as before.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from json.decoder import scanstring

from .limits import MAX_PLAN_KEYS

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")     # DuckDB writes these back as written
# a template needs this share of the sniffed lines: on a line that is not one, the test is extra work
MIN_SHARE = 0.75


@dataclass(frozen=True)
class JsonLayout:
    pieces: tuple[str, ...]      # the template's text between the values put back (len(slots) + 1)
    slots: tuple[int, ...]       # 1-based index, among the record's values in order, of each value put back
    raw: tuple[bool, ...]        # per slot: written without quotes (an integer, true, false)
    keys: tuple[str, ...]        # the record's keys in order (the wildcard's values follow it)


def _skip(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _members(s: str, i: int) -> list[tuple[str, int, int]]:
    """(key, start, end) of each member's value of the JSON object starting at s[i]; ValueError
    (or IndexError) when there is none."""
    if s[i] != "{":
        raise ValueError("not an object")
    out = []
    i = _skip(s, i + 1)
    if s[i] == "}":
        return out
    while True:
        if s[i] != '"':
            raise ValueError("not a key")
        key, i = scanstring(s, i + 1)
        i = _skip(s, i)
        if s[i] != ":":
            raise ValueError("no colon")
        i = _skip(s, i + 1)
        _, end = _DECODER.raw_decode(s, i)
        out.append((key, i, end))
        i = _skip(s, end)
        if s[i] == "}":
            return out
        if s[i] != ",":
            raise ValueError("no comma")
        i = _skip(s, i + 1)


def _slot(s: str, start: int, end: int) -> tuple[int, int, bool] | None:
    """(start, end, raw) of the text a value's place in the template holds, or None when the
    value stays template text (null, a float, an object or a list: DuckDB may write these another
    way, or they hold keys)."""
    text = s[start:end]
    if text.startswith('"'):
        return start + 1, end - 1, False
    if text in ("true", "false") or (_INTEGER.fullmatch(text) and text != "-0"):
        return start, end, True
    return None


def layout_of(line: str, root: str, plan_keys: set[str]) -> JsonLayout | None:
    """The layout of one line (from its first '{', as the batch SQL reads it), or None when it
    cannot be a template: a backslash in it, not an object, a repeated key, a key the plan lacks."""
    start = line.find("{")
    if start < 0 or "\\" in line:
        return None
    jt = line[start:]
    try:
        top = _members(jt, 0)
        if len({k for k, _, _ in top}) != len(top):
            return None
        if root:
            at = next(((a, b) for k, a, b in top if k == root), None)
            if at is None:
                return None
            members = _members(jt, at[0])
        else:
            members = top
    except (ValueError, IndexError, RecursionError):     # not JSON, cut short, or nested too deep
        return None
    keys = [k for k, _, _ in members]
    if len(set(keys)) != len(keys) or len(keys) > MAX_PLAN_KEYS or not set(keys) <= plan_keys:
        return None
    pieces, slots, raw, pos = [], [], [], 0
    for n, (_, a, b) in enumerate(members, 1):
        slot = _slot(jt, a, b)
        if slot is None:
            continue
        pieces.append(jt[pos:slot[0]])
        slots.append(n)
        raw.append(slot[2])
        pos = slot[1]
    pieces.append(jt[pos:])
    return JsonLayout(tuple(pieces), tuple(slots), tuple(raw), tuple(keys))


def template(lines: list[str], root: str, plan_keys: list[str]) -> JsonLayout | None:
    """The layout most of the sniffed `lines` have, or None when fewer than MIN_SHARE of them
    share one (a feed whose keys vary from line to line is read as before)."""
    known = set(plan_keys)
    counts = Counter(layout_of(line, root, known) for line in lines)
    counts.pop(None, None)
    if not counts:
        return None
    best, n = counts.most_common(1)[0]
    return best if n >= MIN_SHARE * len(lines) else None

"""The layout of a JSON feed's template lines: the text around their values.

An NSS / LSS JSON feed renders every record from one format string, so nearly all of its lines
are the same text with other values in the same places. The batch SQL reads such a line's values
with one parse (a wildcard path: every value of its record object, in order) and proves the line
has the template's keys, in the template's order, without a second parse (json_keys, which finds
late keys) and without taking each value out of the list or rebuilding the line
(zscaler_sql._json_template_test). A line (`jt`: from its first '{') is a template line when:

  1. it matches the template's pieces in order, the first at its start and the last at its end,
     anything between them (`jt LIKE 'piece%piece%...%piece'`);
  2. the whole line holds as many quotes as the pieces (JsonLayout.quotes; counted outside SQL:
     zscaler_batch.quote_counts), and jt no backslash;
  3. DuckDB parses it, and its record object has as many values as the template has keys.

Why this proves it. By 1, jt = P0 x1 P1 x2 ... xm Pm for the pieces P and some strings x; the
pieces alone hold `quotes` quotes, so by 2 no x and no text before the '{' holds a quote, and jt
has no backslash. Without a backslash a quote is always a string's delimiter, so jt's
strings are the template line's strings in the same places: a key or a value kept as template
text (in a piece) has the template's text, and a value put back as quoted text (its piece before
ends with the opening quote, the piece after starts with the closing one) is exactly its x. So
every key of jt, at any depth, is the template line's key with the same text, followed by its
colon. A value put back unquoted (an integer, true or false in the template) is an x holding no
string, after `key:`, and the template's text after it starts with ',' or '}' (the record object
goes on or ends). Such an x, in a line DuckDB parses, is one value and whitespace (a trailing
comma before '}', which DuckDB accepts, changes no member): a value still open at the x's end
would meet that ',' or '}' inside a list (a key there, or a mismatched '}') or inside an object it
opened, with no member (that needs a key string): a ',' there is an error, and a '}' leaves the
line one level deeper than the template to its end, with no x left to close it (only the record's
last value is followed by '}'): unbalanced. Anything after the value but whitespace is an error,
or a '}' closing the record object early: then it has fewer values than the template has keys,
which 3 refuses (a record object closed early cannot be reopened, and `$.root` names the first of
equal top-level keys: the record object). So each value of jt's record object is the template's
key's, in the template's order, the record has no key the template lacks, and the wildcard's
n-th value is the template's n-th key's: taken as json_extract_string($paths) would give it.
A line that differs in any other way (a key added, missing, renamed, moved into a nested object,
a value holding a quote, an escape, a quote before the record) is read by the two-parse path.
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
    keys: tuple[str, ...]        # the record's keys in order (the wildcard's values follow it)

    @property
    def quotes(self) -> int:
        """The quotes in the template's text (a template line holds these and no others)."""
        return sum(p.count('"') for p in self.pieces)

    def like_pattern(self) -> tuple[str, bool]:
        """(the SQL LIKE pattern of a template line: its pieces joined by '%', whether the pattern
        escapes '%' and '_' with a backslash: a piece holds no backslash, see layout_of)."""
        if any("%" in p or "_" in p for p in self.pieces):
            return "%".join(p.replace("%", "\\%").replace("_", "\\_") for p in self.pieces), True
        return "%".join(self.pieces), False


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


def _slot(s: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) of the text a value's place in the template holds (inside its quotes, or
    the whole of an integer, true or false: the pieces around it tell which), or None when the
    value stays template text (null, a float, an object or a list: DuckDB may write these another
    way, or they hold keys)."""
    text = s[start:end]
    if text.startswith('"'):
        return start + 1, end - 1
    if text in ("true", "false") or (_INTEGER.fullmatch(text) and text != "-0"):
        return start, end
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
    pieces, slots, pos = [], [], 0
    for n, (_, a, b) in enumerate(members, 1):
        slot = _slot(jt, a, b)
        if slot is None:
            continue
        pieces.append(jt[pos:slot[0]])
        slots.append(n)
        pos = slot[1]
    pieces.append(jt[pos:])
    return JsonLayout(tuple(pieces), tuple(slots), tuple(keys))


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

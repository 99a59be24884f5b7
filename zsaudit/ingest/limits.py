"""Caps on one input line, shared by the ingesters (docs/formats.md, "Limits on a line").

Each cap turns a line into a reject with its reason instead of letting one line cost memory or
time without bound; none of them stops the file.
"""

from __future__ import annotations

import hashlib
import re
from itertools import accumulate

import polars as pl

MAX_LINE_BYTES = 1 << 20        # --max-line-bytes: a longer line is rejected, its first bytes kept
MAX_FIELDS = 1000               # fields (keys) on one line: NSS templates have ~150 at most
MAX_PLAN_KEYS = 256            # keys a file's plan learns from its first lines (the batch SQL's width)
MAX_DEPTH = 64                  # nesting of a JSON line: NSS/LSS JSON nests 3 deep at most
NESTED_DEPTH = 8                # levels of an ECS document read as dotted keys (ECS nests 5 deep); deeper: one value
REJECT_KEEP_CHARS = 4096        # a reject keeps this much of its line, plus the line's length and sha256


def too_long(length: int, cap: int) -> str:
    return (f"line longer than {cap} bytes ({length} bytes; --max-line-bytes); "
            f"its first {REJECT_KEEP_CHARS} characters are kept")


def too_many_fields(count: int) -> str:
    return f"more than {MAX_FIELDS} fields on the line ({count})"


def too_deep() -> str:
    return f"JSON nested deeper than {MAX_DEPTH} levels"


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"{": 1, "[": 1, "}": -1, "]": -1}


def json_depth(text: str) -> int:
    """Deepest nesting of `{`/`[` outside strings (run only on the few lines with many brackets)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def over_caps(text: pl.Series, max_line_bytes: int, *, fields: pl.Series | None = None,
              json_lines: bool = False, json_starts: tuple[str, ...] = ("{", "[")
              ) -> tuple[pl.Series, list[str]] | None:
    """(mask of the lines over a cap, each such line's reason), or None when every line is within.
    `fields`: each line's field count (checked against MAX_FIELDS); `json_lines`: lines that may be
    JSON (they begin with one of `json_starts`) get the depth cap, measured only on the few lines
    with more than MAX_DEPTH brackets.
    Vectorized by Polars; the per-line Python is for the over-cap lines only."""
    length = text.str.len_bytes()
    over = length > max_line_bytes
    if fields is not None:
        over = over | (fields > MAX_FIELDS)
    deep = None
    if json_lines:
        maybe = (text.str.count_matches(r"[{\[]") > MAX_DEPTH) & ~over
        if maybe.any():
            rows = maybe.arg_true().to_list()
            deep_rows = [i for i in rows if text[i].lstrip()[:1] in json_starts and json_depth(text[i]) > MAX_DEPTH]
            if deep_rows:
                deep = pl.Series(range(len(text))).is_in(deep_rows)
    if not over.any() and deep is None:
        return None
    bad = over if deep is None else over | deep
    counts = fields.filter(bad) if fields is not None else pl.zeros(int(bad.sum()), pl.UInt32, eager=True)
    reasons = [too_long(n, max_line_bytes) if n > max_line_bytes
               else too_many_fields(c) if c > MAX_FIELDS
               else too_deep() for n, c in zip(length.filter(bad), counts)]
    return bad.fill_null(False), reasons


class LongLine:
    """A line cut off by the reader at the cap: its first bytes, length and sha256, read past
    without holding it."""

    def __init__(self, head: bytes | memoryview, keep: int = REJECT_KEEP_CHARS * 4):
        self.prefix = bytes(head[:keep])
        self.reason: str | None = None      # why it is rejected, when not for its length
        self.digest = hashlib.sha256()
        self.length = 0
        self.add(head)

    def add(self, data: bytes | memoryview) -> None:
        self.digest.update(data)
        self.length += len(data)

    def text(self) -> str:
        return self.prefix.decode("utf-8", errors="replace").rstrip("\r")[:REJECT_KEEP_CHARS]

"""Caps on one input line, shared by the ingesters (docs/formats.md, "Limits on a line").

Each cap turns a line into a reject with its reason instead of letting one line cost memory or
time without bound; none of them stops the file.
"""

from __future__ import annotations

import hashlib
import re
from itertools import accumulate

MAX_LINE_BYTES = 1 << 20        # --max-line-bytes: a longer line is rejected, its first bytes kept
MAX_FIELDS = 1000               # fields (keys) on one line: NSS templates have ~150 at most
MAX_PLAN_KEYS = 256            # keys a file's plan learns from its first lines (the batch SQL's width)
MAX_DEPTH = 64                  # nesting of a JSON line: NSS/LSS JSON nests 3 deep at most
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


class LongLine:
    """A line cut off by the reader at the cap: its first bytes, length and sha256, read past
    without holding it."""

    def __init__(self, head: bytes | memoryview, keep: int = REJECT_KEEP_CHARS * 4):
        self.prefix = bytes(head[:keep])
        self.digest = hashlib.sha256()
        self.length = 0
        self.add(head)

    def add(self, data: bytes | memoryview) -> None:
        self.digest.update(data)
        self.length += len(data)

    def text(self) -> str:
        return self.prefix.decode("utf-8", errors="replace").rstrip("\r")[:REJECT_KEEP_CHARS]

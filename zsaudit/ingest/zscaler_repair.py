"""Repair NSS "JSON" lines whose template left quotes inside values unescaped.

NSS JSON is a hand-written template: without `"` and `\\` in the feed's escape characters a user
agent such as `Mozilla "compatible"` breaks the line. Keys are identifiers and values are quoted
strings or bare numbers, so the `","key":` boundaries can still be found; the values between them
are re-quoted. Only the malformed minority of lines comes here (Python, not the hot path):
repair_staged() takes the staged rows of a batch, swaps those of broken lines for the rows of
their repaired form, and returns the lines that could not be repaired with the reason.
"""

from __future__ import annotations

import json
import re
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from . import limits

# a value ends at  ","key":  or  ",key": (bare-number neighbour) or at the closing "}
_BOUNDARY = re.compile(r'"?\s*,\s*"(?P<key>[A-Za-z_][A-Za-z0-9_\-]*)"\s*:\s*')
_FIRST = re.compile(r'^\{\s*"(?P<key>[A-Za-z_][A-Za-z0-9_\-]*)"\s*:\s*')
_ENVELOPE = re.compile(r'^\{\s*"sourcetype"\s*:\s*"(?P<st>[^"]*)"\s*,\s*"event"\s*:\s*(?P<body>\{.*\})\s*\}\s*$', re.S)


def _repair_object(text: str) -> dict | None:
    text = text.strip()
    m = _FIRST.match(text)
    if not m or not text.endswith("}"):
        return None
    keys = [m["key"]]
    starts = [m.end()]
    ends = []
    for b in _BOUNDARY.finditer(text, m.end()):
        # a boundary only counts when what precedes closes a value: a quote or a digit/bare literal
        prev = text[b.start() - 1] if b.start() > 0 else ""
        if text[b.start()] != '"' and not (prev.isdigit() or text[b.start() - 4:b.start()] in ("true", "null")):
            continue
        ends.append(b.start())
        keys.append(b["key"])
        starts.append(b.end())
    ends.append(len(text) - 1)
    out = {}
    for key, start, end in zip(keys, starts, ends):
        raw = text[start:end].strip()
        if raw.startswith('"'):
            raw = raw[1:]
            if raw.endswith('"'):
                raw = raw[:-1]
            value = raw.replace('\\"', '"').replace("\\\\", "\\")
        else:
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                return None
        out[key] = value
    return out


def repair_json_line(text: str) -> str | None:
    """A valid JSON rendering of a broken NSS JSON line, or None when it cannot be told apart."""
    text = text.strip()
    env = _ENVELOPE.match(text)
    if env:
        body = _repair_object(env["body"])
        if body is None:
            return None
        return json.dumps({"sourcetype": env["st"], "event": body}, ensure_ascii=False)
    body = _repair_object(text)
    return None if body is None else json.dumps(body, ensure_ascii=False)


def repair_staged(staged: pa.Table, restage: Callable[[pa.Table], pa.Table]
                  ) -> tuple[pa.Table, list[tuple[int, str, str]], int]:
    """(staged rows, unrepairable lines as (line, text, reason) in line order, lines repaired):
    the rows of lines that are not valid JSON (nfields = -1: the batch SQL parses each line once)
    swapped for the rows `restage` (the batch SQL) gives their repaired form, or left out."""
    mask = pc.fill_null(pc.equal(staged["nfields"], -1), False)
    if not pc.any(mask).as_py():
        return staged, [], 0
    rows = staged.filter(mask).select(["line", "text"])
    broken = list(zip(rows["line"].to_pylist(), rows["text"].to_pylist()))
    fixed_lines, fixed_texts, bad = [], [], []
    original = dict(broken)
    for line, text in broken:                      # the malformed minority, in Python
        start = text.find("{")
        fixed = repair_json_line(text[start:]) if start >= 0 else None
        if fixed is not None:
            fixed_lines.append(line)
            fixed_texts.append(fixed)
        else:
            bad.append((line, text, json_reason(text)))
    kept = staged.filter(pc.invert(mask))
    repaired = None
    if fixed_lines:
        repaired = restage(pa.table({"line": pa.array(fixed_lines, pa.int64()),
                                     "text": pa.array(fixed_texts, pa.string())}))
        still = pc.fill_null(pc.equal(repaired["nfields"], -1), False)
        if pc.any(still).as_py():          # a repair that still does not parse: reject the line
            for line in repaired.filter(still)["line"].to_pylist():
                bad.append((line, original[line], json_reason(original[line])))
            repaired = repaired.filter(pc.invert(still))
    n_repaired = repaired.num_rows if repaired is not None else 0
    bad.sort(key=lambda b: b[0])
    if repaired is None or repaired.num_rows == 0:
        return kept, bad, n_repaired
    return pa.concat_tables([kept, repaired.cast(kept.schema)]).sort_by("line"), bad, n_repaired


def json_reason(text: str) -> str:
    """Why a line is not a JSON object, for its reject."""
    start = text.find("{")
    if start < 0:
        return "not JSON: expected one JSON object per line"
    try:
        json.loads(text[start:])
    except RecursionError:
        return limits.too_deep()
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        col = getattr(exc, "colno", 0) + start
        if '"' in text[max(0, col - 3):col + 1]:
            return f"invalid JSON at column {col}: {msg} (unescaped quote inside a value; could not repair)"
        return f"invalid JSON at column {col}: {msg}"
    return "invalid JSON"

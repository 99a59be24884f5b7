"""Repair NSS "JSON" lines whose template left quotes inside values unescaped.

NSS JSON is a hand-written template: without `"` and `\\` in the feed's escape characters a user
agent such as `Mozilla "compatible"` breaks the line. Keys are identifiers and values are quoted
strings or bare numbers, so the `","key":` boundaries can still be found; the values between them
are re-quoted. Only the malformed minority of lines comes here (Python, not the hot path).
"""

from __future__ import annotations

import json
import re

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

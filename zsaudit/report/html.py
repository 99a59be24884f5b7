"""The pack's HTML from report_templates/ (jinja2, autoescape on: log content renders as text)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import jinja2

from ..resources import templates_dir
from ..timeutil import iso_z

_ENV: jinja2.Environment | None = None
MAX_CELL = 160
LONG_TOKEN = 40          # a token longer than this (hostile input) wraps anywhere rather than stay whole
WORD_JOINER = "\u2060"
_JOINED = re.compile(r"[^0-9A-Za-z]")


def ts(value) -> str:
    """A time as 'YYYY-MM-DD HH:MM:SSZ' (UTC), a date as 'YYYY-MM-DD', nothing as an em dash."""
    if value is None:
        return "\u2014"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond // 1000:03d}"
        return text + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def iso(value: datetime) -> str:
    return iso_z(value, "seconds")


def num(value) -> str:
    if value is None:
        return "\u2014"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def cell(value) -> str:
    """Any value of a sample or top-N row as short display text."""
    if value is None:
        return "\u2014"
    if isinstance(value, (datetime, date)):
        return ts(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "\u2026"


def nobreak(value) -> str:
    """A token (id, login, host, ticket) as text no line breaks inside: a word joiner (U+2060,
    invisible; pdftotext and copy leave it out) on each side of every character but a letter or
    digit, where a line could break otherwise ("svc-|etl", "abcdef:|1063"). The PDF keeps its
    tokens whole so, instead of an inline box each (a white-space: nowrap <span>, ~1,500 Python
    calls of WeasyPrint's layout apiece). A longer one than LONG_TOKEN is left breakable."""
    text = str(value)
    if len(text) > LONG_TOKEN:
        return text
    return _JOINED.sub(lambda m: WORD_JOINER + m.group(0) + WORD_JOINER, text)


def field(value, token: bool = False) -> str:
    """A record's value for the PDF's test sheets, on one line of a white-space: pre-wrap cell
    (its label, a tab, the value): whitespace runs as one space; a token kept whole (nobreak)."""
    text = " ".join(cell(value).split())
    return nobreak(text) if token else text


# Upper bounds of DejaVu Sans advance widths (em) by character class, for text_em.
_THIN = frozenset("'ijlIJ,. ")                  # <= 0.32 em
_NARROW = frozenset("/:;\\|f-()[]tr!")            # <= 0.42 em
_WIDE = frozenset("mwMW@%#&+<=>^~")               # <= 1.0 em; other capitals <= 0.8, the rest <= 0.64


def text_em(texts) -> float:
    """The width of the widest of texts in em of the pack's font (DejaVu Sans), never less than
    the real width: the PDF sets a label column of this width instead of measuring its cells."""
    def width(text: str) -> float:
        return sum(0.32 if ch in _THIN else 0.42 if ch in _NARROW else 1.0 if ch in _WIDE
                   else 0.8 if ch.isupper() else 0.64 for ch in text)
    return max((width(str(t)) for t in texts), default=0.0)


def shown_in(column: str, rows) -> bool:
    """Whether some row has a value for column (a test: `columns | select("shown_in", rows)`)."""
    return any(r.get(column) is not None for r in rows)


def env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        e = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        e.filters.update(ts=ts, num=num, cell=cell, iso=iso, text_em=text_em, nobreak=nobreak, field=field)
        e.tests["shown_in"] = shown_in
        e.globals["long_token"] = LONG_TOKEN   # tok(): the one bound of the span and of nobreak
        _ENV = e
    return _ENV


def render(ctx: dict, *, mode: str, template: str = "pack.html") -> str:
    """mode 'html' for index.html, 'pdf' for the WeasyPrint input (cover and page numbers);
    template: pack.html (a night or any analysed period) or period.html (a period of nights)."""
    return env().get_template(template).render(**ctx, mode=mode)

"""The pack's HTML from report_templates/ (jinja2, autoescape on: log content renders as text)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import jinja2

from ..resources import templates_dir
from ..timeutil import iso_z

_ENV: jinja2.Environment | None = None
MAX_CELL = 160


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
        e.filters.update(ts=ts, num=num, cell=cell, iso=iso, text_em=text_em)
        _ENV = e
    return _ENV


def render(ctx: dict, *, mode: str, template: str = "pack.html") -> str:
    """mode 'html' for index.html, 'pdf' for the WeasyPrint input (cover and page numbers);
    template: pack.html (a night or any analysed period) or period.html (a period of nights)."""
    return env().get_template(template).render(**ctx, mode=mode)

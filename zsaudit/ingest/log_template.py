"""Airflow `log_filename_template` (Jinja, as written in airflow.cfg) turned into a path parser.

`PathTemplate.parse(relpath)` returns the identity fields a task-log path carries (dag_id, run_id,
task_id, map_index, try_number, ts, ...) or None when the path does not fit. The template is
lexed with Jinja's own lexer: literal text is matched literally, `{{ expr }}` becomes a named
group (named after the last attribute before any filter: `ti.dag_id` -> dag_id,
`try_number|default(ti.try_number)` -> try_number), and `{% if %}...{% endif %}` becomes an
optional group. A name seen twice must repeat the same value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from jinja2 import Environment
from jinja2.exceptions import TemplateSyntaxError

from ..errors import BadUsage

DEFAULT_TEMPLATE = (
    "dag_id={{ ti.dag_id }}/run_id={{ ti.run_id }}/task_id={{ ti.task_id }}/"
    "{% if ti.map_index >= 0 %}map_index={{ ti.map_index }}/{% endif %}"
    "attempt={{ try_number|default(ti.try_number) }}.log"
)
LEGACY_TEMPLATE = "{{ ti.dag_id }}/{{ ti.task_id }}/{{ ts }}/{{ try_number }}.log"

# What each known field may look like inside one path segment.
_FIELD_PATTERNS = {
    "map_index": r"-?\d+",
    "try_number": r"\d+",
    "ts": r"\d{4}-\d\d-\d\d(?:T|%54|\s)[^/]*?",
    "ts_nodash": r"\d{8}T\d{6}[^/]*?",
    "ds": r"\d{4}-\d\d-\d\d",
    "ds_nodash": r"\d{8}",
}
_ALIASES = {
    "dag_id": "dag_id", "task_id": "task_id", "run_id": "run_id", "map_index": "map_index",
    "try_number": "try_number", "ts": "ts", "ts_nodash": "ts_nodash", "ds": "ds",
    "ds_nodash": "ds_nodash", "execution_date": "ts", "logical_date": "ts",
}
_IDENT = re.compile(r"[^0-9A-Za-z_]")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _decoded(value: str) -> str:
    """A field of a path, percent-decoded: a log tree copied through an object store or a browser
    carries ":" and "+" as %3A and %2B. Left as written where the decoding would not be text an
    Airflow identifier can hold (a control character, or bytes that are not UTF-8: "%00", "%0A",
    "%FF"): those were the name's own characters, not an encoding."""
    try:
        text = unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value
    return value if _CONTROL.search(text) and not _CONTROL.search(value) else text


@dataclass
class PathTemplate:
    template: str
    regex: re.Pattern
    fields: tuple[str, ...]

    def parse(self, path: str) -> dict | None:
        """Identity fields of a path (relative or absolute; the template must fit its end)."""
        m = self.regex.search(path.replace("\\", "/"))
        if not m:
            return None
        out: dict = {}
        for name in self.fields:
            value = m.group(name)
            if value is None:
                continue
            out[name] = _decoded(value)
        if "map_index" in out:
            out["map_index"] = int(out["map_index"])
        if "try_number" in out:
            out["try_number"] = int(out["try_number"])
        return out


def _field_name(tokens: list[tuple[str, str]]) -> str:
    """`ti.dag_id` -> dag_id; `try_number|default(ti.try_number)` -> try_number."""
    names = []
    for kind, value in tokens:
        if kind == "operator" and value == "|":
            break
        if kind == "name":
            names.append(value)
    if not names:
        return "x"
    last = names[-1]
    return _ALIASES.get(last, _IDENT.sub("_", last))


def compile_template(template: str, *, strict_ts: bool = False) -> PathTemplate:
    """Turn a Jinja log_filename_template into a PathTemplate (BadUsage if it is not Jinja)."""
    env = Environment()
    try:
        tokens = [(kind, value) for _, kind, value in env.lex(template)]
        env.parse(template)
    except TemplateSyntaxError as exc:
        raise BadUsage(f"--template {template!r} is not a valid Jinja template: {exc}") from exc
    parts: list[str] = []
    seen: list[str] = []
    i = 0
    depth = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "data":
            parts.append(re.escape(value))
            i += 1
        elif kind == "variable_begin":
            j = i + 1
            inner = []
            while j < len(tokens) and tokens[j][0] != "variable_end":
                if tokens[j][0] != "whitespace":
                    inner.append(tokens[j])
                j += 1
            name = _field_name(inner)
            if name in seen:
                parts.append(f"(?P={name})")
            else:
                seen.append(name)
                pattern = _FIELD_PATTERNS.get(name, r"[^/]+?")
                if name == "ts" and not strict_ts:
                    pattern = r"[^/]+?"
                parts.append(f"(?P<{name}>{pattern})")
            i = j + 1
        elif kind == "block_begin":
            j = i + 1
            while j < len(tokens) and tokens[j][0] == "whitespace":
                j += 1
            keyword = tokens[j][1] if j < len(tokens) else ""
            while j < len(tokens) and tokens[j][0] != "block_end":
                j += 1
            if keyword == "if":
                parts.append("(?:")
                depth += 1
            elif keyword in ("elif", "else"):
                parts.append(")?(?:")
            elif keyword == "endif":
                parts.append(")?")
                depth -= 1
            else:
                raise BadUsage(f"--template {template!r}: the {{% {keyword} %}} block is not supported "
                               "(only {% if %}...{% endif %})")
            i = j + 1
        elif kind in ("comment_begin",):
            while i < len(tokens) and tokens[i][0] != "comment_end":
                i += 1
            i += 1
        else:
            i += 1
    if depth != 0:
        raise BadUsage(f"--template {template!r}: unbalanced {{% if %}} blocks")
    body = "".join(parts)
    regex = re.compile(r"(?:^|/)" + body + r"$")
    return PathTemplate(template=template, regex=regex, fields=tuple(seen))


DEFAULT = compile_template(DEFAULT_TEMPLATE)
LEGACY = compile_template(LEGACY_TEMPLATE, strict_ts=True)


def templates_for(template: str | None) -> list[PathTemplate]:
    """The parsers to try, in order: the user's template, or Airflow's defaults (2.3+/3.x, then legacy)."""
    if template:
        return [compile_template(template)]
    return [DEFAULT, LEGACY]


def describe(templates: list[PathTemplate]) -> str:
    return " or ".join(repr(t.template) for t in templates)

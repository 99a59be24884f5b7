"""Batch SQL for one planned Zscaler file: split lines into values, normalise, type, reject.

The statement is assembled here rather than kept in queries/ because its column list follows the
file's feed template. Only our own column names and list indices enter the SQL text; every key,
JSON path, regex and time zone taken from the file or the user is a bound parameter.

Stages over the registered batch `_zs_batch(line BIGINT, text VARCHAR)`:
  v      the values of the plan's keys, a VARCHAR list aligned with plan.keys
  raw    one VARCHAR per canonical column: placeholders -> NULL, %HH / base64 decoded
  typed  TIMESTAMPTZ / BIGINT / INTEGER casts, and `bad`: why a line is refused (NULL = load it)
"""

from __future__ import annotations

from .nss_fields import COLUMNS
from .zscaler_sniff import Plan

NAIVE_TIME_FORMATS = [
    "%a %b %d %H:%M:%S %Y",          # NSS %s{time}, ZPA LogTimestamp
    "%Y-%m-%d %H:%M:%S",             # Splunk app datetime
    "%Y-%m-%d,%H:%M:%S",             # Sentinel Cloud NSS TimeGenerated
    "%b %d %Y %H:%M:%S",             # CEF rt
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
]
ZONED_TIME_FORMATS = ["%a %b %d %H:%M:%S %Z %Y"]   # LEEF devTime "Mon Oct 02 16:21:40 UTC 2017"
SQL_TYPES = {"ts": "TIMESTAMPTZ", "int": "INTEGER", "big": "BIGINT", "port": "INTEGER"}
_PLACEHOLDERS = "('', 'None', 'NA', 'N/A', 'none', 'null', 'NULL', 'n/a')"


def _source_ctes(plan: Plan) -> str:
    """CTEs ending in `s(line, text, v, drift)`: v = the values of plan.keys, drift = other keys."""
    if plan.fmt == "json":
        return ("s AS (SELECT line, text, json_extract_string(CASE WHEN starts_with(text, '{') THEN text "
                "ELSE substr(text, strpos(text, '{')) END, $paths) AS v, false AS drift FROM _zs_batch)")
    if plan.fmt in ("csv", "tsv"):
        d = "chr(9)" if plan.delim == "\t" else "','"
        if plan.csv_mode == "quoted":
            sep = "'\"' || chr(9) || '\"'" if plan.delim == "\t" else "'\",\"'"
            v = f"string_split(text[2:length(text) - 1], {sep})"
        elif plan.csv_mode == "plain":
            v = (f"list_transform(string_split(text, {d}), lambda x: "
                 "CASE WHEN length(x) >= 2 AND starts_with(x, '\"') AND ends_with(x, '\"') "
                 "THEN replace(x[2:length(x) - 1], '\"\"', '\"') ELSE x END)")
        else:
            v = ("list_transform(regexp_extract_all(text, '(?:^|,)(\"(?:[^\"]|\"\")*\"|[^,]*)', 1), lambda x: "
                 "CASE WHEN starts_with(x, '\"') THEN replace(x[2:length(x) - 1], '\"\"', '\"') ELSE x END)")
        return f"s AS (SELECT line, text, {v} AS v, len(v) <> {len(plan.keys)} AS drift FROM _zs_batch)"
    # key=value families: pairs -> parallel key / value lists -> lookup by the plan's keys
    if plan.fmt == "kv":
        parts = "string_split(text, chr(9))"
    elif plan.fmt == "cef":
        body = ("regexp_replace(text, '^.*?CEF:\\d+\\|[^|]*\\|[^|]*\\|[^|]*\\|[^|]*\\|.*?\\|"
                "(?:\\d+|Unknown|Low|Medium|High|Very-High)\\|', '')")
        parts = f"string_split(regexp_replace(' ' || {body}, $split, chr(31) || '\\1=', 'g'), chr(31))"
    else:  # leef
        body = "regexp_replace(text, '^.*?LEEF:[0-9.]+\\|[^|]*\\|[^|]*\\|[^|]*\\|[^|]*\\|', '')"
        if plan.split_regex:
            parts = f"string_split(regexp_replace(' ' || {body}, $split, chr(31) || '\\1=', 'g'), chr(31))"
        else:
            if plan.delim != "\t":
                body = f"regexp_replace({body}, '^[^|]{{1,6}}\\|', '')"   # LEEF 2.0 delimiter field
            parts = f"string_split({body}, $delim)"
    val = "substr(p, strpos(p, '=') + 1)"
    if plan.fmt == "cef":
        val = f"regexp_replace({val}, '\\\\([=|\\\\])', '\\1', 'g')"
    if plan.split_regex:
        val = f"rtrim({val}, ' ')"
    return (
        f"s0 AS (SELECT line, text, list_filter({parts}, lambda p: strpos(p, '=') > 1) AS parts FROM _zs_batch), "
        f"s1 AS (SELECT line, text, list_transform(parts, lambda p: trim(split_part(p, '=', 1))) AS ks, "
        f"       list_transform(parts, lambda p: {val}) AS vs FROM s0), "
        f"s AS (SELECT line, text, list_transform($keys, lambda k: vs[list_position(ks, k)]) AS v, "
        f"      ks <> $declared AS drift FROM s1)"
    )


def _decode(expr: str, how: str) -> str:
    if how == "url":
        return f"url_decode({expr})"
    if how == "b64":
        return f"coalesce(try(decode(from_base64({expr}))), {expr})"
    return expr


def _nullify_inline(expr: str, kind: str) -> str:
    e = f"trim({expr})"
    extra = ""
    if kind == "ip":
        extra = f" OR {e} = '0.0.0.0'"
    if kind == "port":
        extra = f" OR {e} = '0'"
    return (f"CASE WHEN {e} IN {_PLACEHOLDERS} OR (starts_with({e}, '%') AND "
            f"regexp_full_match({e}, '%[-0-9a-z]*\\{{[A-Za-z0-9_:]+\\}}')){extra} "
            f"THEN NULL ELSE {e} END")


def parse_time_expr(x: str) -> str:
    """TIMESTAMPTZ from any time style Zscaler feeds use; naive times are in $tz."""
    return (
        f"CASE WHEN {x} IS NULL THEN NULL "
        f"WHEN try_cast({x} AS BIGINT) IS NOT NULL THEN "
        f"  CASE WHEN length({x}) >= 12 THEN to_timestamp(try_cast({x} AS BIGINT) / 1000.0) "
        f"       ELSE to_timestamp(try_cast({x} AS BIGINT)) END "
        f"WHEN ends_with({x}, 'Z') OR regexp_matches({x}, '\\d[+-]\\d\\d:?\\d\\d$') THEN try_cast({x} AS TIMESTAMPTZ) "
        f"ELSE coalesce(timezone($tz, try_strptime(regexp_replace({x}, '\\s+', ' ', 'g'), $naive)), "
        f"              try_strptime({x}, $zoned)) END"
    )


def build(plan: Plan) -> tuple[str, dict]:
    """(SQL selecting line, text, typed canonical columns, extra, bad) and its parameters."""
    params: dict = {}
    if plan.fmt == "json":
        params["paths"] = plan.json_paths
    if plan.fmt in ("kv", "cef", "leef"):
        params["keys"] = plan.keys
    if plan.split_regex and plan.fmt in ("cef", "leef"):
        params["split"] = plan.split_regex
    if plan.fmt == "leef" and not plan.split_regex:
        params["delim"] = plan.delim
    cols = COLUMNS[plan.log_type]
    raw_exprs = []
    typed_exprs = []
    bad_terms = []
    for col, kind in cols.items():
        sources = plan.columns.get(col, [])
        if not sources and col == "event_time":
            bad_terms.append("'no event time (the feed has no time field; expected time, datetime, "
                             "epochtime, rt, devTime, TimeGenerated or LogTimestamp)'")
        if not sources:
            raw_exprs.append(f"NULL::VARCHAR AS r_{col}")
            typed_exprs.append(f"NULL::{SQL_TYPES.get(kind, 'VARCHAR')} AS {col}")
            continue
        if kind == "ts":
            # several keys may carry the time (Cloud NSS rt is only a month): first that parses wins
            raws = [_decode(_nullify_inline(f"v[{i + 1}]", kind), how) for i, how in sources]
            for n, r in enumerate(raws):
                raw_exprs.append(f"{r} AS r_{col}_{n}")
            parsed = [parse_time_expr(f"r_{col}_{n}") for n in range(len(raws))]
            typed_exprs.append(f"coalesce({', '.join(parsed)}) AS {col}")
            any_raw = " OR ".join(f"r_{col}_{n} IS NOT NULL" for n in range(len(raws)))
            what = "event time" if col == "event_time" else col
            if col == "event_time":
                bad_terms.append(
                    f"CASE WHEN NOT ({any_raw}) THEN 'no event time (the time field is empty)' "
                    f"WHEN {col} IS NULL THEN '{what}: unrecognised time ' || to_json(coalesce({', '.join(f'r_{col}_{n}' for n in range(len(raws)))}))"
                    f" || ' (expected NSS time like ''Mon Jun 20 15:29:11 2022'', epoch or ISO 8601)' END")
            else:
                bad_terms.append(
                    f"CASE WHEN ({any_raw}) AND {col} IS NULL THEN '{col}: unrecognised time ' || "
                    f"to_json(coalesce({', '.join(f'r_{col}_{n}' for n in range(len(raws)))})) END")
            continue
        raw = "coalesce(" + ", ".join(_decode(_nullify_inline(f"v[{i + 1}]", kind), how)
                                      for i, how in sources) + ")"
        if len(sources) == 1:
            raw = raw[len("coalesce("):-1]
        raw_exprs.append(f"{raw} AS r_{col}")
        if kind in ("int", "big", "port"):
            t = SQL_TYPES[kind]
            typed_exprs.append(f"try_cast(r_{col} AS {t}) AS {col}")
            bad_terms.append(f"CASE WHEN r_{col} IS NOT NULL AND {col} IS NULL THEN "
                             f"'{col}: expected an integer, got ' || to_json(r_{col}) END")
        else:
            typed_exprs.append(f"r_{col} AS {col}")
    if plan.extra:
        params["extra_keys"] = [plan.keys[i] for i in plan.extra]
        extra = ("CASE WHEN len(list_filter(ev, lambda x: x IS NOT NULL)) = 0 THEN NULL ELSE "
                 "to_json(map_from_entries(list_filter(list_zip($extra_keys, ev), lambda e: e[2] IS NOT NULL))) END")
        ev = "[" + ", ".join(f"v[{i + 1}]" for i in plan.extra) + "]"
    else:
        extra, ev = "NULL::VARCHAR", "NULL::VARCHAR[]"
    if plan.fmt in ("csv", "tsv"):
        n = len(plan.keys)
        bad_terms.insert(0, f"CASE WHEN len(v) <> {n} THEN 'expected {n} fields, found ' || len(v) END")
    bad = "concat_ws('; ', " + ", ".join(bad_terms) + ")" if bad_terms else "''"
    sql = f"""
WITH {_source_ctes(plan)},
r AS (
    SELECT line, text, v, drift, {', '.join(raw_exprs)}, {ev} AS ev FROM s
), t AS (
    SELECT *, {', '.join(typed_exprs)}, {extra} AS extra FROM r
)
SELECT line, text, drift, len(v) AS nfields, {', '.join(cols)}, extra, nullif({bad}, '') AS bad FROM t
"""
    if plan.fmt in ("kv", "cef", "leef"):
        params["declared"] = plan.declared
    params["naive"] = NAIVE_TIME_FORMATS
    params["zoned"] = ZONED_TIME_FORMATS
    params["tz"] = "UTC"  # the caller sets the file's --tz
    return sql, params

"""Batch SQL for one planned Zscaler file: split lines into values, normalise, type, reject.

The statement is assembled here rather than kept in queries/ because its column list follows the
file's feed template. Only our own column names and list indices enter the SQL text; every key,
JSON path, regex and time zone taken from the file or the user is a bound parameter.

Stages over the registered batch `_zs_batch(line BIGINT, text VARCHAR)` (and the columns
zscaler_batch.split adds: a quoted CSV line's INSIDE_QUOTES, a JSON line's quote count `qb`, the
kv / LEEF / CEF template lines' Polars split):
  v      the values of the plan's keys, a VARCHAR list aligned with plan.keys
  raw    one VARCHAR per canonical column: placeholders -> NULL, %HH / base64 decoded
  typed  TIMESTAMPTZ / BIGINT / INTEGER casts, and `bad`: why a line is refused (NULL = load it)
"""

from __future__ import annotations

import functools
import json
import re

from .limits import MAX_PLAN_KEYS, NESTED_DEPTH
from .nss_fields import COLUMNS, DERIVED, LSS_TYPES, PLACEHOLDERS, PREFIX_TIME_KEY, table_name
from .time_formats import NAIVE_TIME_FORMATS, ZONED_TIME_FORMATS, is_zoned
from . import zscaler_json_layout
from .zscaler_json_layout import JsonLayout
from .zscaler_sniff import Plan

BATCH_TABLE = "_zs_batch"        # the registered batch every statement here reads
HOST_TABLE = "_zs_urls"          # the URLs of rows without a host (host_sql)
# a quoted CSV / TSV line without its first and last character (strips_quotes): cut by Arrow
# (zscaler_batch.split) in place of the statement's text[2:length(text) - 1], whose character
# count and copy were 6 % of a CSV ingest's instructions (docs/benchmarks.md, session 15)
INSIDE_QUOTES = "inside"
SQL_TYPES = {"ts": "TIMESTAMPTZ", "int": "INTEGER", "big": "BIGINT", "port": "INTEGER"}
_PLACEHOLDER_MAX = max(len(p) for p in PLACEHOLDERS)


def _source_ctes(plan: Plan, layout: dict | None) -> tuple[str, list[str]]:
    """CTEs ending in `s`, and the SQL of each plan key's value over `s` (k_i = value of keys[i])."""
    n = len(plan.keys)
    extra = set(plan.extra)
    # JSON and CSV/TSV (_nulled_per_line): `extra` keeps the values as written
    keyed = [f"vraw[{i + 1}]" if i in extra else f"v[{i + 1}]" for i in range(n)]
    for i, a in plan.json_first.items():     # ECS: a list's first element (a JSON null: no value)
        keyed[i] = (f"CASE WHEN vraw[{a + 1}] IS NOT NULL THEN v[{a + 1}] WHEN starts_with(vraw[{i + 1}], '[') "
                    f"AND coalesce(try(json_valid(vraw[{i + 1}])), false) THEN NULL ELSE v[{i + 1}] END")
    nulled = f"list_transform(vraw, lambda x: CASE WHEN {_generic_placeholder('x')} THEN NULL ELSE x END) AS v"
    if plan.fmt == "json":
        # a line that is not a JSON object comes out with nf = -1 (the loader repairs or rejects
        # it in Python: zscaler_repair.repair_staged)
        tpl = json_template(plan)
        late = _json_late_keys(plan)
        if tpl is None:     # each line parsed twice: its values, and its keys (late keys)
            src = "s1 AS (SELECT line, text, jt, try(json_extract_string(jt, $paths)) AS vraw FROM s0)"
        else:               # a template line parsed once (zscaler_json_layout), any other as above
            src = (f"s1w AS (SELECT line, text, jt, qb, try(json_extract_string(jt, '{_json_root_path(plan)}.*')) AS w FROM s0), "
                   f"s1t AS (SELECT line, text, jt, w, {_json_template_test(tpl)} AS tpl FROM s1w), "
                   f"s1 AS (SELECT line, text, jt, tpl, CASE WHEN tpl THEN {_json_template_values(plan, tpl)} "
                   "ELSE try(json_extract_string(jt, $paths)) END AS vraw FROM s1t)")
            late = f"CASE WHEN tpl THEN NULL ELSE {late} END"
        qb = "" if tpl is None else "qb, "     # zscaler_batch.quote_counts (the template test)
        cte = (f"s0 AS (SELECT line, text, {qb}CASE WHEN starts_with(text, '{{') THEN text "
               f"ELSE substr(text, strpos(text, '{{')) END AS jt FROM _zs_batch), {src}, "
               f"s AS (SELECT line, text, vraw, {nulled}, false AS drift, "
               "CASE WHEN vraw IS NULL OR strpos(text, '{') = 0 THEN -1 END::INTEGER AS nf, "
               f"{late} AS late FROM s1)")
        return cte, keyed
    if plan.fmt in ("csv", "tsv"):
        d = "chr(9)" if plan.delim == "\t" else "','"
        if plan.csv_mode == "quoted":
            sep = "'\"' || chr(9) || '\"'" if plan.delim == "\t" else "'\",\"'"
            v = f"string_split({INSIDE_QUOTES}, {sep})"      # the line between its outer quotes
        elif plan.csv_mode == "plain":
            v = (f"list_transform(string_split(text, {d}), lambda x: "
                 "CASE WHEN length(x) >= 2 AND starts_with(x, '\"') AND ends_with(x, '\"') "
                 "THEN replace(x[2:length(x) - 1], '\"\"', '\"') ELSE x END)")
        else:
            # each field with the comma before it (one put before the first): an empty first
            # field must not be an empty match the search then steps over, losing the next one
            v = ("list_transform(regexp_extract_all(',' || text, ',(\"(?:[^\"]|\"\")*\"|[^,]*)', 1), lambda x: "
                 "CASE WHEN starts_with(x, '\"') THEN replace(x[2:length(x) - 1], '\"\"', '\"') ELSE x END)")
        cte = (f"s0 AS (SELECT line, text, {v} AS vraw FROM _zs_batch), "
               f"s AS (SELECT line, text, vraw, {nulled}, len(vraw) <> {n} AS drift, len(vraw) AS nf FROM s0)")
        return cte, keyed
    # key=value families: lines with the template's key sequence (nearly all) arrive split by
    # Polars (ok, p<position>: see split_exprs) and take values by position; the others are split
    # here and look each key up
    sm, delim = split_source(plan)

    def val(p: str) -> str:
        v = f"substr({p}, strpos({p}, '=') + 1)"
        if plan.fmt == "cef":   # CEF escapes \= \| \\ in extension values
            v = f"CASE WHEN contains({v}, '\\') THEN regexp_replace({v}, '\\\\([=|\\\\])', '\\1', 'g') ELSE {v} END"
        if plan.kv_quoted:      # key="value" with \" and \\ escapes (Splunk TA / SC4S)
            v = (f"CASE WHEN length({v}) >= 2 AND starts_with({v}, '\"') AND ends_with({v}, '\"') "
                 f"THEN regexp_replace({v}[2:length({v}) - 1], '\\\\([\"\\\\])', '\\1', 'g') ELSE {v} END")
        return f"rtrim({v}, ' ')" if plan.split_regex else v

    # linear in the parts of a line: each part's key once (pk), each plan key found by a native
    # list_position (no lambda per key and part), a repeated key's first value by its position
    pk = "list_transform(parts, lambda p: trim(split_part(p, '=', 1)))"
    slow = f"list_transform($keys, lambda k: {val('parts[list_position(pk, k)]')})"
    positions = layout["positions"] if layout else {}
    fast = bool(fast_parts(plan, layout))
    # keys the file's first lines did not have: kept in `extra` (lines that are not ok only)
    found = ("NULL" if not keeps_late_keys(plan) else
             f"CASE WHEN {'ok' if fast else 'false'} THEN NULL ELSE list_transform(list_filter("
             f"list_transform(parts, lambda p, i: {{'k': pk[i], 'v': {val('p')}, 'kv': strpos(p, '=') > 0}}), "
             f"lambda e: e.kv AND NOT list_contains($keys, e.k)), lambda e: {{'k': e.k, 'v': e.v}}) END")
    late = "NULL" if not keeps_late_keys(plan) else (
        "list_filter(found, lambda e, i: list_position(fk, e.k) = i)")
    keyed = (f"s1 AS (SELECT *, {pk} AS pk FROM s0), "
             f"s2 AS (SELECT *, {found} AS found FROM s1), "
             f"s3 AS (SELECT *, {'list_transform(found, lambda q: q.k)' if keeps_late_keys(plan) else 'NULL'} AS fk FROM s2)")
    if not fast:
        check = "list_transform(parts, lambda p: split_part(p, '=', 1)) = $sig" if layout else "false"
        cte = (f"s0 AS (SELECT *, string_split({sm}, {delim}) AS parts FROM _zs_batch), {keyed}, "
               f"s AS (SELECT *, NOT {check} AS drift, NULL::INTEGER AS nf, {slow} AS vslow, {late} AS late FROM s3)")
        return cte, [f"vslow[{i + 1}]" for i in range(n)]
    # tmpl: the line has the template's key sequence (else it is drift); ok: its values come
    # from Polars (tmpl, and nothing the SQL path must undo: see split_exprs)
    cte = (
        f"s0 AS (SELECT *, CASE WHEN ok THEN NULL ELSE string_split({sm}, {delim}) END AS parts FROM _zs_batch), "
        f"{keyed}, "
        f"s AS (SELECT *, NOT tmpl AS drift, NULL::INTEGER AS nf, "
        f"      CASE WHEN ok THEN NULL ELSE {slow} END AS vslow, {late} AS late FROM s3)"
    )
    exprs = [f"CASE WHEN ok THEN {f'p{positions[k]}' if k in positions else 'NULL::VARCHAR'} "
             f"ELSE vslow[{i + 1}] END" for i, k in enumerate(plan.keys)]
    return cte, exprs


def strips_quotes(plan: Plan) -> bool:
    """Whether the batch SQL reads the column INSIDE_QUOTES (quoted CSV / TSV lines)."""
    return plan.fmt in ("csv", "tsv") and plan.csv_mode == "quoted"


def json_template(plan: Plan) -> JsonLayout | None:
    """The layout of a (flat) JSON plan's template lines, learned from its sniffed lines."""
    if plan.fmt != "json" or plan.nested or not plan.sample:
        return None
    return _template(tuple(plan.sample), plan.json_root, tuple(plan.keys))


@functools.lru_cache(maxsize=16)    # build() runs twice a file (before and after the time probe)
def _template(sample: tuple[str, ...], root: str, keys: tuple[str, ...]) -> JsonLayout | None:
    return zscaler_json_layout.template(list(sample), root, list(keys))


def _json_root_path(plan: Plan) -> str:
    """The JSON path of the object holding a record's keys (a JSON key, so no quote in it)."""
    return f"$.{json.dumps(plan.json_root)}" if plan.json_root else "$"


def _json_template_test(tpl: JsonLayout) -> str:
    """SQL true when a line (jt; its record's values w in order; qb, the quotes on the whole line:
    zscaler_batch.quote_counts) is a template line, whose values are w in the template's key
    order: the proof is in zscaler_json_layout. The pattern is one parameter ($tpl_like);
    nothing is taken out of w or built per line (session 13 of docs/benchmarks.md: the line
    rebuilt from its values was most of a JSON ingest's cost over 326bb63's)."""
    match = "like_escape(jt, $tpl_like, '\\')" if tpl.like_pattern()[1] else "jt LIKE $tpl_like"
    return (f"CASE WHEN qb IS DISTINCT FROM {tpl.quotes} OR w IS NULL OR len(w) <> {len(tpl.keys)} "
            f"OR contains(jt, '\\') THEN false ELSE {match} END")


def _json_template_values(plan: Plan, tpl: JsonLayout) -> str:
    """SQL of a template line's values aligned with plan.keys (as json_extract_string($paths) gives them)."""
    if list(tpl.keys) == plan.keys:
        return "w"
    at = {k: n for n, k in enumerate(tpl.keys, 1)}
    return "[" + ", ".join(f"w[{at[k]}]" if k in at else "NULL::VARCHAR" for k in plan.keys) + "]"


def _json_late_keys(plan: Plan) -> str:
    """SQL of the keys of a JSON line that the plan has not (first seen after the sniffed lines),
    as [{'k': key, 'v': value}], for `extra`. Only a line with more keys than values read
    (json_keys, one cheap pass) is parsed again, into a map of all its keys; a JSON null is no value."""
    root = f"'{_json_root_path(plan)}'" if plan.json_root else None
    obj = f"json_extract(jt, {root})" if root else "jt"
    keys = f"json_keys(jt, {root})" if root else "json_keys(jt)"
    if plan.nested:
        # ECS: the plan's keys are dotted paths to leaves (objects followed, lists are leaves, as
        # zscaler_sniff._flatten makes them); every line's leaves are listed, since its top-level
        # keys do not tell whether a nested object gained one
        return (f"CASE WHEN vraw IS NOT NULL THEN list_transform(list_filter(({_json_leaves(obj, NESTED_DEPTH)})"
                f"[1:{MAX_PLAN_KEYS}], lambda e: e.v IS NOT NULL AND json_type(e.v) <> 'NULL' AND NOT list_contains($keys, e.k)), "
                "lambda e: {'k': e.k, 'v': json_extract_string(e.v, '$')}) END")
    return (f"CASE WHEN vraw IS NOT NULL AND try(len({keys})) > list_aggregate(vraw, 'count') THEN "
            f"list_transform(list_filter(map_entries(try(json_transform({obj}, '\"MAP(VARCHAR, VARCHAR)\"')))"
            f"[1:{MAX_PLAN_KEYS}], lambda e: e.value IS NOT NULL AND NOT list_contains($keys, e.key)), "
            "lambda e: {'k': e.key, 'v': e.value}) END")


def _json_leaves(obj: str, depth: int, prefix: str = "", n: int = 0) -> str:
    """SQL of the leaves of JSON object `obj` as [{'k': dotted path, 'v': JSON value}]: nested
    objects followed `depth` levels, lists and scalars are leaves."""
    e = f"e{n}"
    path = f"{prefix} || {e}.key" if prefix else f"{e}.key"
    leaf = f"[{{'k': {path}, 'v': {e}.value}}]"
    inner = leaf if depth <= 1 else _json_leaves(f"{e}.value", depth - 1, f"{path} || '.'", n + 1)
    return (f"flatten(list_transform(map_entries(try(json_transform({obj}, '\"MAP(VARCHAR, JSON)\"'))), lambda {e}: "
            f"CASE WHEN json_type({e}.value) = 'OBJECT' AND json_keys({e}.value) <> [] THEN {inner} ELSE {leaf} END))")


def nulls_as_list(plan: Plan) -> bool:
    """Whether build(few_lines=True) differs from build(): kv, LEEF and CEF test each column's value
    for placeholders, a CASE per column (~15 kB of SQL, half the statement's ~110 ms planning, paid
    by every batch whatever its size); with few_lines the values are listed and tested by one
    lambda, as JSON's and CSV's are: planned in half the time, but ~10k instructions a line dearer
    to run (the list built and taken apart), so only a batch of few lines is worth it (callgrind,
    docs/benchmarks.md, session 16)."""
    return not _nulled_per_line(plan)


def _nulled_per_line(plan: Plan) -> bool:
    """JSON and CSV/TSV lines are lists of values: their placeholders are nulled once over the
    list (one lambda over all values is cheaper than a test per column); other formats per column."""
    return plan.fmt in ("json", "csv", "tsv")


def keeps_late_keys(plan: Plan) -> bool:
    """kv and delimiter-separated LEEF split every `key=value` part, so a key the file's first
    lines did not have is found; space-delimited CEF / LEEF are cut at known keys only."""
    return plan.fmt in ("kv", "json") or (plan.fmt == "leef" and not plan.split_regex)


def _used(plan: Plan) -> list[int]:
    """Indices of plan.keys some column, `extra` or the record type check reads."""
    return sorted({i for srcs in plan.columns.values() for i, _ in srcs} | set(plan.extra) | set(plan.markers))


def _lss_type_check(plan: Plan, value) -> str | None:
    """SQL of the index in nss_fields.LSS_TYPES of the ZPA LSS log type a record's own keys mark
    it as (tried in order), or NULL: a record without markers is the file's type. `value(i)` is
    the SQL of plan.keys[i]'s value as written (NULL when absent)."""
    if not plan.markers:
        return None
    index = {plan.keys[i].lower(): i for i in reversed(plan.markers)}
    whens = []
    for n, (name, table, marker) in enumerate(LSS_TYPES):
        if not set(marker) <= index.keys():
            continue                            # the file has not this type's keys: never it
        if isinstance(marker, dict):
            cond = " AND ".join(f"starts_with({value(index[k])}, '{p}')" for k, p in marker.items())
        else:
            cond = " AND ".join(f"{value(index[k])} IS NOT NULL" for k in sorted(marker))
        whens.append(f"WHEN {cond} THEN {n}")
    return f"CASE {' '.join(whens)} END" if whens else None


def _lss_verdicts(plan: Plan, hand_on: bool) -> tuple[str, str]:
    """(SQL of why a record is not loaded by this plan, SQL of the table it is handed on to) over
    `r__lss` (see _lss_type_check). A record of a type zsaudit does not load is rejected naming
    the type; one of another loaded type is handed on (`hand_on`: the loader reads it into its own
    table, see zscaler._Loader) or, on a plan that is itself a hand-on, rejected naming it."""
    reasons, tables = [], []
    for n, (name, table, _) in enumerate(LSS_TYPES):
        if table == plan.log_type:
            continue
        if table is None:
            reasons.append(f"WHEN {n} THEN 'a {name} record (ZPA LSS): zsaudit does not load this log type'")
        elif hand_on:
            tables.append(f"WHEN {n} THEN '{table}'")
        else:
            reasons.append(f"WHEN {n} THEN 'a {name} record in a file of {table_name(plan.log_type)} records "
                           f"(ZPA LSS); not loaded as one'")
    reason = f"CASE r__lss {' '.join(reasons)} END" if reasons else "NULL"
    return reason, (f"CASE r__lss {' '.join(tables)} END" if tables else "NULL::VARCHAR")


def _position(plan: Plan, layout: dict | None, i: int) -> int | None:
    """1-based part position of plan.keys[i] in a template line."""
    return (layout or {}).get("positions", {}).get(plan.keys[i])


# Polars plans an expression per template part: past this many parts its planning time grows
# faster than the parts (987 parts: 13 s per batch); NSS templates have ~150 at most
FAST_SPLIT_MAX_PARTS = 256


def fast_parts(plan: Plan, layout: dict | None) -> list[int]:
    """1-based positions of the parts the batch SQL takes from Polars-split columns p<j>
    (see split_exprs); [] when the plan's lines are split in SQL only. A small file's (all its
    lines sniffed: Plan.whole_sample) are: building and planning the Polars expressions cost it
    more than they save (~25-40 ms a file, docs/benchmarks.md session 16)."""
    if plan.whole_sample:
        return []
    if plan.fmt in ("kv", "cef", "leef") and layout and len(layout["sig"]) <= FAST_SPLIT_MAX_PARTS:
        return sorted({_position(plan, layout, i) for i in _used(plan)} - {None})
    return []


def split_exprs(plan: Plan, layout: dict | None) -> list[list]:
    """Stages of Polars expressions (each a list for one with_columns) over the batch (line,
    text) of a key=value family (kv, LEEF, CEF) plan, adding `tmpl` (the line has the file's
    template: the template's key at every position), `ok` (tmpl, and its values need nothing
    only the SQL path does) and p<j>, the value of part j of an ok line (see fast_parts).
    Literal splits in Polars cost a fraction of DuckDB list lambdas; lines that are not ok are
    split in SQL. Space-delimited CEF / LEEF also get `pre` (see presplit)."""
    import polars as pl

    text = pl.col("text")
    fast = fast_parts(plan, layout)
    if not fast:
        pre = presplit(plan, text)
        return [[pre.alias("pre")]] if pre is not None else []
    sig = layout["sig"]
    n = len(sig)
    if plan.fmt == "kv":
        src, sep = (presplit(plan, text) if plan.kv_prefix else text), "\t"
    elif plan.split_regex:
        src, sep = presplit(plan, text), "\x1f"
    else:
        src = text.str.replace(LEEF_HEAD, "")
        if plan.delim != "\t":
            src = src.str.replace(r"^[^|]{1,6}\|", "")
        sep = plan.delim
    # CEF lines with a backslash (escapes to undo) are left to the SQL path
    plain = ~text.str.contains("\\", literal=True) if plan.fmt == "cef" else pl.lit(True)
    # `pre` is what the SQL splits for lines that are not ok (split_source)
    name = "pre" if plan.split_regex or plan.kv_prefix else "_src"
    fields = [pl.col("_parts").struct.field(f"field_{j}") for j in range(n)]
    checks = [(f == k) | f.str.starts_with(k + "=") for f, k in zip(fields, sig)]
    return [[src.alias(name)],
            [(pl.col(name).str.count_matches(sep, literal=True) == n - 1).alias("_n"),
             pl.col(name).str.split_exact(sep, n - 1).alias("_parts")],
            [(pl.col("_n") & pl.all_horizontal(checks)).fill_null(False).alias("tmpl")],
            [(pl.col("tmpl") & plain).alias("ok")]
            + [_polars_value(plan, fields[j - 1], sig[j - 1]).alias(f"p{j}") for j in fast]]


def _polars_value(plan: Plan, part, key: str):
    """The value of a `key=value` part, as val() in _source_ctes computes it in SQL."""
    import polars as pl

    v = pl.when(part.str.starts_with(key + "=")).then(part.str.slice(len(key) + 1)).otherwise(part)
    if plan.kv_quoted:
        quoted = v.str.starts_with('"') & v.str.ends_with('"') & (v.str.len_bytes() >= 2)
        inner = v.str.strip_prefix('"').str.strip_suffix('"').str.replace_all(r'\\(["\\])', "$1")
        v = pl.when(quoted).then(inner).otherwise(v)
    # CEF lines with a backslash (escapes to undo) are not ok: the SQL path unescapes them
    return v.str.strip_chars_end(" ") if plan.split_regex else v


# header of a CEF / LEEF line, up to its extension / attributes ([0-9], not \d: Unicode in Rust regex)
CEF_HEAD = r"^.*?CEF:[0-9]+\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|.*?\|(?:[0-9]+|Unknown|Low|Medium|High|Very-High)\|"
LEEF_HEAD = r"^.*?LEEF:[0-9.]+\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|"


def presplit(plan: Plan, text):
    """Polars expression marking each part of a space-delimited CEF / LEEF line with chr(31), or None.

    Replaces ' key=' by chr(31) 'key=' for the plan's keys in one Aho-Corasick pass after the header
    is cut off: the same parts as the regex ' (k1|k2|...)=' (a match starts at a space and keys hold
    neither spaces nor '=', so matches never overlap), several times faster than a regex replace."""
    if plan.fmt == "kv" and plan.kv_prefix:      # the prefix becomes `_prefix_time=<its timestamp>`
        from .zscaler_sniff import KV_PREFIX

        return text.str.replace(KV_PREFIX, PREFIX_TIME_KEY + "=${1}\t")
    if not plan.split_regex or plan.fmt not in ("cef", "leef"):
        return None
    from .zscaler_sniff import split_keys

    keys = split_keys(plan.keys)
    body = text.str.replace(CEF_HEAD if plan.fmt == "cef" else LEEF_HEAD, "")
    return (" " + body).str.replace_many([f" {k}=" for k in keys], [f"\x1f{k}=" for k in keys])


def split_source(plan: Plan) -> tuple[str, str]:
    """(SQL of the string to split into key=value parts, SQL of its delimiter) for kv / cef / leef.

    Space-delimited CEF / LEEF lines arrive already marked (column `pre`, see presplit)."""
    if plan.fmt == "kv":
        return ("pre" if plan.kv_prefix else "text"), "chr(9)"
    if plan.split_regex:
        return "pre", "chr(31)"
    body = "regexp_replace(text, '^.*?LEEF:[0-9.]+\\|[^|]*\\|[^|]*\\|[^|]*\\|[^|]*\\|', '')"
    if plan.delim != "\t":
        body = f"regexp_replace({body}, '^[^|]{{1,6}}\\|', '')"   # LEEF 2.0 delimiter field
    return body, "$delim"


def layout_sql(plan: Plan) -> str:
    """SQL giving (parts, key sequence) of the batch's lines: run on the sniffed lines to learn the template."""
    sm, delim = split_source(plan)
    return (f"SELECT parts, list_transform(parts, lambda p: split_part(p, '=', 1)) AS sig "
            f"FROM (SELECT string_split({sm}, {delim}) AS parts FROM _zs_batch)")


def _decode(expr: str, how: str) -> str:
    if how == "url":    # most values hold no escape: skip the decoder for them; %HH escapes that
        # do not decode to UTF-8 (Latin-1 %E9): the value as written
        return f"CASE WHEN contains({expr}, '%') THEN coalesce(try(url_decode({expr})), {expr}) ELSE {expr} END"
    if how == "b64":
        return f"coalesce(try(decode(from_base64({expr}))), {expr})"
    if how == "ns_ms":      # ECS event.duration (ns) -> ms, truncated as NSS's durationms; else as written
        return (f"CASE WHEN regexp_full_match({expr}, '[0-9]{{1,20}}') "
                f"THEN ({expr}::HUGEINT // 1000000)::VARCHAR ELSE {expr} END")
    if how == "answers":    # ECS dns.answers: [{data, type}, ...] (older versions: {name}); as written if not JSON
        return (f"CASE WHEN NOT coalesce(json_valid({expr}), false) THEN {expr} "
                f"WHEN json_type({expr}) = 'ARRAY' THEN nullif(array_to_string(json_extract_string({expr}, '$[*].data'), ', '), '') "
                f"WHEN json_type({expr}) = 'OBJECT' THEN coalesce(json_extract_string({expr}, '$.data'), "
                f"json_extract_string({expr}, '$.name')) ELSE json_extract_string({expr}, '$') END")
    return expr


def _answers_beyond_data(expr: str) -> str:
    """ECS dns.answers `expr` for `extra`: NULL when its answers hold only their data (all of it
    is then in `response`), else the list as written (an answer's type, say, is kept)."""
    return (f"CASE WHEN coalesce(json_valid({expr}), false) AND json_type({expr}) = 'ARRAY' AND "
            f"list_bool_and(list_transform(json_extract({expr}, '$[*]'), lambda a: "
            f"coalesce(json_type(a) = 'OBJECT' AND json_keys(a) = ['data'], false))) THEN NULL ELSE {expr} END")


_TEMPLATE_TOKEN = "'%[-0-9a-z]*\\{[A-Za-z0-9_:]+\\}'"     # an unexpanded feed-template token: %s{ourl}


def _generic_placeholder(expr: str) -> str:
    """SQL true when `expr` is a placeholder any column reads as NULL: None, NA, N/A, empty,
    whitespace only (NSS pads empty fields, e.g. devicehostname " ") as short as a placeholder, or
    an unexpanded feed-template token such as %s{ourl}. Nested CASEs: written as an OR of ANDs,
    the whitespace-only test in it (`< '!'`, trim) cost a third of kv's batch SQL (callgrind,
    docs/benchmarks.md); here a value longer than any placeholder costs strlen and starts_with,
    and each test runs only on the values it can match. A placeholder or a blank is ASCII, so
    strlen (bytes, O(1)) bounds it as length would; '%' > '!', so a blank never starts with it."""
    token = f"regexp_full_match({expr}, {_TEMPLATE_TOKEN})"
    ors = " OR ".join(f"{expr} = '{p}'" for p in PLACEHOLDERS)
    return (f"CASE WHEN strlen({expr}) <= {_PLACEHOLDER_MAX} THEN CASE WHEN {expr} < '!' THEN "
            f"trim({expr}, ' \t') = '' WHEN starts_with({expr}, '%') THEN {token} ELSE ({ors}) END "
            f"WHEN starts_with({expr}, '%') THEN {token} ELSE false END")


def _nullify_inline(expr: str, kind: str, generic: bool = True) -> str:
    """Placeholders -> NULL: the generic ones (unless already nulled over the line's values)
    and 0.0.0.0 / 0 for IPs / ports."""
    whens = [f"WHEN {_generic_placeholder(expr)} THEN NULL"] if generic else []
    if kind == "ip":
        whens.append(f"WHEN {expr} = '0.0.0.0' THEN NULL")
    if kind == "port":
        whens.append(f"WHEN {expr} = '0' THEN NULL")
    return f"CASE {' '.join(whens)} ELSE {expr} END" if whens else expr


def host_from_url(x: str) -> str:
    """SQL of the host (lower case) in URL `x`: with or without a scheme (NSS writes none), without
    userinfo (`user:pw@`) and port; an IPv6 literal without its brackets; NULL if there is none."""
    return host_from_authority(url_authority(x))


def url_authority(x: str) -> str:
    """SQL of the authority of URL `x` without its userinfo: host[:port]."""
    return f"regexp_replace(regexp_extract({x}, '^(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/?#\\\\]*)', 1), '^.*@', '')"


def host_from_authority(auth: str) -> str:
    """SQL of the host (lower case) in `auth` (url_authority): its port and IPv6 brackets cut off."""
    return (f"nullif(lower(CASE WHEN starts_with({auth}, '[') THEN regexp_extract({auth}, '^\\[([^\\]]*)\\]', 1) "
            f"WHEN length({auth}) - length(replace({auth}, ':', '')) >= 2 THEN {auth} "
            f"ELSE regexp_replace({auth}, ':[0-9]*$', '') END), '')")


def derives_host(plan: Plan) -> bool:
    """zia_web rows without a host take it from their URL (DERIVED: host_derived marks them):
    the batch SQL leaves their host NULL, and host_sql() gives it."""
    return "host_derived" in DERIVED.get(plan.log_type, []) and bool(plan.columns.get("url"))


def host_sql() -> str:
    """SQL of the host of each `url` of HOST_TABLE, in order (host_from_url): run on the staged
    rows the batch SQL gave a URL but no host (zscaler_batch.BatchStatement.run)."""
    return f"SELECT {host_from_authority('a')} AS host FROM (SELECT {url_authority('url')} AS a FROM {HOST_TABLE})"


def parse_time_expr(x: str, first: bool = False, declared: tuple[str, ...] = ()) -> str:
    """TIMESTAMPTZ from any time style Zscaler feeds use. Naive times are read in the session
    TimeZone, which the loader sets to --tz for the file. With `first`, the file's own format
    ($first_time, see time_probe) is tried before the others; `declared` names the parameters
    ($declared_naive, $declared_zoned) holding the formats the records declare (devTimeFormat)."""
    head = f"try_strptime({x}, $first_time)::TIMESTAMPTZ, " if first else ""
    head += "".join(f"try_strptime({x}, ${p})::TIMESTAMPTZ, " for p in declared)
    return (
        f"coalesce({head}try_strptime({x}, $naive)::TIMESTAMPTZ, "
        f"CASE WHEN {x} IS NULL THEN NULL "
        f"WHEN regexp_full_match({x}, '[0-9]{{9,10}}') THEN to_timestamp({x}::BIGINT) "
        f"WHEN regexp_full_match({x}, '[0-9]{{12,13}}') THEN to_timestamp({x}::BIGINT / 1000.0) "
        f"WHEN regexp_full_match({x}, '[0-9]{{15,16}}') THEN make_timestamptz({x}::BIGINT) "
        f"WHEN regexp_full_match({x}, '[0-9]{{9,10}}\\.[0-9]{{1,6}}') THEN to_timestamp({x}::DOUBLE) "
        f"WHEN ends_with({x}, 'Z') OR regexp_matches({x}, '\\d[+-]\\d\\d:?\\d\\d$') THEN try_cast({x} AS TIMESTAMPTZ) "
        f"ELSE try_strptime({x}, $zoned) END)"
    )


def time_probe(sql: str, plan: Plan) -> str | None:
    """SQL over the batch giving the raw event-time values (`v`) of the batch SQL `sql`, or None
    when the feed has no event-time key: the loader runs it on the first lines to learn the
    file's time format (build's `first_time`)."""
    n = len(plan.columns.get("event_time", []))
    if not n:
        return None
    ctes = sql[:sql.index("), t AS (")] + ")"
    return f"{ctes}\nSELECT unnest([{', '.join(f'r_event_time_{i}' for i in range(n))}]) AS v FROM r"


def build(plan: Plan, layout: dict | None = None, first_time: str | None = None,
          hand_on: bool = True, few_lines: bool = False) -> tuple[str, dict]:
    """(SQL selecting line, text, typed canonical columns, extra, bad, hand_to) and its parameters.
    `first_time`: a time format the file's event times have, tried before the others. `hand_to`:
    the table a ZPA LSS record of another loaded type belongs in (`hand_on`; else it is rejected).
    `few_lines`: the statement for a batch of few lines (same rows, same parameters), cheaper to
    plan and dearer per line (see nulls_as_list)."""
    params: dict = {}
    if plan.fmt == "json":
        params["paths"] = plan.json_paths
        tpl = json_template(plan)
        if tpl is not None:
            params["tpl_like"] = tpl.like_pattern()[0]
    if plan.fmt in ("kv", "cef", "leef", "json"):
        params["keys"] = plan.keys
    if plan.split_regex and plan.fmt in ("cef", "leef"):
        params["split"] = plan.split_regex
    if plan.fmt == "leef" and not plan.split_regex:
        params["delim"] = plan.delim
    cols = COLUMNS[plan.log_type]
    generic = not _nulled_per_line(plan)
    declared_params = []
    # a declared format the file's first lines do not follow (first_time is another one, as in the
    # Sumo Logic LEEF sample) is not tried on every line
    declared = plan.time_formats if first_time is None or first_time in plan.time_formats else []
    for name, zoned in (("declared_naive", False), ("declared_zoned", True)):
        formats = [f for f in declared if is_zoned(f) == zoned and f != first_time]
        if formats:
            params[name] = formats
            declared_params.append(name)
    raw_exprs = []
    typed_exprs = []
    bad_terms = []
    nulled: dict[tuple[int, str], str] = {}     # (key index, kind) -> SQL of the nulled value

    def value(i: int, kind: str, how: str) -> str:
        """plan.keys[i]'s value for a column of `kind`, placeholders nulled, decoded `how`: the
        nulling is a column of CTE n, once per key and kind, which the decoder's CASE then reads
        three times (DuckDB does not share a subexpression repeated within a CASE)."""
        name = nulled.setdefault((i, kind if kind in ("ip", "port") else ""), f"n{len(nulled)}")
        return _decode(name, how)

    for col, kind in cols.items():
        sources = plan.columns.get(col, [])
        if not sources and col == "event_time":
            bad_terms.append("'no event time (the feed has no time field; expected time, datetime, "
                             "epochtime, rt, devTime, TimeGenerated or LogTimestamp)'")
        if col == "host" and derives_host(plan):
            # a row without a host takes its URL's after this statement (host_sql): in the
            # statement, the derivation cost every batch's planning ~1.5-2 ms, though nearly
            # every row of a feed with a host field has one
            typed_exprs.append("r_host AS host")
            if not sources:
                raw_exprs.append("NULL::VARCHAR AS r_host")
                continue
        elif not sources:
            raw_exprs.append(f"NULL::VARCHAR AS r_{col}")
            typed_exprs.append(f"NULL::{SQL_TYPES.get(kind, 'VARCHAR')} AS {col}")
            continue
        if kind == "ts":
            # several keys may carry the time (Cloud NSS rt is only a month): first that parses wins
            raws = [value(i, kind, how) for i, how in sources]
            for n, r in enumerate(raws):
                raw_exprs.append(f"{r} AS r_{col}_{n}")
            first = first_time is not None and col == "event_time"
            declared = tuple(declared_params) if col == "event_time" else ()
            parsed = [parse_time_expr(f"r_{col}_{n}", first, declared) for n in range(len(raws))]
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
        raw = "coalesce(" + ", ".join(value(i, kind, how) for i, how in sources) + ")"
        if len(sources) == 1:
            raw = raw[len("coalesce("):-1]
        raw_exprs.append(f"{raw} AS r_{col}")
        if kind in ("int", "big", "port"):
            t = SQL_TYPES[kind]
            typed_exprs.append(f"try_cast(r_{col} AS {t}) AS {col}")
            bad_terms.append(f"CASE WHEN r_{col} IS NOT NULL AND {col} IS NULL THEN "
                             f"'{col}: expected an integer, got ' || to_json(r_{col}) END")
        elif col != "host" or not derives_host(plan):
            typed_exprs.append(f"r_{col} AS {col}")
    derived = [f"false AS {c}" for c in DERIVED.get(plan.log_type, [])]      # set by host_sql's caller
    if plan.extra:
        params["extra_keys"] = [plan.keys[i] for i in plan.extra]
        extra = ("CASE WHEN len(list_filter(ev, lambda x: x IS NOT NULL)) = 0 THEN NULL ELSE "
                 "to_json(map_from_entries(list_filter(list_zip($extra_keys, ev), lambda e: e[2] IS NOT NULL))) END")
        answers = {i for srcs in plan.columns.values() for i, how in srcs if how == "answers"}
        ev = "[" + ", ".join(_answers_beyond_data(f"k{i}") if i in answers else f"k{i}" for i in plan.extra) + "]"
    else:
        extra, ev = "NULL::VARCHAR", "NULL::VARCHAR[]"
    vendor = next((i for i in plan.extra if plan.keys[i].lower() == "devicevendor"), None)
    product = next((i for i in plan.extra if plan.keys[i].lower() == "deviceproduct"), None)
    if vendor is not None:
        raw_exprs.append(f"k{vendor} AS r__vendor")
    if product is not None and plan.product:     # ... and every Zscaler log type's rows
        params["product"] = plan.product
        raw_exprs.append(f"k{product} AS r__product")
        is_zscaler = "coalesce(lower(r__vendor), 'zscaler') = 'zscaler' AND " if vendor is not None else ""
        bad_terms.insert(0, f"CASE WHEN {is_zscaler}lower(r__product) <> lower($product) THEN 'a Zscaler ' || to_json(r__product) "
                            "|| ' record in an export read as ' || to_json($product) || ' records; export each "
                            "DeviceProduct to its own file' END")
    if vendor is not None:      # a SIEM export (Sentinel CommonSecurityLog) holds every vendor's rows
        bad_terms.insert(0, "CASE WHEN lower(r__vendor) <> 'zscaler' THEN 'not a Zscaler record (DeviceVendor ' "
                            "|| to_json(r__vendor) || '); expected DeviceVendor Zscaler' END")
    if plan.fmt in ("csv", "tsv"):
        n = len(plan.keys)
        bad_terms.insert(0, f"CASE WHEN nf <> {n} THEN 'expected {n} fields, found ' || nf END")
    if plan.fmt != "json":      # the rendering changed within the file (an LSS receiver reconfigured)
        bad_terms.insert(0, f"CASE WHEN starts_with(text, '{{') AND ends_with(text, '}}') THEN 'a JSON record "
                            f"in a {plan.fmt.upper()} file (its first lines are {plan.fmt.upper()}): one rendering "
                            "per file expected; not read as one' END")
    ctes, key_exprs = _source_ctes(plan, layout)
    used = _used(plan)
    ks = ", ".join(f"{key_exprs[i]} AS k{i}" for i in used) or "NULL AS k_none"
    hand_to = "NULL::VARCHAR"
    if plan.markers:
        # markers as written: JSON and CSV values before placeholders are nulled; an empty CSV / TSV
        # field is a key the record has not (a header naming several LSS types' columns)
        raw_value = ("vraw[{}]" if plan.fmt == "json" else "nullif(vraw[{}], '')") if _nulled_per_line(plan) else None
        ks += "".join(f", {raw_value.format(i + 1) if raw_value else key_exprs[i]} AS m{i}" for i in plan.markers)
        check = _lss_type_check(plan, lambda i: f"m{i}")
        if check:
            raw_exprs.append(f"{check} AS r__lss")
            reason, hand_to = _lss_verdicts(plan, hand_on)
            bad_terms.insert(0, reason)
    typed_exprs.append(f"{hand_to} AS hand_to")
    bad = "concat_ws('; ', " + ", ".join(bad_terms) + ")" if bad_terms else "''"
    late = "late" if keeps_late_keys(plan) else "NULL"
    if late != "NULL":
        # a line with keys the first lines did not have: its `extra` holds them too
        known = ("list_transform(list_filter(list_zip($extra_keys, ev), lambda e: e[2] IS NOT NULL), "
                 "lambda e: {'k': e[1], 'v': e[2]})") if plan.extra else "[]"
        extra = (f"CASE WHEN late IS NULL OR len(late) = 0 THEN {extra} "
                 f"ELSE to_json(map_from_entries(list_concat({known}, late))) END")
    if generic and nulled and few_lines:
        # one placeholder lambda over a list of the values the columns read, not a test per column
        slot = {i: n for n, i in enumerate(dict.fromkeys(i for i, _ in nulled), 1)}
        listed = ", ".join(f"k{i}" for i in slot)
        ns = ", ".join(f"{_nullify_inline(f'nl[{slot[i]}]', kind, False)} AS {name}"
                       for (i, kind), name in nulled.items())
        source = (f"(SELECT *, list_transform([{listed}], lambda x: CASE WHEN {_generic_placeholder('x')} "
                  "THEN NULL ELSE x END) AS nl FROM k)")
    else:
        ns = ", ".join(f"{_nullify_inline(f'k{i}', kind, generic)} AS {name}" for (i, kind), name in nulled.items())
        source = "k"
    sql = f"""
WITH {ctes},
k AS (
    SELECT line, text, drift, nf, {late} AS late, {ks} FROM s
), n AS (
    SELECT *{', ' + ns if ns else ''} FROM {source}
), r AS (
    SELECT line, text, drift, nf, late, {', '.join(raw_exprs)}, {ev} AS ev FROM n
), t AS (
    SELECT *, {', '.join(typed_exprs)}, {extra} AS extra FROM r
), u AS (
    SELECT *, nullif({bad}, '') AS bad FROM t
)
SELECT line, CASE WHEN bad IS NULL AND hand_to IS NULL AND NOT drift AND coalesce(nf, 0) >= 0 THEN NULL ELSE text END
       AS text, drift, nf AS nfields, {', '.join(list(cols) + derived)}, extra, bad, hand_to FROM u
"""
    if plan.fmt in ("kv", "cef", "leef"):
        if layout is not None:
            params["sig"] = layout["sig"]
    params["naive"] = NAIVE_TIME_FORMATS
    params["zoned"] = ZONED_TIME_FORMATS
    if first_time is not None:
        params["first_time"] = first_time
    return sql, params

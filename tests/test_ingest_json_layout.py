"""A JSON feed's template lines read with one parse (zscaler_json_layout): the same staged rows as
the two-parse path for every line, template or not, and no late key lost."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from zsaudit.ingest import zscaler_json_layout, zscaler_sql
from zsaudit.ingest.zscaler_batch import BatchStatement, clean
from zsaudit.ingest.zscaler_sniff import sniff

QUOTED = ('{"time":"Tue Nov 24 10:00:%02d 2026","login":"svc@corp.example","eurl":"api.example.com/a%%20b",'
          '"ehost":"api.example.com","action":"Allowed","respcode":"200","ua":"curl/8","cip":"10.0.0.1"}')
BARE = ('{"time": "Tue Nov 24 10:00:%02d 2026", "login": "svc@corp.example", "eurl": "api.example.com/x", '
        '"action": "Allowed", "respcode": 200, "reqsize": -12, "ssldecrypted": true, "cip": "10.0.0.1"}')
# values that stay template text (a float, a null, a list): the line must have them as written
KEPT = ('{"time":"Tue Nov 24 10:00:%02d 2026","login":"svc@corp.example","eurl":"api.example.com/x","ratio":1.50,'
        '"action":"Allowed","note":null,"tags":[1,"a"],"respcode":200,"cip":"10.0.0.1"}')

# keys with '_' (the DNS / firewall feeds' style): the pattern escapes it, '_' being LIKE's any character
UNDER = QUOTED.replace('"cip"', '"clt_sip":"10.0.0.2","srv_dport":"53","cip"')


def _envelope(rec: str) -> str:
    return '{ "sourcetype" : "zscalernss-web", "event" :' + rec + '}'


def _variants(line: str) -> list[str]:
    """Lines near the template: keys added, dropped, renamed, reordered, values of another kind,
    escapes, whitespace; each must read as the two-parse path reads it."""
    rec = line[line.index('"time"') - 1:]
    rec = rec[:rec.rindex("}") + 1] if line.count("{") == 1 else rec[:rec.index("}") + 1]
    head, tail = line.split(rec)
    d = json.loads(rec)
    out = []

    def put(text):
        out.append(head + text + tail)

    put(rec[:-1] + ',"latekey":"v"}')                                   # a late key, last
    put(rec.replace('"login"', '"late":"x","login"', 1))                # ... in the middle
    put('{"first":"x",' + rec[1:])                                     # ... first
    put(rec.replace('"login"', '"logix"', 1))                           # a key renamed, same length
    put(rec.replace('"login"', '"Login"', 1))
    put(rec[:-1] + ',"latekey":null}')                                  # a late key with no value
    put(rec[:-1] + ',"latekey":{"a":[1,"b"]}}')
    put(rec[:-1] + ',"login":"again"}')                                 # a repeated key
    put(json.dumps({k: d[k] for k in reversed(list(d))}, separators=(",", ":")))     # reordered
    put(json.dumps({k: v for k, v in d.items() if k != "action"}, separators=(",", ":")))  # a key dropped
    put(json.dumps({**d, "action": None}, separators=(",", ":")))
    put(json.dumps({**d, "action": 7}, separators=(",", ":")))
    put(json.dumps({**d, "action": {"login": "x", "late": "y"}}, separators=(",", ":")))
    put(json.dumps({**d, "action": ["a", {"b": "c"}]}, separators=(",", ":")))
    put(json.dumps({**d, "ua": 'say "hi"'}, separators=(",", ":")))    # escapes
    put(json.dumps({**d, "ua": 'a","late":"b'}, separators=(",", ":")))
    put(json.dumps({**d, "ua": "caf\u00e9 \\ ok"}, separators=(",", ":"), ensure_ascii=True))
    put(json.dumps({**d, "ua": ""}, separators=(",", ":")))
    put(rec.replace('"curl/8"', '"cu\trl"'))                            # a control character: invalid JSON
    put(rec.replace(":", " : "))                                        # whitespace
    put(rec[:-1] + ",}")                                                # a trailing comma (DuckDB reads it)
    put(rec + " ")
    if '"respcode":"200"' in rec:
        put(rec.replace('"respcode":"200"', '"respcode":200'))
    else:
        put(rec.replace('"respcode": 200', '"respcode": "200"'))
        put(rec.replace('"respcode": 200', '"respcode": 2.0e2'))
        put(rec.replace('"respcode": 200', '"respcode": 00200'))
        put(rec.replace('"reqsize": -12', '"reqsize": 99999999999999999999999'))
        put(rec.replace('"ssldecrypted": true', '"ssldecrypted": false'))
        put(rec.replace('"ssldecrypted": true', '"ssldecrypted": "true"'))
    out.append("<134>Nov 24 10:00:00 nss: " + line)                    # a syslog prefix before the record
    out.append(line.replace('"zscalernss-web"', '"zscalernss-other"'))
    out.append(line.replace(' "sourcetype"', ' "host":"h", "sourcetype"') if tail else line)
    return out


@pytest.mark.parametrize("template, envelope", [(QUOTED, True), (QUOTED, False), (BARE, False), (BARE, True),
                                                (UNDER, True), (KEPT, False), (KEPT, True)])
def test_template_lines_read_once_read_as_the_two_parse_path_reads_them(template, envelope, monkeypatch):
    lines = [template % i for i in range(40)]
    if envelope:
        lines = [_envelope(x) for x in lines]
    plan = sniff("web.json", lines)
    assert zscaler_sql.json_template(plan) is not None
    batch = lines + [v for x in lines[:2] for v in _variants(x)] + lines[:3]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    tab = clean(pa.table({"line": pa.array(range(1, len(batch) + 1), pa.int64()), "text": pa.array(batch)}))
    once = BatchStatement(con, plan).stage_isolated(tab)
    assert "$tpl" in BatchStatement(con, plan).sql
    monkeypatch.setattr(zscaler_sql, "json_template", lambda plan: None)
    twice = BatchStatement(con, plan)
    assert "$tpl" not in twice.sql
    assert once.to_pylist() == twice.stage_isolated(tab).to_pylist()
    extras = [json.loads(r["extra"]) for r in once.to_pylist() if r["extra"]]
    assert {"latekey", "late", "first", "logix", "Login"} <= {k for e in extras for k in e}


def test_a_layout_is_learned_only_from_lines_that_can_be_one():
    keys = {"a", "b"}
    assert zscaler_json_layout.layout_of('{"a":"x","b":1}', "", keys).pieces == ('{"a":"', '","b":', "}")
    assert zscaler_json_layout.layout_of('{"a":"x","b":1.5}', "", keys).pieces == ('{"a":"', '","b":1.5}')
    assert zscaler_json_layout.layout_of('{"a":"x\\"","b":1}', "", keys) is None      # a backslash
    assert zscaler_json_layout.layout_of('{"a":"x","a":1}', "", keys) is None         # a repeated key
    assert zscaler_json_layout.layout_of('{"a":"x","c":1}', "", keys) is None         # a key the plan lacks
    assert zscaler_json_layout.layout_of('{"e":{"a":"x"}}', "e", keys).slots == (1,)
    assert zscaler_json_layout.layout_of('["a"]', "", keys) is None
    assert zscaler_json_layout.layout_of('{"a":' + "[" * 5000 + "]" * 5000 + "}", "", keys) is None   # too deep
    # a feed whose lines vary gets no template (the test would be extra work on most lines)
    mixed = ['{"a":"x"}', '{"b":"y"}', '{"a":"x","b":"y"}', '{"a":"z"}']
    assert zscaler_json_layout.template(mixed, "", ["a", "b"]) is None
    assert zscaler_json_layout.template(mixed[:1] * 3 + mixed[1:2], "", ["a", "b"]).slots == (1,)


def _fools(line: str) -> list[str]:
    """Template lines' pieces in order with the template's key count, that are not template lines:
    a nested object holds two of the template's keys (its values then a quoted one's and a raw
    one's) and two keys the template lacks make the count up; each must be read as the two-parse
    path reads it (the pattern alone, with the count of values, would take them)."""
    rec = line[line.index('"time"'):]
    sep = ", " if '", "' in rec else ","
    col = ": " if '": "' in rec else ":"
    out = []
    # quoted values: `"login":"L","eurl":"E"` inside an object under a key the template lacks
    start = line.index(f'"login"{col}')
    cut = line.index(f'"eurl"{col}')
    end = line.index('"', line.index('"', cut + len('"eurl"') + len(col)) + 1) + 1    # after E's quote
    out.append(line[:start] + f'"q"{col}{{"y"{col}"1"{sep}' + line[start:end] + f'}}{sep}"r"{col}"x"' + line[end:])
    if '"reqsize"' in line:     # raw values: a value put back unquoted closes the nested object
        a = line.index(f'"respcode"{col}') + len(f'"respcode"{col}')
        b = line.index(f'{sep}"ssldecrypted"{col}') + len(f'{sep}"ssldecrypted"{col}true')
        out.append(line[:a] + f'{{"z"{col}1{sep}' + line[line.index(f'"reqsize"'):b]
                   + f'}}{sep}"r"{col}1{sep}"s"{col}2' + line[b:])
    return out


@pytest.mark.parametrize("template, envelope", [(QUOTED, True), (QUOTED, False), (BARE, False), (BARE, True),
                                                (UNDER, False)])
def test_lines_that_hold_the_pieces_but_not_as_the_template_are_read_by_the_two_parse_path(template, envelope,
                                                                                            monkeypatch):
    lines = [template % i for i in range(40)]
    if envelope:
        lines = [_envelope(x) for x in lines]
    plan = sniff("web.json", lines)
    tpl = zscaler_sql.json_template(plan)
    fools = [f for x in lines[:2] for f in _fools(x)]
    assert len(fools) == (4 if template is BARE else 2)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # the pattern and the count of values alone would take each for a template line
    root = f'$."{plan.json_root}".*' if plan.json_root else "$.*"
    pattern, escaped = tpl.like_pattern()
    assert escaped == (template is UNDER)
    for f in fools:
        jt = f[f.index("{"):]
        json.loads(jt)
        assert con.execute(f"SELECT like_escape(?, ?, '\\') AND len(json_extract_string(?, '{root}')) = ?",
                           [jt, pattern, jt, len(tpl.keys)]).fetchall() == [(True,)]
    if template is UNDER:       # a key with another character where the template's has '_'
        fools.append(lines[0].replace('"clt_sip"', '"cltXsip"'))
    batch = lines[:3] + fools + lines[3:6]
    tab = clean(pa.table({"line": pa.array(range(1, len(batch) + 1), pa.int64()), "text": pa.array(batch)}))
    once = BatchStatement(con, plan).stage_isolated(tab).to_pylist()
    monkeypatch.setattr(zscaler_sql, "json_template", lambda plan: None)
    assert once == BatchStatement(con, plan).stage_isolated(tab).to_pylist()
    # the nested keys are not the record's: no user (or a response code that is an object, and no
    # request size: as a template line, the record's 6th and 7th values would have been taken for them)
    for row in once[3:3 + len(fools) - (template is UNDER)]:
        extra = json.loads(row["extra"])
        if row["login"] is None:
            assert row["bad"] is None and {"q", "r"} <= extra.keys()
        else:
            assert row["bad"].startswith("response_code: expected an integer, got \"{") and row["request_size"] is None


def test_quote_counts_count_quotes_in_every_chunk_and_slice():
    from zsaudit.ingest.zscaler_batch import quote_counts
    texts = ['{"a":"b"}', "", 'x\\"y', "caf\u00e9 \"\" \\", "none", '"' * 300]
    want = [t.count('"') for t in texts]
    for typ in (pa.string(), pa.large_string(), pa.string_view()):
        arr = pa.array(texts, typ)
        chunked = pa.chunked_array([arr.slice(0, 2), arr.slice(2, 3), arr.slice(5)])
        assert quote_counts(chunked).to_pylist() == want
        assert quote_counts(pa.chunked_array([arr.slice(3)])).to_pylist() == want[3:]
    assert quote_counts(pa.chunked_array([], pa.large_string())).to_pylist() == []

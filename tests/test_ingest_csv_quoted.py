"""A quoted CSV / TSV line is split between its outer quotes, which Arrow cuts off
(zscaler_batch.split adds zscaler_sql.INSIDE_QUOTES) where the batch SQL cut them with
`text[2:length(text) - 1]` (a character count and a copy of every line: 6 % of a CSV ingest's
instructions): the same text, character for character, and the same staged rows."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from zsaudit.ingest import zscaler_sql
from zsaudit.ingest.zscaler_batch import BatchStatement, clean
from zsaudit.ingest.zscaler_sniff import sniff

HEADER = "time,login,eurl,ehost,action,respcode,dept"
LINE = '"Tue Nov 24 10:00:%02d 2026","svc@corp.example","api.example.com/a%%20b","api.example.com","Allowed","200","%s"'
# first / last characters of one or more bytes, combining marks, short and broken lines
ODD = ['"', '""', '"é"', 'é"Tue Nov 24 10:00:09 2026","x","y","z","Allowed","200","Ops"é',
       '"e\u0301","x"', '\U0001f44d","\U0001f44d', "ab", 'x"Tue Nov 24 10:00:09 2026","None"',
       '"Tue Nov 24 10:00:09 2026","svc","u","h","Allowed","200","Ops"\u0301']


def _statement():
    lines = [HEADER] + [LINE % (i, name) for i, name in enumerate(["Ops", "N/A", " ", "Data\u00e9"])]
    plan = sniff("web.csv", lines)
    assert (plan.fmt, plan.csv_mode) == ("csv", "quoted")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return BatchStatement(con, plan), con, lines[1:]


def _batch(texts):
    return clean(pa.table({"line": pa.array(range(2, len(texts) + 2), pa.int64()),
                           "text": pa.array(texts, pa.large_string())}))


def test_inside_quotes_is_duckdbs_slice():
    st, con, _ = _statement()
    split = st.split(_batch(ODD))
    with_slice = con.sql("SELECT text[2:length(text) - 1] AS s FROM split").fetchall()
    assert split[zscaler_sql.INSIDE_QUOTES].to_pylist() == [s for (s,) in with_slice]
    assert "length(text)" not in st.sql and f"string_split({zscaler_sql.INSIDE_QUOTES}," in st.sql


def test_same_rows_as_the_slice_in_sql():
    st, con, lines = _statement()
    split = st.split(_batch(lines + ODD))
    old = st.sql.replace(f"string_split({zscaler_sql.INSIDE_QUOTES},", "string_split(text[2:length(text) - 1],")
    assert old != st.sql
    rows = st.run(split, con).to_pylist()
    con.register(zscaler_sql.BATCH_TABLE, split.drop_columns([zscaler_sql.INSIDE_QUOTES]))
    want = con.execute(old, st.params).to_arrow_table().to_pylist()
    con.unregister(zscaler_sql.BATCH_TABLE)
    assert rows == want
    assert [r["login"] for r in rows[:4]] == ["svc@corp.example"] * 4
    assert [r["department"] for r in rows[:4]] == ["Ops", None, None, "Data\u00e9"]

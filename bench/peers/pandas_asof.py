"""Peer: pandas + NumPy, as a competent team would write it by hand: `merge_asof` by worker on
window starts (the last attempt started before each request), then the few attempts started
before it that may still be running (at most the deepest overlap of one worker's attempts),
dictionary-encoded strings, narrowing by login, then logged host. See __init__.py."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from . import FAIL_ACTIONS, FAIL_MIN_CODE, IdentityMap


def run(db: str, imap: IdentityMap, since, until) -> tuple[pa.Table, pa.Table]:
    con = duckdb.connect(db, read_only=True)
    try:
        con.execute("SET enable_progress_bar = false")
        req = con.execute("""SELECT rid, event_time, login, device_hostname, host, action, response_code
                             FROM zia_web WHERE event_time >= $since AND event_time < $until""",
                          {"since": since, "until": until}).df()
        att = con.execute("""SELECT attempt_id, hostname, start_time, end_time, state, dag_id
                             FROM task_attempts WHERE start_time IS NOT NULL AND end_time IS NOT NULL""").df()
        conns = con.execute("SELECT attempt_id, conn_id FROM task_connections").df()
        hints = con.execute("SELECT DISTINCT attempt_id, lower(host) AS host FROM task_egress_hints "
                            "WHERE host <> ''").df()
    finally:
        con.close()

    workers = pd.CategoricalDtype(sorted(set(imap.workers)))
    req["worker"] = req["device_hostname"].str.lower().str.split(".", n=1).str[0].astype(workers)
    req = req[req["worker"].notna()].reset_index(drop=True)
    att["worker"] = att["hostname"].str.lower().astype(workers)
    skew = pd.Timedelta(seconds=imap.skew_s)
    att["lo"], att["hi"] = att["start_time"] - skew, att["end_time"] + skew
    att = att[att["worker"].notna()].sort_values(["worker", "lo"], kind="stable").reset_index(drop=True)
    att["pos"] = np.arange(len(att))

    # the deepest overlap: how many later-starting attempts of a worker start inside one's window
    w_codes = att["worker"].cat.codes.to_numpy().astype(np.int64)
    lo = att["lo"].astype("int64").to_numpy()
    hi = att["hi"].astype("int64").to_numpy()
    first = np.searchsorted(w_codes, w_codes, "left")
    depth = 0
    for w in np.unique(w_codes):
        s, e = np.searchsorted(w_codes, [w, w + 1])
        inside = np.searchsorted(lo[s:e], hi[s:e], "right") - np.arange(e - s) - 1
        depth = max(depth, int(inside.max(initial=0)))

    req = req.sort_values("event_time", kind="stable").reset_index(drop=True)
    m = pd.merge_asof(req[["event_time", "worker"]], att[["lo", "worker", "pos"]].sort_values("lo", kind="stable"), left_on="event_time",
                      right_on="lo", by="worker", direction="backward")
    p = m["pos"].to_numpy(dtype="float64")
    t = req["event_time"].astype("int64").to_numpy()
    rw = req["worker"].cat.codes.to_numpy().astype(np.int64)
    ri_parts, q_parts = [], []
    has = ~np.isnan(p)
    p = np.where(has, p, -1).astype(np.int64)
    for j in range(depth + 1):
        q = p - j
        ok = has & (q >= 0)
        qc = np.where(ok, q, 0)
        ok &= (w_codes[qc] == rw) & (hi[qc] >= t) & (lo[qc] <= t)
        ri_parts.append(np.nonzero(ok)[0])
        q_parts.append(qc[ok])
    ri, q = np.concatenate(ri_parts), np.concatenate(q_parts)

    # narrowing: the attempt's service-account logins, its logged hosts
    logins = pd.CategoricalDtype(sorted(set(imap.logins)))
    lcode = req["login"].str.lower().astype(logins).cat.codes.to_numpy().astype(np.int64)    # -1: none
    sa_logins = {}
    for login, sa in imap.logins.items():
        sa_logins.setdefault(sa, []).append(logins.categories.get_loc(login))
    att_l = []
    for dag, idx in att.groupby("dag_id", sort=False).groups.items():
        for sa in imap.dag_sa(dag):
            for c in sa_logins.get(sa, []):
                att_l.append(att.loc[idx, "pos"].to_numpy() * len(logins.categories) + c)
    cpos = conns.merge(att[["attempt_id", "pos"]], on="attempt_id")
    for conn, idx in cpos.groupby("conn_id", sort=False).groups.items():
        sa = imap.conns.get(conn)
        for c in sa_logins.get(sa, []):
            att_l.append(cpos.loc[idx, "pos"].to_numpy() * len(logins.categories) + c)
    att_l = np.unique(np.concatenate(att_l)) if att_l else np.array([], np.int64)
    hosts = pd.CategoricalDtype(sorted(set(hints["host"])))
    hcode = req["host"].str.lower().astype(hosts).cat.codes.to_numpy().astype(np.int64)
    hpos = hints.merge(att[["attempt_id", "pos"]], on="attempt_id")
    att_h = np.unique(hpos["pos"].to_numpy() * len(hosts.categories) + hpos["host"].astype(hosts).cat.codes.to_numpy())
    login_ok = (lcode[ri] >= 0) & np.isin(q * len(logins.categories) + lcode[ri], att_l)
    host_ok = (hcode[ri] >= 0) & np.isin(q * len(hosts.categories) + hcode[ri], att_h)

    n = len(req)
    cand = np.bincount(ri, minlength=n)
    nb = np.bincount(ri, weights=login_ok & host_ok, minlength=n)
    nl = np.bincount(ri, weights=login_ok, minlength=n)
    nh = np.bincount(ri, weights=host_ok, minlength=n)
    level = np.select([cand == 1, nb > 0, nl > 0, nh > 0], [0, 3, 2, 1], 0)
    lv = level[ri]
    picked = (lv == 0) | ((lv == 3) & login_ok & host_ok) | ((lv == 2) & login_ok) | ((lv == 1) & host_ok)
    npick = np.bincount(ri[picked], minlength=n)
    chosen = np.bincount(ri[picked], weights=q[picked], minlength=n).astype(np.int64)   # the one, when npick == 1
    status = np.select([npick == 0, npick == 1], ["unattributed", "attributed"], "ambiguous")
    attempt_ids = att["attempt_id"].to_numpy(dtype=object)
    attempt = np.where(npick == 1, attempt_ids[np.where(npick == 1, chosen, 0)], None)
    out = pd.DataFrame({"rid": req["rid"], "status": status, "attempt_id": attempt})

    failed = req["action"].isin(FAIL_ACTIONS).to_numpy() | (req["response_code"].fillna(0).to_numpy() >= FAIL_MIN_CODE)
    sel = (npick == 1) & failed
    succ = att["state"].str.lower().to_numpy() == "success"
    fpos = chosen[sel]
    fpos = fpos[succ[fpos]]
    counts = np.bincount(fpos, minlength=len(att))
    hit = np.nonzero(counts)[0]
    silent = pa.table({"attempt_id": attempt_ids[hit].astype(str).tolist(), "n": counts[hit]})
    return pa.Table.from_pandas(out, preserve_index=False), silent

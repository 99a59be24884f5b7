"""Peers for bench/analyze.py: the request-to-task-attempt correlation written by hand, the way a
team would without zsaudit (issue 17, item 0). Each reads the same store and returns the same
rows zsaudit stores: per in-period worker request (rid, status, attempt_id), and per successful
attempt the number of its attributed requests that were blocked or failed (silent failures).

They know only what bench/analyze.py's night needs: workers named by the first label of the
device hostname, service accounts from the identity map's dags / connections / logins, egress
hints as logged hosts. zsaudit does more (IP and login-only mapping, ZPA, five rules, what is not
evaluable, evidence); the comparison is of the part both do.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass
class IdentityMap:
    skew_s: float
    workers: list[str]                      # worker hostnames
    logins: dict[str, str]                  # lower(login) -> service account
    dag_patterns: list[tuple[str, str]]     # (glob, service account)
    conns: dict[str, str]                   # connection id -> service account

    def dag_sa(self, dag_id: str) -> list[str]:
        return [sa for pat, sa in self.dag_patterns if fnmatch.fnmatchcase(dag_id, pat)]


def identity(path: str | Path) -> IdentityMap:
    doc = tomllib.loads(Path(path).read_text())
    skew = doc.get("policy", {}).get("clock_skew", "5s")
    mult = {"s": 1, "m": 60, "h": 3600}[skew[-1]]
    logins, pats, conns = {}, [], {}
    for sa in doc.get("service_account", []):
        for login in sa.get("zscaler_logins", []):
            logins[login.lower()] = sa["name"]
        pats += [(p, sa["name"]) for p in sa.get("dags", [])]
        conns.update({c: sa["name"] for c in sa.get("connections", [])})
    return IdentityMap(float(skew[:-1]) * mult, [w["hostname"].lower() for w in doc.get("worker", [])],
                       logins, pats, conns)


FAIL_ACTIONS = ("Blocked",)
FAIL_MIN_CODE = 400

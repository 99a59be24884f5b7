"""The identity map: which Zscaler logins are Airflow service accounts, which DAGs and
connections may carry them, which hosts are workers, and the approved exceptions.

Loaded from TOML (docs/identity-map.md) and validated whole: every mistake is a BadInput that
names the file, the key and what was expected, so `zsaudit analyze` exits 2 before any work.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from . import tomlfile
from .analyze.rules import KINDS
from .errors import BadInput, BadUsage
from .timeutil import parse_duration

EXCEPTION_MATCH_KEYS = ("login", "dag", "task", "host", "worker", "conn_id", "finding_id")
DEFAULT_IGNORE_HOSTS = ("localhost", "127.0.0.1", "::1", "*.localhost", "127.*")

_TOP = {"policy", "service_account", "worker", "exception"}
_POLICY = {"token_lifetime", "clock_skew", "ignore_hosts"}
_SA = {"name", "zscaler_logins", "dags", "connections", "allowed_hosts"}
_WORKER = {"hostname", "ips", "device_hostnames"}
_EXC = {"kind", "match", "approver", "reason", "ticket", "expires"}


@dataclass(frozen=True)
class Policy:
    token_lifetime: timedelta = timedelta(minutes=15)
    clock_skew: timedelta = timedelta(seconds=5)
    ignore_hosts: tuple[str, ...] = DEFAULT_IGNORE_HOSTS


@dataclass(frozen=True)
class ServiceAccount:
    name: str
    zscaler_logins: tuple[str, ...]
    dags: tuple[str, ...] = ()
    connections: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Worker:
    hostname: str
    ips: tuple[str, ...] = ()
    device_hostnames: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExceptionRule:
    index: int                      # 1-based position in the file, for messages
    kind: str
    match: dict
    approver: str
    reason: str
    ticket: str
    expires: date


@dataclass(frozen=True)
class IdentityMap:
    policy: Policy
    service_accounts: tuple[ServiceAccount, ...]
    workers: tuple[Worker, ...]
    exceptions: tuple[ExceptionRule, ...] = ()
    path: str | None = None
    sha256: str | None = None
    _login_index: dict = field(default_factory=dict, compare=False, repr=False)

    def warnings(self) -> list[str]:
        """What this map leaves unchecked (an empty list: nothing). Shown by `analyze` and in the pack."""
        where = self.path or "identity map"
        out = []
        if not self.workers:
            out.append(f"{where}: no [[worker]]: requests are tied to task attempts only through service-account "
                       "logins, and egress_bypass (CC6.6) cannot be checked for any attempt (not evaluable)")
        if not self.service_accounts:
            out.append(f"{where}: no [[service_account]]: token_gap cannot be checked, and every login a worker "
                       "uses is reported as unmapped_identity (CC6.1)")
        return out

    def account_for_login(self, login: str | None) -> ServiceAccount | None:
        if not login:
            return None
        return self._login_index.get(login.lower())


class _Where:
    """Builds 'FILE: [[service_account]] #2 (svc-x): key ...' prefixes for messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> BadInput:
        return BadInput(f"{self.source}: {where}: {message}")


def _type_name(value) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _string(w: _Where, where: str, table: dict, key: str, *, required: bool = True) -> str | None:
    if key not in table:
        if required:
            raise w.fail(where, f"missing key {key!r} (expected a non-empty string)")
        return None
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise w.fail(where, f"key {key!r}: expected a non-empty string, got {_type_name(value)} {value!r}")
    return value.strip()


def _strings(w: _Where, where: str, table: dict, key: str, *, required: bool = False) -> tuple[str, ...]:
    if key not in table:
        if required:
            raise w.fail(where, f"missing key {key!r} (expected a list of strings)")
        return ()
    value = table[key]
    if isinstance(value, str):
        raise w.fail(where, f"key {key!r}: expected a list of strings such as [{value!r}], got a string")
    if not isinstance(value, list):
        raise w.fail(where, f"key {key!r}: expected a list of strings, got {_type_name(value)} {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise w.fail(where, f"key {key!r} item {i + 1}: expected a non-empty string, got {_type_name(item)} {item!r}")
    if required and not value:
        raise w.fail(where, f"key {key!r}: expected at least one entry")
    return tuple(v.strip() for v in value)


def _ips(w: _Where, where: str, table: dict) -> tuple[str, ...]:
    """Worker IPs: each a plain IPv4 or IPv6 address (Zscaler logs the client IP, not a network)."""
    ips = _strings(w, where, table, "ips")
    for i, ip in enumerate(ips, 1):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise w.fail(where, f"key 'ips' item {i}: {ip!r} is not an IP address "
                                "(expected an IPv4 address like '10.20.0.11' or an IPv6 address)") from None
    return ips


def _unknown(w: _Where, where: str, table: dict, allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise w.fail(where, f"unknown key {extra[0]!r} (expected one of: {', '.join(sorted(allowed))})")


def _tables(w: _Where, doc: dict, key: str) -> list[dict]:
    value = doc.get(key, [])
    if isinstance(value, dict):
        raise w.fail(f"[{key}]", f"expected an array of tables written [[{key}]], got a single [{key}] table")
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise w.fail(key, f"expected an array of tables written [[{key}]]")
    return value


def _duration(w: _Where, table: dict, key: str, default: timedelta) -> timedelta:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, str):
        raise w.fail("[policy]", f"key {key!r}: expected a duration string like '15m' or '5s', got {_type_name(value)} {value!r}")
    try:
        return parse_duration(value, what=key)
    except BadUsage as exc:
        raise w.fail("[policy]", f"key {key!r}: {exc}".replace(f"{key}: ", "", 1)) from None


def _expires(w: _Where, where: str, table: dict) -> date:
    if "expires" not in table:
        raise w.fail(where, "missing key 'expires' (expected a date such as 2027-03-31)")
    value = table["expires"]
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise w.fail(where, f"key 'expires': expected a date such as 2027-03-31, got {_type_name(value)} {value!r}")


def parse(text: str, source: str = "<identity map>") -> IdentityMap:
    """Validate TOML text and return the map; raise BadInput naming the key on any mistake."""
    w = _Where(source)
    doc = tomlfile.parse(text, source, BadInput)
    _unknown(w, "top level", doc, _TOP)

    policy_table = doc.get("policy", {})
    if not isinstance(policy_table, dict):
        raise w.fail("policy", "expected a [policy] table")
    _unknown(w, "[policy]", policy_table, _POLICY)
    skew = _duration(w, policy_table, "clock_skew", Policy.clock_skew)
    lifetime = _duration(w, policy_table, "token_lifetime", Policy.token_lifetime)
    if lifetime <= timedelta(0):
        raise w.fail("[policy]", "key 'token_lifetime': expected a positive duration")
    ignore = _strings(w, "[policy]", policy_table, "ignore_hosts") if "ignore_hosts" in policy_table \
        else DEFAULT_IGNORE_HOSTS
    policy = Policy(token_lifetime=lifetime, clock_skew=skew, ignore_hosts=tuple(h.lower() for h in ignore))

    accounts: list[ServiceAccount] = []
    login_index: dict[str, ServiceAccount] = {}
    names: set[str] = set()
    for i, table in enumerate(_tables(w, doc, "service_account"), 1):
        where = f"[[service_account]] #{i}"
        name = _string(w, where, table, "name")
        where = f"[[service_account]] #{i} ({name})"
        _unknown(w, where, table, _SA)
        if name in names:
            raise w.fail(where, f"key 'name': {name!r} is used by an earlier service account (expected unique names)")
        names.add(name)
        sa = ServiceAccount(
            name=name,
            zscaler_logins=_strings(w, where, table, "zscaler_logins", required=True),
            dags=_strings(w, where, table, "dags"),
            connections=_strings(w, where, table, "connections"),
            allowed_hosts=tuple(h.lower() for h in _strings(w, where, table, "allowed_hosts")),
        )
        for login in sa.zscaler_logins:
            other = login_index.get(login.lower())
            if other is not None:
                raise w.fail(where, f"key 'zscaler_logins': {login!r} already belongs to service account "
                                    f"{other.name!r} (expected each login in one account)")
            login_index[login.lower()] = sa
        accounts.append(sa)

    workers: list[Worker] = []
    seen_hosts: dict[str, str] = {}
    for i, table in enumerate(_tables(w, doc, "worker"), 1):
        where = f"[[worker]] #{i}"
        hostname = _string(w, where, table, "hostname")
        where = f"[[worker]] #{i} ({hostname})"
        _unknown(w, where, table, _WORKER)
        worker = Worker(hostname=hostname, ips=_ips(w, where, table),
                        device_hostnames=_strings(w, where, table, "device_hostnames"))
        for key, values in (("hostname", [hostname]), ("ips", worker.ips), ("device_hostnames", worker.device_hostnames)):
            for v in values:
                owner = seen_hosts.get(v.lower())
                if owner is not None and owner != hostname:
                    raise w.fail(where, f"key {key!r}: {v!r} already belongs to worker {owner!r} "
                                        "(expected each hostname and IP on one worker)")
                seen_hosts[v.lower()] = hostname
        workers.append(worker)

    exceptions: list[ExceptionRule] = []
    for i, table in enumerate(_tables(w, doc, "exception"), 1):
        where = f"[[exception]] #{i}"
        _unknown(w, where, table, _EXC)
        kind = _string(w, where, table, "kind")
        if kind not in KINDS:
            raise w.fail(where, f"key 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        match = table.get("match")
        if not isinstance(match, dict) or not match:
            raise w.fail(where, "key 'match': expected an inline table such as "
                                "{ login = \"svc@corp.example\", dag = \"legacy_*\" } with at least one key")
        for key, value in match.items():
            if key not in EXCEPTION_MATCH_KEYS:
                raise w.fail(where, f"key 'match.{key}': unknown (expected one of: {', '.join(EXCEPTION_MATCH_KEYS)})")
            if not isinstance(value, str) or not value.strip():
                raise w.fail(where, f"key 'match.{key}': expected a non-empty string, got {_type_name(value)} {value!r}")
        exceptions.append(ExceptionRule(
            index=i, kind=kind, match={k: v.strip() for k, v in match.items()},
            approver=_string(w, where, table, "approver"), reason=_string(w, where, table, "reason"),
            ticket=_string(w, where, table, "ticket"), expires=_expires(w, where, table),
        ))

    if not accounts and not workers:
        raise BadInput(f"{source}: no [[service_account]] and no [[worker]]: nothing could be evaluated "
                       "(expected at least one of them; docs/identity-map.md)")
    return IdentityMap(policy=policy, service_accounts=tuple(accounts), workers=tuple(workers),
                       exceptions=tuple(exceptions), path=source,
                       sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), _login_index=login_index)


def load(path: str | Path) -> IdentityMap:
    """Read and validate an identity map file."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: identity map not found (expected a TOML file, see docs/identity-map.md)")
    return parse(tomlfile.read_text(p, "identity map", BadInput), str(p))


# -- writing ----------------------------------------------------------------------------------
def dumps(*, policy: dict | None = None, service_accounts=(), workers=(), exceptions=(), header: str = "") -> str:
    """An identity map as TOML, from plain data (the one writer: zsaudit synth and the tests).
    Each table is a dict of its keys in order; values are strings, lists of strings, or (match)
    a dict of strings. `header` is comment text put first."""
    blocks = ["".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())] if header else []
    tables = ([("[policy]", policy)] if policy else []) + [("[[service_account]]", t) for t in service_accounts] \
        + [("[[worker]]", t) for t in workers] + [("[[exception]]", t) for t in exceptions]
    body = "\n".join(f"{name}\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
                     for name, table in tables)
    return "".join(blocks) + body


def _toml_value(value) -> str:
    import json

    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)   # a TOML basic string

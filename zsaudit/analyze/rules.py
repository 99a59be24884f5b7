"""The rules of the analysis, defined once: finding kinds, severities, queries/findings/rules.toml
(severity, SOC 2 controls, title, description, remediation of each kind; what counts as an
authentication or a failure) and the ZPA session status codes.

Each kind is one file, queries/findings/<kind>.sql, and one [[rule]] in rules.toml, validated on
load. SQL that orders by severity binds SEVERITY_ORDER (most severe first) rather than spelling
the order out again.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import BadInput
from ..resources import queries_dir

KINDS = ("unmapped_identity", "token_gap", "silent_failure", "egress_bypass", "unattributed_egress", "coverage_gap")
SEVERITIES = ("low", "medium", "high", "critical")          # least severe first
SEVERITY_ORDER = tuple(reversed(SEVERITIES))                 # most severe first: listings, the pack
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}     # low 0 .. critical 3
_RULE_KEYS = {"kind", "severity", "controls", "title", "description", "remediation", "subtype_severity"}


def at_or_above(threshold: str) -> tuple[str, ...]:
    """The severities at or above `threshold` (one of SEVERITIES)."""
    return SEVERITIES[SEVERITIES.index(threshold):]


@dataclass(frozen=True)
class Rule:
    kind: str
    severity: str
    controls: tuple[str, ...]
    title: str
    description: str
    remediation: str
    subtype_severity: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    rules: dict[str, Rule]
    auth_codes: tuple[int, ...]
    auth_reasons: tuple[str, ...]
    auth_prefixes: tuple[str, ...]
    failure_actions: tuple[str, ...]
    failure_min_code: int
    zpa_failure_categories: tuple[str, ...]
    airflow_token_patterns: tuple[str, ...] = ()

    @property
    def airflow_token_regex(self) -> str:
        """One case-insensitive regular expression for the log lines of an Airflow token failure."""
        return "(?i)(?:" + "|".join(self.airflow_token_patterns or (r"[^\s\S]",)) + ")"


def _rules_path() -> Path:
    return queries_dir() / "findings" / "rules.toml"


def parse_rules(text: str, source: str = "rules.toml") -> Rules:
    """Validate the rule metadata; every kind must have exactly one rule and one .sql file."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{source}: not valid TOML ({exc})") from None

    def fail(where: str, msg: str) -> BadInput:
        return BadInput(f"{source}: {where}: {msg}")

    rules: dict[str, Rule] = {}
    for i, r in enumerate(doc.get("rule", []), 1):
        where = f"[[rule]] #{i}"
        extra = set(r) - _RULE_KEYS
        if extra:
            raise fail(where, f"unknown key {sorted(extra)[0]!r} (expected one of: {', '.join(sorted(_RULE_KEYS))})")
        for key in ("kind", "severity", "title", "description", "remediation"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise fail(where, f"key {key!r}: expected a non-empty string")
        kind = r["kind"]
        if kind not in KINDS:
            raise fail(where, f"key 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
        if kind in rules:
            raise fail(where, f"key 'kind': {kind!r} has an earlier rule (expected one rule per kind)")
        sev = {None: r["severity"], **r.get("subtype_severity", {})}
        for sub, s in sev.items():
            if s not in SEVERITIES:
                raise fail(where, f"key {'severity' if sub is None else 'subtype_severity.' + sub!r}: "
                                  f"expected one of {', '.join(SEVERITIES)}, got {s!r}")
        controls = r.get("controls")
        if not isinstance(controls, list) or not controls or not all(isinstance(c, str) and c for c in controls):
            raise fail(where, "key 'controls': expected a non-empty list of SOC 2 criteria such as [\"CC6.1\"]")
        if not (queries_dir() / "findings" / f"{kind}.sql").is_file():
            raise fail(where, f"no detection query queries/findings/{kind}.sql for kind {kind!r}")
        rules[kind] = Rule(kind=kind, severity=r["severity"], controls=tuple(controls), title=r["title"].strip(),
                           description=" ".join(r["description"].split()),
                           remediation=" ".join(r["remediation"].split()),
                           subtype_severity=dict(r.get("subtype_severity", {})))
    missing = [k for k in KINDS if k not in rules]
    if missing:
        raise fail("[[rule]]", f"no rule for kind {missing[0]!r} (expected one rule per kind)")
    auth, failure = doc.get("auth", {}), doc.get("failure", {})
    try:
        return Rules(
            rules=rules,
            auth_codes=tuple(int(c) for c in auth["zia_response_codes"]),
            auth_reasons=tuple(str(s) for s in auth["zia_reasons"]),
            auth_prefixes=tuple(str(s) for s in auth["zpa_reason_prefixes"]),
            failure_actions=tuple(str(s) for s in failure["zia_actions"]),
            failure_min_code=int(failure["zia_min_response_code"]),
            zpa_failure_categories=tuple(str(s) for s in failure["zpa_categories"]),
            airflow_token_patterns=tuple(str(s) for s in doc.get("airflow_token", {}).get("log_patterns", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise fail("[auth]/[failure]", f"missing or malformed key ({exc})") from None


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    path = _rules_path()
    return parse_rules(path.read_text(encoding="utf-8"), str(path))


def zpa_codes() -> list[tuple[str, str, str]]:
    """(category, code, label) from queries/findings/zpa_session_status_codes.tsv."""
    path = queries_dir() / "findings" / "zpa_session_status_codes.tsv"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def zpa_failure_codes(rules: Rules) -> list[str]:
    """The ZPA status codes of the categories rules.toml [failure] zpa_categories names."""
    return [code for cat, code, _ in zpa_codes() if cat in rules.zpa_failure_categories]


def rule_params(rules) -> dict:
    """rules.toml [auth]/[failure] as bound parameters (lists and one anchored regex)."""
    return {
        "fail_min_code": rules.failure_min_code,
        "fail_actions": list(rules.failure_actions),
        "zpa_fail_codes": zpa_failure_codes(rules),
        "auth_codes": list(rules.auth_codes),
        "auth_reasons": list(rules.auth_reasons),
        "auth_regex": "^(?:" + "|".join(re.escape(p) for p in rules.auth_prefixes) + ")",
    }

"""The identity map: a valid map loads; every mistake names the key and what was expected."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from zsaudit import identity_map, synth
from zsaudit.cli import main
from zsaudit.errors import BadInput
from zsaudit.identity_map import DEFAULT_IGNORE_HOSTS, load, parse

# one account, one worker, one exception of the synthetic fleet; `expires` as a TOML date
GOOD = identity_map.dumps(policy=synth.POLICY, service_accounts=synth.SERVICE_ACCOUNTS[:1],
                          workers=synth.worker_tables()[:1], exceptions=synth.EXCEPTIONS[:1]
                          ).replace('expires = "2027-03-31"', "expires = 2027-03-31")


def test_architecture_example_loads():
    m = parse(GOOD, "identity.toml")
    assert m.policy.token_lifetime == timedelta(minutes=15)
    assert m.policy.clock_skew == timedelta(seconds=5)
    assert m.policy.ignore_hosts == DEFAULT_IGNORE_HOSTS
    sa = m.service_accounts[0]
    assert (sa.name, sa.zscaler_logins, sa.dags, sa.connections) == (
        "svc-billing", ("svc-billing@corp.example",), ("billing_*",), ("billing_api",))
    assert m.account_for_login("SVC-Billing@corp.example") is sa
    assert m.workers[0].ips == ("10.20.0.11",)
    e = m.exceptions[0]
    assert (e.kind, e.match, e.ticket, e.expires) == (
        "unmapped_identity", {"login": "svc-legacy@corp.example", "dag": "legacy_export"}, "SEC-1234",
        date(2027, 3, 31))
    assert len(m.sha256) == 64


def test_expires_as_string_and_defaults():
    m = parse(GOOD.replace("expires = 2027-03-31", 'expires = "2027-03-31"').replace(
        'token_lifetime = "15m"\nclock_skew = "5s"\n', ""))
    assert m.exceptions[0].expires == date(2027, 3, 31)
    assert m.policy.token_lifetime == timedelta(minutes=15) and m.policy.clock_skew == timedelta(seconds=5)


@pytest.mark.parametrize("old,new,expected", [
    ('dags = ["billing_*"]', 'dags = "billing_*"',
     "[[service_account]] #1 (svc-billing): key 'dags': expected a list of strings such as ['billing_*'], got a string"),
    ('zscaler_logins = ["svc-billing@corp.example"]', "",
     "[[service_account]] #1 (svc-billing): missing key 'zscaler_logins' (expected a list of strings)"),
    ('zscaler_logins = ["svc-billing@corp.example"]', "zscaler_logins = []",
     "key 'zscaler_logins': expected at least one entry"),
    ('clock_skew = "5s"', 'clock_skew = "5 seconds"',
     "[policy]: key 'clock_skew': expected a duration like '15m', '5s', '1h' or '250ms', got '5 seconds'"),
    ('clock_skew = "5s"', "clock_skew = 5",
     "[policy]: key 'clock_skew': expected a duration string like '15m' or '5s', got an integer 5"),
    ('token_lifetime = "15m"', 'token_lifetime = "15m"\nlifetime = "1h"',
     "[policy]: unknown key 'lifetime' (expected one of: clock_skew, ignore_hosts, token_lifetime)"),
    ('hostname = "airflow-worker-1"', 'hostname = "airflow-worker-1"\nip = "10.0.0.1"',
     "[[worker]] #1 (airflow-worker-1): unknown key 'ip' (expected one of: device_hostnames, hostname, ips)"),
    ('kind = "unmapped_identity"', 'kind = "unmapped"',
     "[[exception]] #1: key 'kind': expected one of unmapped_identity, token_gap, silent_failure, egress_bypass, "
     "unattributed_egress, coverage_gap, got 'unmapped'"),
    ('dag = "legacy_export"', 'dag_id = "legacy_export"',
     "[[exception]] #1: key 'match.dag_id': unknown (expected one of: login, dag, task, host, worker, conn_id, finding_id)"),
    ("expires = 2027-03-31", 'expires = "next year"',
     "[[exception]] #1: key 'expires': expected a date such as 2027-03-31, got a string 'next year'"),
    ('approver = "jane.doe@corp.example"', "",
     "[[exception]] #1: missing key 'approver' (expected a non-empty string)"),
    ('[[worker]]', '[worker]', "[worker]: expected an array of tables written [[worker]]"),
])
def test_mistakes_name_the_key(old, new, expected):
    assert old in GOOD
    with pytest.raises(BadInput) as err:
        parse(GOOD.replace(old, new, 1), "identity.toml")
    assert str(err.value).startswith("identity.toml: ")
    assert expected in str(err.value)


def test_login_in_two_accounts_is_refused():
    text = GOOD + '\n[[service_account]]\nname = "svc-other"\nzscaler_logins = ["SVC-BILLING@corp.example"]\n'
    with pytest.raises(BadInput, match="already belongs to service account 'svc-billing'"):
        parse(text, "m.toml")


def test_ip_on_two_workers_is_refused():
    text = GOOD + '\n[[worker]]\nhostname = "airflow-worker-2"\nips = ["10.20.0.11"]\n'
    with pytest.raises(BadInput, match="'10.20.0.11' already belongs to worker 'airflow-worker-1'"):
        parse(text, "m.toml")


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(BadInput, match="m.toml: not valid TOML"):
        parse("[[service_account]\n", "m.toml")
    with pytest.raises(BadInput, match="identity map not found"):
        load(tmp_path / "nope.toml")


def test_cli_exit_2_names_the_key(tmp_path):
    bad = tmp_path / "identity.toml"
    bad.write_text(GOOD.replace('dags = ["billing_*"]', "dags = 3"))
    result = CliRunner().invoke(main, ["analyze", "--identity-map", str(bad), "--db", str(tmp_path / "z.duckdb")])
    assert result.exit_code == 2
    assert "key 'dags': expected a list of strings, got an integer 3" in result.output

"""Every real Zscaler sample ingests with the values its source shows (times in UTC)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from zsaudit.errors import BadInput
from zsaudit.ingest import zscaler


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def ingest(store, fixtures, name, **kw):
    results = zscaler.ingest_paths(store, [fixtures / "zscaler" / name], **kw)
    assert len(results) == 1
    return results[0]


def rows(store, table, where="true"):
    cur = store.con.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY source_file, source_line")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_elastic_web_envelope(store, fixtures):
    r = ingest(store, fixtures, "zscaler_zia__web__test-web.log")
    assert (r.source_kind, r.format, r.lines_read, r.rows_loaded, r.rows_rejected) == ("zia_web", "json", 6, 6, 0)
    got = rows(store, "zia_web")
    first, second = got[0], got[1]
    assert first["event_time"] == utc(2021, 12, 31, 7, 7, 7)
    assert first["login"] == "test@example.com"
    assert first["url"] == "www.example.com"
    assert first["action"] == "Blocked"
    assert first["request_method"] == "CONNECT"
    assert first["response_code"] == 200
    assert first["client_ip"] == "81.2.69.193"
    assert first["server_ip"] == "81.2.69.145"
    assert first["location"] == "Test DB"
    assert first["department"] == "Unknown"
    assert first["device_hostname"] == "TestMachine35"
    assert first["device_owner"] == "administrator1"
    assert first["request_size"] == 600 and first["response_size"] == 65
    assert first["rule_type"] == "FwFilter" and first["rule_label"] == "Zscaler Proxy Traffic"
    assert first["threat_name"] is None and first["referer"] is None          # "None" placeholders
    assert second["url"] == "www.example.com.com/join/" and second["response_code"] == 403
    assert second["request_method"] == "POST"
    assert [g["source_line"] for g in got] == [1, 2, 3, 4, 5, 6]
    assert first["rid"] == f"{r.sha256[:16]}:1"


def test_elastic_firewall_decodes_encoded_fields(store, fixtures):
    ingest(store, fixtures, "zscaler_zia__firewall__test-firewall.log")
    (fw,) = rows(store, "zia_firewall")
    assert fw["event_time"] == utc(2021, 12, 17, 7, 27, 54)
    assert fw["login"] == "some_user@example.com"
    assert fw["location"] == "TestLoc DB"                 # %20 decoded
    assert fw["rule_label"] == "Access Blocked"
    assert fw["action"] == "Drop"
    assert fw["client_ip"] is None and fw["server_ip"] is None   # 0.0.0.0 placeholders
    assert fw["client_port"] == 55018 and fw["client_dest_port"] == 443
    assert fw["server_source_port"] is None                # ssport 0
    assert (fw["in_bytes"], fw["out_bytes"], fw["duration_ms"], fw["num_sessions"]) == (19052, 1734, 486, 1)
    assert fw["network_service"] == "HTTPS" and fw["ip_protocol"] == "TCP"
    assert fw["dest_country"] == "Ireland" and fw["tunnel_type"] == "ZscalerClientConnector"
    assert fw["device_hostname"] == "Machine9000"


def test_zpa_user_activity(store, fixtures):
    ingest(store, fixtures, "zscaler_zpa__user_activity__test-user-activity.log")
    (a,) = rows(store, "zpa_user_activity")
    assert a["event_time"] == utc(2019, 5, 31, 17, 35, 42)
    assert a["username"] == "ZPA LSS Client"
    assert a["session_id"] == "LHJdkjmNDf12nclBsvwA"
    assert a["connection_id"] == "SqyZIMkg0JTj7EABsvwA,Q+EjXGdrvbF2lPiBbedm"
    assert a["connection_status"] == "active"
    assert a["internal_reason"] is None and a["client_private_ip"] is None
    assert a["client_public_ip"] == "81.2.69.193"
    assert a["host"] == "175.16.199.1" and a["server_port"] == 10011 and a["ip_protocol"] == 6
    assert a["policy"] == "ABC Lab Apps" and a["connector"] == "ZDEMO ABC"
    assert a["connection_start"] == utc(2019, 5, 30, 8, 20, 42, 230000)
    assert a["connection_end"] is None
    assert '"ClientZEN":"broker2b.pdx"' in a["extra"]


def test_zpa_user_status_strings_and_arrays(store, fixtures):
    r = ingest(store, fixtures, "zscaler_zpa__user_status__test-user-status.log")
    assert (r.lines_read, r.rows_loaded) == (3, 3)
    got = rows(store, "zpa_user_status")
    assert [g["username"] for g in got] == ["ZPA LSS Client", "john.doe@ourcompany.cz", "ZPA IP Anchoring"]
    assert got[0]["session_status"] == "ZPN_STATUS_AUTHENTICATED"
    assert got[0]["authenticated_at"] == utc(2019, 5, 29, 21, 18, 38)
    assert got[0]["unauthenticated_at"] is None
    assert got[0]["client_public_ip"] == "81.2.69.144" and got[0]["client_private_ip"] == "81.2.69.193"
    assert got[0]["hostname"] == "DESKTOP-99HCSJ1" and got[0]["platform"] == "windows"
    assert got[2]["event_time"] == utc(2026, 9, 28, 21, 50, 59)
    assert got[2]["client_type"] == "zpn_client_type_ip_anchoring"
    assert '"PosturesHit":"sm-posture1,sm-posture2"' in got[0]["extra"]
    assert '"PosturesHit":"[\\"sm-posture1\\",\\"sm-posture2\\"]"' in got[1]["extra"]


def test_zpa_doc_samples(store, fixtures):
    ingest(store, fixtures, "zpa_lss_user_activity_doc_sample.json")
    ingest(store, fixtures, "zpa_lss_user_status_doc_sample.json")
    (a,) = rows(store, "zpa_user_activity")
    assert a["customer"] == "ANZ Team/zdemo in beta" and a["policy"] == "ANZ Lab Apps_1"
    (s,) = rows(store, "zpa_user_status")
    assert s["session_id"] == "cKgzUERSLl09Y+ytH8v5" and s["client_public_ip"] == "34.216.108.5"
    assert s["idp"] == "Example IDP Config" and s["event_time"] == utc(2019, 5, 31, 17, 34, 48)


def test_default_csv_web_headerless(store, fixtures):
    r = ingest(store, fixtures, "zia_nss_default_csv_sample__web.csv")
    assert (r.source_kind, r.format, r.rows_loaded) == ("zia_web", "csv", 1)
    (w,) = rows(store, "zia_web")
    assert w["event_time"] == utc(2022, 6, 20, 15, 29, 11)
    assert w["login"] == "new-gre" and w["location"] == "new-gre" and w["department"] == "Default Department"
    assert w["protocol"] == "HTTP" and w["url"] == "ebay.com/" and w["action"] == "Blocked"
    assert w["app_name"] == "Ebay" and w["url_category"] == "Online Shopping"
    assert w["client_ip"] == "172.17.3.49" and w["server_ip"] == "66.211.175.229"
    assert w["request_method"] == "GET" and w["response_code"] == 403 and w["user_agent"] == "curl/7.68.0"
    assert w["rule_type"] == "FwFilter" and w["rule_label"] == "Firewall_1"
    assert w["device_owner"] is None and w["device_hostname"] is None   # NA
    assert '"keyprotectiontype":"N/A"' in w["extra"]


def test_default_csv_firewall_and_dns(store, fixtures):
    ingest(store, fixtures, "zia_nss_default_csv_sample__firewall.csv")
    ingest(store, fixtures, "zia_nss_default_csv_sample__dns.csv")
    (fw,) = rows(store, "zia_firewall")
    assert fw["event_time"] == utc(2022, 6, 20, 15, 35, 48)
    assert fw["client_ip"] == "172.17.3.49" and fw["client_dest_ip"] == "216.113.179.53"
    assert fw["tunnel_ip"] == "10.66.89.115" and fw["tunnel_type"] == "GRE" and fw["action"] == "Drop"
    assert fw["network_app"] == "ebay" and fw["dest_country"] == "United States"
    assert (fw["in_bytes"], fw["out_bytes"], fw["duration_ms"]) == (14693, 548, 21)
    (d,) = rows(store, "zia_dns")
    assert d["login"] == "sales@zscaler.com" and d["location"] == "Road Warrior"
    assert d["request_type"] == "AAAA" and d["query"] == "wpad.test.com" and d["response"] == "EMPTY_RESP"
    assert d["server_port"] == 53 and d["client_ip"] == "10.66.16.9" and d["server_ip"] == "10.66.69.21"
    assert d["domain_category"] == "Corporate Marketing"
    assert d["device_owner"] == "Zscaler" and d["device_hostname"] == "DESKTOP-J1E9T1L"


def test_sentinel_cloud_nss_json(store, fixtures):
    ingest(store, fixtures, "cloud-nss-test__sample-web.log")
    (w,) = rows(store, "zia_web")
    assert w["event_time"] == utc(2024, 6, 11, 2, 52, 44)             # "2024-06-11,02:52:44"; rt="Jun" ignored
    assert w["login"] == "user@zscaler.com" and w["action"] == "Allowed"
    assert w["url"] == "test.zscaler.com/filestreamingservice/files/199"
    assert w["host"] == "this.is.a.test.zscaler.com" and w["response_code"] == 206
    assert w["department"] == "Default Department"                     # cs1 via cs1Label=dept
    assert w["url_super_category"] == "User-defined" and w["risk_score"] == 0
    assert w["record_id"] == 7379073205867184130
    assert w["client_public_ip"] == "1.1.1.1" and w["forward_method"] == "ZscalerClientConnector"
    assert w["request_size"] == 446 and w["response_size"] == 796584 and w["total_size"] == 797030


def test_sentinel_cloud_nss_fw_and_dns(store, fixtures):
    ingest(store, fixtures, "cloud-nss-test__sample-fw.log")
    r = ingest(store, fixtures, "cloud-nss-test__sample-dns.log")
    assert r.source_kind == "zia_dns"          # DeviceProduct NSSDNSlog wins over sourcetype zscaler-nss-fw
    (fw,) = rows(store, "zia_firewall")
    assert fw["event_time"] == utc(2024, 6, 12, 5, 2, 5)
    assert fw["login"] == "Home" and fw["action"] == "Drop" and fw["client_ip"] == "192.168.140.31"
    assert fw["client_port"] == 62964 and fw["client_dest_ip"] == "1.1.1.1" and fw["client_dest_port"] == 443
    assert fw["network_service"] == "QUIC" and fw["duration_ms"] == 2998 and fw["ip_category"] == "Miscellaneous or Unknown"
    (d,) = rows(store, "zia_dns")
    assert d["event_time"] == utc(2024, 6, 12, 4, 47, 37)
    assert d["query"] == "edgeservices.bing.com" and d["response"] == "www.a.test.zscaler.com"
    assert d["request_action"] == "Allow" and d["request_rule_label"] == "Default Firewall DNS Rule"
    assert d["server_port"] == 53 and d["domain_category"] == "Web Search" and d["device_hostname"] is None


def test_unsupported_zscaler_log_type_is_bad_input(store, fixtures):
    with pytest.raises(BadInput, match="cloud-nss-test__sample-audit.log: cannot tell which Zscaler log"):
        ingest(store, fixtures, "cloud-nss-test__sample-audit.log")
    assert store.con.execute("SELECT status, rows_loaded FROM ingest_ledger").fetchall() == [("refused", 0)]


@pytest.mark.parametrize("name", ["sumo_leef_web_spaces.log", "sumo_leef_web_tabs.log"])
def test_sumo_leef(store, fixtures, name):
    r = ingest(store, fixtures, name)
    assert (r.format, r.source_kind, r.rows_loaded) == ("leef", "zia_web", 1)
    (w,) = rows(store, "zia_web")
    assert w["event_time"] == utc(2017, 10, 2, 16, 21, 40)
    assert w["login"] == "tempor@demo.com" and w["action"] == "Blocked"
    assert w["reason"] == "Malicious file Blocked"
    assert w["url"] == "www.electrichumanproject.com/" and w["client_ip"] == "185.27.134.11"
    assert w["server_ip"] == "91.171.43.14" and w["record_id"] == 69790990
    assert w["request_size"] == 31386 and w["response_size"] == 596219
    assert w["app_name"] == "Yandex Search" and w["url_category"] == "Sports" and w["location"] == "EMEA"
    assert w["threat_name"] == "W32/Tool.IJQF-0856" and w["user_agent"] is None


def test_sekoia_kv(store, fixtures):
    r = ingest(store, fixtures, "sekoia_kv_web.log", tz="UTC")
    assert (r.format, r.source_kind, r.rows_loaded, r.rows_rejected) == ("kv", "zia_web", 0, 1)
    (reason,) = store.con.execute("SELECT reason FROM rejects").fetchone()
    assert reason.startswith("no event time")          # the quoted line carries no time field


def test_elastic_dns_answers_in_response_and_nothing_lost(store, fixtures):
    """ECS dns.answers ([{data, type}]): every answer's data (IP or name) is the response, as NSS
    writes dns_resp; the list stays in `extra` only when an answer holds more (its type)."""
    zscaler.ingest_paths(store, [fixtures / "golden" / "siem_export__elastic_ecs_dns_answers.ndjson"])
    got = [(r["response"], json.loads(r["extra"]).get("dns.answers")) for r in rows(store, "zia_dns")]
    assert got == [("www.example.com", '[{"data":"www.example.com","type":"IPv4"}]'),
                   ("175.16.199.1", '[{"data":"175.16.199.1","type":"IPv4"}]'),
                   ("edge.example.net, 175.16.199.2", None)]

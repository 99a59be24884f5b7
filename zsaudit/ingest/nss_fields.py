"""Zscaler field vocabulary: canonical columns, the NSS variable behind each, key aliases.

The same NSS variable reaches a SIEM under different keys (`login`, `user`, `suser`, `usrName`;
see docs/formats.md and FORMATS.md §0), so the reader maps keys to canonical columns through
an alias map instead of trusting positions. The writer (nss_writer.py) uses the same tables in
the other direction, so both sides agree by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOG_TYPES = ("zia_web", "zia_firewall", "zia_dns", "zpa_user_activity", "zpa_user_status", "zpa_browser_access",
             "zpa_connector_status")

# column -> type: ts (TIMESTAMPTZ), str, ip, int, big, port (0 means "none")
COLUMNS: dict[str, dict[str, str]] = {
    "zia_web": {
        "event_time": "ts", "login": "str", "department": "str", "location": "str",
        "client_ip": "ip", "client_public_ip": "ip", "server_ip": "ip", "device_hostname": "str",
        "device_owner": "str", "request_method": "str", "url": "str", "host": "str", "protocol": "str",
        "response_code": "int", "action": "str", "reason": "str", "url_category": "str",
        "url_super_category": "str", "url_class": "str", "app_name": "str", "app_class": "str",
        "user_agent": "str", "referer": "str", "request_size": "big", "response_size": "big",
        "total_size": "big", "risk_score": "int", "threat_name": "str", "malware_category": "str",
        "rule_type": "str", "rule_label": "str", "content_type": "str", "forward_method": "str",
        "record_id": "big",
    },
    "zia_firewall": {
        "event_time": "ts", "login": "str", "department": "str", "location": "str",
        "client_ip": "ip", "client_port": "port", "client_dest_ip": "ip", "client_dest_port": "port",
        "client_dest_fqdn": "str", "server_source_ip": "ip", "server_source_port": "port",
        "server_ip": "ip", "server_port": "port", "tunnel_ip": "ip", "tunnel_type": "str",
        "action": "str", "rule_label": "str", "network_service": "str", "network_app": "str",
        "ip_protocol": "str", "ip_category": "str", "dest_country": "str", "in_bytes": "big",
        "out_bytes": "big", "duration_ms": "big", "num_sessions": "big", "threat_category": "str",
        "threat_name": "str", "device_hostname": "str", "device_owner": "str", "record_id": "big",
    },
    "zia_dns": {
        "event_time": "ts", "login": "str", "department": "str", "location": "str",
        "request_action": "str", "response_action": "str", "request_rule_label": "str",
        "response_rule_label": "str", "request_type": "str", "query": "str", "response": "str",
        "client_ip": "ip", "server_ip": "ip", "server_port": "port", "duration_ms": "big",
        "domain_category": "str", "device_hostname": "str", "device_owner": "str", "record_id": "big",
    },
    "zpa_user_activity": {
        "event_time": "ts", "username": "str", "customer": "str", "session_id": "str",
        "connection_id": "str", "connection_status": "str", "internal_reason": "str",
        "client_public_ip": "ip", "client_private_ip": "ip", "host": "str", "application": "str",
        "app_group": "str", "policy": "str", "server_ip": "ip", "server_port": "port",
        "connector": "str", "ip_protocol": "int", "connection_start": "ts", "connection_end": "ts",
        "idp": "str", "hostname": "str",
    },
    "zpa_user_status": {
        "event_time": "ts", "username": "str", "customer": "str", "session_id": "str",
        "session_status": "str", "authenticated_at": "ts", "unauthenticated_at": "ts",
        "client_public_ip": "ip", "client_private_ip": "ip", "hostname": "str", "platform": "str",
        "client_type": "str", "version": "str", "idp": "str",
    },
    "zpa_browser_access": {
        "event_time": "ts", "username": "str", "customer": "str", "connection_id": "str",
        "connection_status": "str", "connection_reason": "str", "method": "str", "protocol": "str",
        "host": "str", "url": "str", "status_code": "int", "user_agent": "str", "xff": "str",
        "request_size": "big", "response_size": "big", "application_port": "port",
        "client_public_ip": "ip", "client_public_port": "port", "client_private_ip": "ip",
        "request_start": "ts", "response_end": "ts",
    },
    "zpa_connector_status": {
        "event_time": "ts", "customer": "str", "session_id": "str", "session_type": "str",
        "session_status": "str", "connector": "str", "connector_group": "str", "version": "str",
        "platform": "str", "zen": "str", "private_ip": "ip", "public_ip": "ip",
        "authenticated_at": "ts", "unauthenticated_at": "ts", "cpu_utilization": "int",
        "mem_utilization": "int", "total_bytes_rx": "big", "total_bytes_tx": "big",
    },
}

# Columns the ingest computes rather than reads (not in a feed template, so not in COLUMNS):
# zia_web.host_derived is true where the feed gave no host and it was taken from the URL.
DERIVED: dict[str, list[str]] = {"zia_web": ["host_derived"]}

# column -> the NSS / LSS variable the admin puts in the feed template (writer side; e* = %HH-encoded)
NSS_VARS: dict[str, dict[str, str]] = {
    "zia_web": {
        "event_time": "time", "login": "login", "department": "dept", "location": "location",
        "client_ip": "cip", "client_public_ip": "cintip", "server_ip": "sip",
        "device_hostname": "devicehostname", "device_owner": "deviceowner", "request_method": "reqmethod",
        "url": "eurl", "host": "ehost", "protocol": "proto", "response_code": "respcode", "action": "action",
        "reason": "reason", "url_category": "urlcat", "url_super_category": "urlsupercat",
        "url_class": "urlclass", "app_name": "appname", "app_class": "appclass", "user_agent": "ua",
        "referer": "ereferer", "request_size": "reqsize", "response_size": "respsize",
        "total_size": "totalsize", "risk_score": "riskscore", "threat_name": "threatname",
        "malware_category": "malwarecat", "rule_type": "ruletype", "rule_label": "rulelabel",
        "content_type": "contenttype", "forward_method": "trafficredirectmethod", "record_id": "recordid",
    },
    "zia_firewall": {
        "event_time": "time", "login": "elogin", "department": "edepartment", "location": "elocation",
        "client_ip": "csip", "client_port": "csport", "client_dest_ip": "cdip", "client_dest_port": "cdport",
        "client_dest_fqdn": "cdfqdn", "server_source_ip": "ssip", "server_source_port": "ssport",
        "server_ip": "sdip", "server_port": "sdport", "tunnel_ip": "tsip", "tunnel_type": "ttype",
        "action": "action", "rule_label": "erulelabel", "network_service": "nwsvc", "network_app": "nwapp",
        "ip_protocol": "ipproto", "ip_category": "ipcat", "dest_country": "destcountry",
        "in_bytes": "inbytes", "out_bytes": "outbytes", "duration_ms": "durationms",
        "num_sessions": "numsessions", "threat_category": "threatcat", "threat_name": "ethreatname",
        "device_hostname": "devicehostname", "device_owner": "deviceowner", "record_id": "recordid",
    },
    "zia_dns": {
        "event_time": "time", "login": "elogin", "department": "edepartment", "location": "elocation",
        "request_action": "reqaction", "response_action": "resaction", "request_rule_label": "reqrulelabel",
        "response_rule_label": "resrulelabel", "request_type": "reqtype", "query": "req", "response": "res",
        "client_ip": "cip", "server_ip": "sip", "server_port": "sport", "duration_ms": "durationms",
        "domain_category": "domcat", "device_hostname": "devicehostname", "device_owner": "deviceowner",
        "record_id": "recordid",
    },
    "zpa_user_activity": {
        "event_time": "LogTimestamp", "username": "Username", "customer": "Customer",
        "session_id": "SessionID", "connection_id": "ConnectionID", "connection_status": "ConnectionStatus",
        "internal_reason": "InternalReason", "client_public_ip": "ClientPublicIP",
        "client_private_ip": "ClientPrivateIP", "host": "Host", "application": "Application",
        "app_group": "AppGroup", "policy": "Policy", "server_ip": "ServerIP", "server_port": "ServerPort",
        "connector": "Connector", "ip_protocol": "IPProtocol", "connection_start": "TimestampConnectionStart",
        "connection_end": "TimestampConnectionEnd", "idp": "Idp", "hostname": "Hostname",
    },
    "zpa_user_status": {
        "event_time": "LogTimestamp", "username": "Username", "customer": "Customer",
        "session_id": "SessionID", "session_status": "SessionStatus",
        "authenticated_at": "TimestampAuthentication", "unauthenticated_at": "TimestampUnAuthentication",
        "client_public_ip": "PublicIP", "client_private_ip": "PrivateIP", "hostname": "Hostname",
        "platform": "Platform", "client_type": "ClientType", "version": "Version", "idp": "Idp",
    },
    # LSS Browser Access (NameID: the user's SAML NameID)
    "zpa_browser_access": {
        "event_time": "LogTimestamp", "username": "NameID", "customer": "Customer",
        "connection_id": "ConnectionID", "connection_status": "ConnectionStatus",
        "connection_reason": "ConnectionReason", "method": "Method", "protocol": "Protocol", "host": "Host",
        "url": "URL", "status_code": "StatusCode", "user_agent": "UserAgent", "xff": "XFF",
        "request_size": "RequestSize", "response_size": "ResponseSize", "application_port": "ApplicationPort",
        "client_public_ip": "ClientPublicIp", "client_public_port": "ClientPublicPort",
        "client_private_ip": "ClientPrivateIp", "request_start": "TimestampRequestReceiveStart",
        "response_end": "TimestampResponseTransmitFinish",
    },
    # LSS App Connector status
    "zpa_connector_status": {
        "event_time": "LogTimestamp", "customer": "Customer", "session_id": "SessionID",
        "session_type": "SessionType", "session_status": "SessionStatus", "connector": "Connector",
        "connector_group": "ConnectorGroup", "version": "Version", "platform": "Platform", "zen": "ZEN",
        "private_ip": "PrivateIP", "public_ip": "PublicIP", "authenticated_at": "TimestampAuthentication",
        "unauthenticated_at": "TimestampUnAuthentication", "cpu_utilization": "CPUUtilization",
        "mem_utilization": "MemUtilization", "total_bytes_rx": "TotalBytesRx", "total_bytes_tx": "TotalBytesTx",
    },
}

# Keys as other templates name them (Splunk app JSON/KV, Elastic, Sentinel CEF / Cloud NSS, LEEF).
# Matching is case-insensitive. cs*/cn*/flexString* keys resolve through their *Label first.
_EXTRA_ALIASES: dict[str, dict[str, str]] = {
    "zia_web": {
        # Splunk app / key=value
        "datetime": "event_time", "user": "login", "department": "department", "clientip": "client_ip",
        "clientpublicip": "client_public_ip", "serverip": "server_ip", "requestmethod": "request_method",
        "url": "url", "hostname": "host", "protocol": "protocol", "status": "response_code",
        "urlcategory": "url_category", "urlsupercategory": "url_super_category", "urlclass": "url_class",
        "useragent": "user_agent", "refererurl": "referer", "requestsize": "request_size",
        "responsesize": "response_size", "transactionsize": "total_size", "pagerisk": "risk_score",
        "threatcategory": "malware_category", "event_id": "record_id",
        # raw NSS variable names and their plain / b64 variants
        "host": "host", "referer": "referer", "ua": "user_agent", "eua": "user_agent", "elogin": "login",
        "elocation": "location", "edepartment": "department", "erulelabel": "rule_label",
        "b64url": "url", "b64host": "host", "b64referer": "referer", "b64ua": "user_agent",
        "b64login": "login", "b64location": "location", "b64dept": "department", "b64urlcat": "url_category",
        "b64rulelabel": "rule_label", "epochtime": "event_time", "cpubip": "client_public_ip",
        # Sentinel CEF / Cloud NSS
        "rt": "event_time", "timegenerated": "event_time", "suser": "login", "request": "url",
        "dhost": "host", "act": "action", "name": "reason", "src": "client_ip",
        "sourcetranslatedaddress": "client_public_ip", "dst": "server_ip", "outcome": "response_code",
        "requestclientapplication": "user_agent", "requestcontext": "referer", "cat": "url_category",
        "spriv": "location", "externalid": "record_id", "in": "response_size", "out": "request_size",
        "destinationservicename": "app_name", "app": "protocol",
        "zscalernssweblogurlclass": "url_class",
        # Cloud NSS web templates that rename the client keys
        "cltip": "client_ip", "cltintip": "client_public_ip",
        # Microsoft Sentinel CommonSecurityLog columns (a CSV / JSON export of the table)
        "sourceusername": "login", "requesturl": "url", "destinationhostname": "host",
        "destinationdnsdomain": "host", "destinationip": "server_ip", "sourceip": "client_ip",
        "deviceaction": "action", "activity": "reason", "receivedbytes": "response_size",
        "sentbytes": "request_size", "eventoutcome": "response_code", "devicecustomnumber1": "risk_score",
        "applicationprotocol": "protocol",
        # LEEF (Sumo Logic sample); `cat` is the action there, see LEEF_OVERRIDES
        "devtime": "event_time", "usrname": "login", "policy": "reason", "srcpostnat": "client_public_ip",
        "role": "department", "realm": "location", "srcbytes": "request_size", "dstbytes": "response_size",
        "malwaretype": "malware_category",
    },
    "zia_firewall": {
        "datetime": "event_time", "user": "login", "locationname": "location", "tunsport": None,
        "tuntype": "tunnel_type", "proto": "ip_protocol", "login": "login", "dept": "department",
        "location": "location", "rulelabel": "rule_label", "threatname": "threat_name",
        "epochtime": "event_time", "durationms": "duration_ms",
        # Sentinel CEF / Cloud NSS
        "rt": "event_time", "timegenerated": "event_time", "suser": "login", "src": "client_ip",
        "spt": "client_port", "dst": "client_dest_ip", "dpt": "client_dest_port",
        "devicetranslatedaddress": "server_source_ip", "devicetranslatedport": "server_source_port",
        "destinationtranslatedaddress": "server_ip", "destinationtranslatedport": "server_port",
        "sourcetranslatedaddress": "tunnel_ip", "tunneltype": "tunnel_type", "act": "action",
        "name": "rule_label", "spriv": "location", "in": "in_bytes", "out": "out_bytes",
        "nwservice": "network_service", "nwapp": "network_app", "ipcat": "ip_category",
        "destcountry": "dest_country", "externalid": "record_id",
        # LEEF-ish
        "devtime": "event_time", "usrname": "login",
        # the DNS feed's style of address keys, as Cloud NSS firewall JSON templates use them
        # (SEKOIA-IO intake-formats test_event_firewall_blocked), and their client/server variants
        "clt_sip": "client_ip", "clt_sport": "client_port", "clt_dip": "client_dest_ip",
        "clt_dport": "client_dest_port", "srv_sip": "server_source_ip", "srv_sport": "server_source_port",
        "srv_dip": "server_ip", "srv_dport": "server_port", "cip": "client_ip", "dip": "server_ip",
        "cltip": "client_ip", "cltsourceport": "client_port", "srcip": "client_ip", "dstip": "server_ip",
        "srcport": "client_port", "dstport": "server_port", "tunsip": "tunnel_ip", "tunnelip": "tunnel_ip",
        "rulename": "rule_label", "threatcategory": "threat_category", "ipprotocol": "ip_protocol",
        "networkservice": "network_service", "networkapp": "network_app", "ipcategory": "ip_category",
        "sessions": "num_sessions", "recordid": "record_id", "event_id": "record_id",
    },
    "zia_dns": {
        "datetime": "event_time", "user": "login", "login": "login", "dept": "department",
        "location": "location", "dns_reqtype": "request_type", "dns_req": "query", "dns_resp": "response",
        "srv_dport": "server_port", "clt_sip": "client_ip", "srv_dip": "server_ip", "category": "domain_category",
        "epochtime": "event_time",
        # Sentinel CEF / Cloud NSS (cs*/flexString* labels resolve to reqaction, dns_req, ...)
        "rt": "event_time", "timegenerated": "event_time", "suser": "login", "src": "client_ip",
        "dst": "server_ip", "dpt": "server_port", "cat": "domain_category", "spriv": "location",
        "suid": "device_owner", "dvchost": "device_hostname", "externalid": "record_id",
        "devtime": "event_time", "usrname": "login",
        # firewall-style and plain variants of the same fields
        "cip": "client_ip", "sip": "server_ip", "sport": "server_port", "srv_sport": "server_port",
        "clientip": "client_ip", "serverip": "server_ip", "cltip": "client_ip", "dip": "server_ip",
        "dstip": "server_ip", "dstport": "server_port", "srcip": "client_ip", "locationname": "location",
        "reqtype": "request_type", "req": "query", "res": "response", "dnsreqtype": "request_type",
        "dnsreq": "query", "dnsresp": "response", "domcat": "domain_category", "domaincategory": "domain_category",
        "recordid": "record_id", "event_id": "record_id", "durationms": "duration_ms",
    },
    "zpa_user_activity": {"timestamp": "event_time", "user": "username", "eventtime": "event_time"},
    "zpa_user_status": {"timestamp": "event_time", "user": "username", "publicip": "client_public_ip",
                        "privateip": "client_private_ip", "eventtime": "event_time"},
    "zpa_browser_access": {"timestamp": "event_time", "eventtime": "event_time", "user": "username"},
    "zpa_connector_status": {"timestamp": "event_time", "eventtime": "event_time"},
}

# Elastic exports of the zscaler_zia integration: ECS documents, keys as dotted paths (the
# integration's pipeline tests, packages/zscaler_zia/data_stream/*/_dev/test/pipeline/*-expected.json)
_ECS_ALIASES: dict[str, dict[str, str]] = {
    "zia_web": {
        "@timestamp": "event_time", "user.email": "login", "source.user.name": "device_owner",
        "user.name": "device_owner", "url.original": "url", "url.domain": "host", "destination.ip": "server_ip",
        "source.ip": "client_ip", "source.nat.ip": "client_ip", "http.request.method": "request_method",
        "http.response.status_code": "response_code", "http.request.bytes": "request_size",
        "http.response.bytes": "response_size", "http.request.mime_type": "content_type",
        "http.request.referrer": "referer", "event.action": "action", "network.protocol": "protocol",
        "rule.name": "rule_label", "rule.ruleset": "rule_type", "event.risk_score": "risk_score",
        "user_agent.original": "user_agent", "zscaler_zia.web.department": "department",
        "zscaler_zia.web.location": "location", "zscaler_zia.web.device.hostname": "device_hostname",
        "zscaler_zia.web.app.class": "app_class", "zscaler_zia.web.app.name": "app_name",
        "zscaler_zia.web.url.class": "url_class", "zscaler_zia.web.url.category.sub": "url_category",
        "zscaler_zia.web.url.category.super": "url_super_category",
        "zscaler_zia.web.malware.category": "malware_category", "zscaler_zia.web.threat.name": "threat_name",
    },
    "zia_firewall": {
        "@timestamp": "event_time", "user.email": "login", "user.name": "device_owner",
        "host.hostname": "device_hostname", "source.ip": "client_ip", "source.port": "client_port",
        "zscaler_zia.firewall.client.destination.ip": "client_dest_ip",
        "zscaler_zia.firewall.client.destination.port": "client_dest_port",
        "zscaler_zia.firewall.server.source.ip": "server_source_ip",
        "zscaler_zia.firewall.server.source.port": "server_source_port", "destination.ip": "server_ip",
        "destination.port": "server_port", "zscaler_zia.firewall.tunnel.ip": "tunnel_ip",
        "zscaler_zia.firewall.tunnel.type": "tunnel_type", "event.action": "action", "rule.name": "rule_label",
        "network.protocol": "network_service", "network.application": "network_app",
        "network.transport": "ip_protocol", "zscaler_zia.firewall.ip_category": "ip_category",
        "destination.geo.country_name": "dest_country", "destination.bytes": "in_bytes",
        "source.bytes": "out_bytes", "zscaler_zia.firewall.duration.milliseconds": "duration_ms",
        "event.duration": "duration_ms",
        "zscaler_zia.firewall.session.count": "num_sessions",
        "zscaler_zia.firewall.threat.category": "threat_category", "zscaler_zia.firewall.threat.name": "threat_name",
        "zscaler_zia.firewall.department": "department", "zscaler_zia.firewall.location.name": "location",
    },
    # the dns data stream (its ingest_pipeline/default.yml): `srv_dport` is copied to source.port
    # (older versions: destination.port); request / response rule labels only under
    # zscaler_zia.dns (rule.name lists both, either one missing when it was None: not mapped);
    # user.name was the device owner in older versions and is the login's local part since
    # (not mapped); dns.answers is a list of {data, type} since: the data of its answers (an IP
    # or a name, as NSS writes dns_resp) is the response (ECS_DECODE)
    "zia_dns": {
        "@timestamp": "event_time", "user.email": "login", "zscaler_zia.dns.department": "department",
        "zscaler_zia.dns.location": "location", "zscaler_zia.dns.request.action": "request_action",
        "zscaler_zia.dns.response.action": "response_action",
        "zscaler_zia.dns.request.rule.label": "request_rule_label",
        "zscaler_zia.dns.response.rule.label": "response_rule_label", "dns.question.type": "request_type",
        "zscaler_zia.dns.request.type": "request_type", "dns.question.name": "query",
        "zscaler_zia.dns.request.name": "query", "dns.answers": "response", "dns.answers.name": "response",
        "dns.resolved_ip": "response",
        "zscaler_zia.dns.response.name": "response", "zscaler_zia.dns.response.ip": "response",
        "source.ip": "client_ip", "destination.ip": "server_ip", "destination.port": "server_port",
        "source.port": "server_port", "zscaler_zia.dns.server.port": "server_port",
        "zscaler_zia.dns.duration.milliseconds": "duration_ms", "event.duration": "duration_ms",
        "zscaler_zia.dns.dom.category": "domain_category",
        "zscaler_zia.dns.hostname": "device_hostname", "zscaler_zia.dns.device.hostname": "device_hostname",
        "host.name": "device_hostname", "zscaler_zia.dns.device.owner": "device_owner",
        "event.id": "record_id", "zscaler_zia.dns.record.id": "record_id",
    },
}
# ECS keys whose value is read, not copied (zscaler_sql._decode): dns.answers is a list of
# {data, type} (the answers' data is the response; the list is also kept in `extra` when an
# answer has more than its data, such as its type); event.duration is in nanoseconds (the
# integration writes durationms * 1000000; newer versions drop zscaler_zia.*.duration.milliseconds),
# duration_ms, as every feed's durationms, in milliseconds
ECS_DECODE = {"dns.answers": "answers", "event.duration": "ns_ms"}
for _table, _keys in _ECS_ALIASES.items():
    _EXTRA_ALIASES[_table].update(_keys)

# LEEF (QRadar preset): `cat` carries the action, not the URL category.
LEEF_OVERRIDES = {"zia_web": {"cat": "action"}}

# Keys whose values are %HH-encoded by NSS (e* variables and the keys templates put them under).
ENCODED_KEYS: dict[str, set[str]] = {
    "zia_web": {"eurl", "ehost", "ereferer", "eua", "elogin", "elocation", "edepartment", "erulelabel",
                "url", "hostname", "refererurl", "request", "dhost", "requestcontext", "referer",
                # what Datadog's / Sekoia's web templates put %s{edepartment}, %s{elocation},
                # %s{eua}, %s{elogin} under (firewall and DNS decode theirs the same way)
                "department", "dept", "location", "useragent", "ua", "user"},
    "zia_firewall": {"elogin", "edepartment", "elocation", "erulelabel", "ethreatname", "user",
                     "department", "locationname", "rulelabel", "threatname"},
    "zia_dns": {"elogin", "edepartment", "elocation", "user", "department", "location"},
    "zpa_user_activity": set(),
    "zpa_user_status": set(),
    "zpa_browser_access": set(),
    "zpa_connector_status": set(),
}
B64_PREFIX = "b64"


# the timestamp a syslog collector (SC4S) writes before a key=value record's first key
PREFIX_TIME_KEY = "_prefix_time"


def _build_aliases() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table, cols in NSS_VARS.items():
        m: dict[str, str] = {c.lower(): c for c in COLUMNS[table]}
        m[PREFIX_TIME_KEY] = "event_time"
        for col, var in cols.items():
            m[var.lower()] = col
            if var.startswith("e") and var[1:].lower() not in m and table.startswith("zia"):
                m[var[1:].lower()] = col          # eurl -> url as a raw variable name
        for key, col in _EXTRA_ALIASES.get(table, {}).items():
            if col is not None:
                m[key.lower()] = col
        out[table] = m
    return out


ALIASES = _build_aliases()


def aliases_for(table: str, fmt: str) -> dict[str, str]:
    m = dict(ALIASES[table])
    if fmt == "leef":
        m.update(LEEF_OVERRIDES.get(table, {}))
    return m


# ---------------------------------------------------------------------------------------------
# Telling log types apart
SOURCETYPES = {
    "zscalernss-web": "zia_web", "zscalernss-fw": "zia_firewall", "zscaler-nss-fw": "zia_firewall",
    "zscalernss-dns": "zia_dns", "zscaler-nss-dns": "zia_dns",
}
CEF_PRODUCTS = {"nssweblog": "zia_web", "nssfwlog": "zia_firewall", "nssdnslog": "zia_dns"}


# ZPA LSS log types, each told apart by its own keys (LSS templates; the SC4S tests' samples), in
# the order they are tried: (name, table or None if zsaudit does not load the type, markers).
# Markers: a set of keys (lower case) that must all be present, or {key: prefix of its value}.
# ZPA LSS log types by the keys (or, as a dict, key and value prefix) their records carry, tried
# in order (the first that matches wins). Sources (fixtures/golden/README.md names the samples):
#   EventType: the type named by the LSS templates Datadog publishes (DataDog/integrations-core
#     zscaler_private_access/assets/logs/zscaler-private-access_tests.yaml: app-connector-status,
#     user-status, user-activity, browser-access, app-protection, audit-logs, microsegmentation)
#   App Connector status: help.zscaler.com "About App Connector Status Log Fields" (SessionType
#     ZPN_ASSISTANT_BROKER_CONTROL, Connector, ConnectorGroup; SC4S and Datadog samples)
#   Private Service Edge status: help.zscaler.com "Understanding Private Service Edge Status Log
#     Fields" (SessionType ZPN_TUNNEL_CONTROL, ServiceEdge, ServiceEdgeGroup)
#   Browser Access: help.zscaler.com "Understanding Browser Access Log Fields" (NameID: the SAML
#     NameID; Exporter: the Browser Access Service instance; elastic/integrations zscaler_zpa
#     test-browser-access.log, SC4S). App Protection records carry StatusCode, URL and the same
#     Timestamp* keys (Datadog's sample), so Browser Access without NameID is told by Exporter,
#     after App Protection's own keys (InspectionPolicy / InspectionProfile)
LSS_TYPES: list[tuple[str, str | None, set[str] | dict[str, str]]] = [
    ("ZPA App Connector status", "zpa_connector_status", {"eventtype": "app-connector-status"}),
    ("ZPA App Connector metrics", None, {"eventtype": "app-connector-metrics"}),
    ("ZPA Private Service Edge status", None, {"eventtype": "private-service-edge-status"}),
    ("ZPA Browser Access", "zpa_browser_access", {"eventtype": "browser-access"}),
    ("ZPA App Protection", None, {"eventtype": "app-protection"}),
    ("ZPA Audit", None, {"eventtype": "audit-logs"}),
    ("ZPA Microsegmentation", None, {"eventtype": "microsegmentation"}),
    ("ZPA user status", "zpa_user_status", {"eventtype": "user-status"}),
    ("ZPA user activity", "zpa_user_activity", {"eventtype": "user-activity"}),
    ("ZPA App Connector status", "zpa_connector_status", {"sessiontype": "ZPN_ASSISTANT"}),
    ("ZPA App Connector status", "zpa_connector_status", {"connector", "connectorgroup", "sessionstatus"}),
    ("ZPA App Connector metrics", None, {"connector", "cpuutilization", "appconnectionsactive"}),
    ("ZPA Private Service Edge status", None, {"sessiontype": "ZPN_TUNNEL_CONTROL"}),
    ("ZPA Private Service Edge status", None, {"serviceedge", "sessionstatus"}),
    ("ZPA Browser Access", "zpa_browser_access", {"nameid"}),
    ("ZPA App Protection", None, {"inspectioncontrol"}),
    ("ZPA App Protection", None, {"inspectionpolicy"}),
    ("ZPA App Protection", None, {"inspectionprofile"}),
    ("ZPA Browser Access", "zpa_browser_access", {"exporter", "timestamprequestreceivestart"}),
    ("ZPA Audit", None, {"auditoperationtype"}),
    ("ZPA Audit", None, {"auditoldvalue", "auditnewvalue"}),
    ("ZPA user activity", "zpa_user_activity", {"connectionid"}),
    ("ZPA user activity", "zpa_user_activity", {"connectionstatus"}),
    ("ZPA user status", "zpa_user_status", {"sessionstatus"}),
]
LSS_TABLES = {table for _, table, _ in LSS_TYPES if table}
# the LSS keys markers name, as LSS templates spell them (JSON keys are case-sensitive)
LSS_MARKER_KEYS = {"eventtype": "EventType", "sessiontype": "SessionType", "connector": "Connector",
                   "connectorgroup": "ConnectorGroup", "sessionstatus": "SessionStatus",
                   "cpuutilization": "CPUUtilization", "appconnectionsactive": "AppConnectionsActive",
                   "serviceedge": "ServiceEdge", "nameid": "NameID", "inspectioncontrol": "InspectionControl",
                   "inspectionpolicy": "InspectionPolicy", "inspectionprofile": "InspectionProfile",
                   "exporter": "Exporter", "timestamprequestreceivestart": "TimestampRequestReceiveStart",
                   "auditoperationtype": "AuditOperationType", "auditoldvalue": "AuditOldValue",
                   "auditnewvalue": "AuditNewValue", "connectionid": "ConnectionID",
                   "connectionstatus": "ConnectionStatus"}


def lss_type(record: dict) -> tuple[str, str | None] | None:
    """(name, table or None) of the ZPA LSS log type a record's keys mark it as, or None."""
    low = {str(k).lower(): v for k, v in record.items()}
    for name, table, marker in LSS_TYPES:
        if isinstance(marker, dict):
            if all(isinstance(low.get(k), str) and low[k].startswith(p) for k, p in marker.items()):
                return name, table
        elif marker <= low.keys():
            return name, table
    return None


def other_lss_type(record: dict) -> str | None:
    """The name of a ZPA LSS log type zsaudit does not load, if the record is one."""
    found = lss_type(record)
    return found[0] if found and found[1] is None else None


def table_name(table: str) -> str:
    """How a message names a table's log type."""
    return next((name for name, t, _ in LSS_TYPES if t == table), table)


def guess_log_type(keys: set[str], *, sourcetype: str | None = None, product: str | None = None) -> str | None:
    """Which table a record belongs to, from its sourcetype / CEF product / keys."""
    if product and product.lower() in CEF_PRODUCTS:
        return CEF_PRODUCTS[product.lower()]
    low = {k.lower() for k in keys}
    found = lss_type(dict.fromkeys(low, ""))          # by keys only (values: see lss_type)
    if found is not None and found[1] is not None:
        return found[1]
    if sourcetype and sourcetype.lower() in SOURCETYPES:
        return SOURCETYPES[sourcetype.lower()]
    for table, ecs in (("zia_web", "zscaler_zia.web."), ("zia_firewall", "zscaler_zia.firewall."),
                       ("zia_dns", "zscaler_zia.dns.")):
        if any(k.startswith(ecs) for k in low):          # an Elastic export (ECS)
            return table
    dns = {"reqaction", "resaction", "dns_req", "req", "dns_reqtype", "reqtype", "domcat"}
    fw = {"csip", "cdip", "cdport", "csport", "sdip", "nwsvc", "nwapp", "tuntype", "ipcat", "numsessions",
          "spt", "dpt", "devicetranslatedaddress", "tunneltype", "clt_sport", "clt_dip", "srv_sip"}
    web = {"eurl", "url", "request", "respcode", "status", "reqmethod", "requestmethod", "urlcat",
           "urlcategory", "ua", "useragent", "requestclientapplication", "outcome"}
    scores = {"zia_dns": len(low & dns), "zia_firewall": len(low & fw), "zia_web": len(low & web)}
    # CEF-labelled DNS (cs2Label=reqaction) shows itself by its label values, handled by callers
    best = max(scores, key=scores.get)
    return best if scores[best] >= 2 else None


# ---------------------------------------------------------------------------------------------
# NSS feed output format strings: '"%s{time}","%s{login}",...' -> tokens
_TOKEN = re.compile(r"%(?P<flags>[-0-9]*)(?P<conv>l?[sdxfuJjo]|lu|ld)\{(?P<name>[A-Za-z0-9_:]+)\}")


@dataclass(frozen=True)
class Var:
    name: str      # e.g. "eurl"
    conv: str      # s, d, ld, lu, x, ...
    flags: str     # "02" for %02d


def parse_format(fmt: str) -> list[str | Var]:
    """Split an NSS feed output format string into literal text and variables.

    Honours the documented escapes: \\{ \\} %% and \\t \\n \\r.
    """
    text = fmt.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")
    parts: list[str | Var] = []
    pos = 0
    buf = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m:
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Var(m.group("name"), m.group("conv"), m.group("flags")))
            pos = m.end()
            continue
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in "{}\\":
            buf.append(text[pos + 1])
            pos += 2
            continue
        if ch == "%" and pos + 1 < len(text) and text[pos + 1] == "%":
            buf.append("%")
            pos += 2
            continue
        buf.append(ch)
        pos += 1
    if buf:
        parts.append("".join(buf))
    return parts


def format_variables(fmt: str) -> list[str]:
    return [p.name for p in parse_format(fmt) if isinstance(p, Var)]


def delimited_layout(fmt: str) -> tuple[str, bool, list[str]]:
    """(delimiter, quoted, variable names) of a CSV/TSV-style feed format string.

    Raises ValueError when the string is not a flat delimited list of variables.
    """
    parts = [p for p in parse_format(fmt.strip().rstrip("\n"))]
    names = [p.name for p in parts if isinstance(p, Var)]
    if not names:
        raise ValueError("no %s{...} / %d{...} variables in the format string")
    seps = {p for p in parts[1:-1] if isinstance(p, str)}
    quoted = isinstance(parts[0], str) and parts[0] == '"'
    if quoted:
        seps = {s for s in seps}
        allowed = {'","', '"\t"', '", "'}
        if not seps <= allowed:
            raise ValueError(f"expected variables separated by \",\" or a tab, found {sorted(seps)!r}")
        delim = "\t" if seps == {'"\t"'} else ","
    else:
        if seps == {"\t"}:
            delim = "\t"
        elif seps == {","}:
            delim = ","
        else:
            raise ValueError(f"expected variables separated by commas or tabs, found {sorted(seps)!r}")
    return delim, quoted, names


# Default NSS VM CSV layouts (help.zscaler.com samples; web order inferred, see FORMATS.md §2a)
DEFAULT_FIELDS = {
    "zia_web": ",".join(f'"%s{{{v}}}"' for v in (
        "time login proto eurl action appname appclass reqsize respsize stime ctime urlclass urlsupercat "
        "urlcat malwarecat threatname riskscore dlpeng dlpdict location dept cip sip reqmethod respcode ua "
        "ereferer ruletype rulelabel contenttype unscannabletype deviceowner devicehostname keyprotectiontype"
    ).split()),
    "zia_firewall": ",".join(f'"%s{{{v}}}"' for v in (
        "time login dept location cdport csport sdport ssport csip cdip ssip sdip tsip tsport ttype action "
        "dnat stateful aggregate nwsvc nwapp ipproto ipcat destcountry avgduration rulelabel inbytes outbytes "
        "duration durationms numsessions ipsrulelabel threatcat threatname deviceowner devicehostname"
    ).split()),
    "zia_dns": ",".join(f'"%s{{{v}}}"' for v in (
        "time login dept location reqaction resaction reqrulelabel resrulelabel reqtype req res sport "
        "durationms cip sip domcat respipcat deviceowner devicehostname"
    ).split()),
}

PLACEHOLDERS = ("", "None", "NA", "N/A", "none", "null", "NULL", "n/a")   # read as NULL (and whitespace only)

"""Render canonical records the way Zscaler feeds deliver them (synthetic data, format tests).

`write(records, log_type, fmt, out_path, fields=None)`: records are dicts keyed by the table's
column names (nss_fields.COLUMNS), `event_time` an aware datetime. Output mirrors real feeds:

- ZIA json: the NSS "Splunk-HEC style" envelope `{ "sourcetype" : "zscalernss-web", "event" :{...}}`
  with the Elastic template keys (NSS variable names for web; datetime/user/... for fw and DNS),
  every value a quoted string as NSS templates write them.
- csv / tsv: with `fields` (an NSS feed output format string) rendered exactly, headerless; without,
  a header of NSS variable names and every column (csv fully quoted like the NSS VM default).
- kv: Splunk-app key=value pairs separated by TABs (web keys from the Zscaler Splunk app).
- cef: Zscaler's published ArcSight/Sentinel CEF template keys behind an RFC 3164-ish syslog prefix;
  like NSS, values are not CEF-escaped (URLs keep their `=` and `|`).
- leef: QRadar LEEF 1.0, TAB-delimited attributes, keys as in the Sumo Logic sample.
- ZPA user activity / status: LSS JSON lines (default template; numbers bare, missing = "").

e-prefixed variables (eurl, ehost, ereferer, elogin, ...) are %HH-encoded with the feed escape
characters `%",\\` plus control, space and non-ASCII bytes, as NSS does.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from ..timeutil import iso_z
from .nss_fields import ALIASES, COLUMNS, DEFAULT_FIELDS, NSS_VARS, Var, parse_format

FORMATS = ("json", "csv", "tsv", "kv", "cef", "leef")
SOURCETYPE = {"zia_web": "zscalernss-web", "zia_firewall": "zscalernss-fw", "zia_dns": "zscalernss-dns"}
_ESCAPE = set('%",\\')

# (key, variable) pairs per log type and format. A variable starting with "=" is literal text.
# Time variables: time (ctime), datetime (Splunk "yyyy-mm-dd hh:mm:ss"), cef_rt, leef_devtime.
_WEB_KEYS_JSON = [(v, v) for v in NSS_VARS["zia_web"].values()]
_FW_KEYS_JSON = [
    ("datetime", "time"), ("user", "elogin"), ("department", "edepartment"), ("locationname", "elocation"),
    ("cdport", "cdport"), ("csport", "csport"), ("sdport", "sdport"), ("ssport", "ssport"), ("csip", "csip"),
    ("cdip", "cdip"), ("cdfqdn", "cdfqdn"), ("ssip", "ssip"), ("sdip", "sdip"), ("tsip", "tsip"),
    ("tuntype", "ttype"), ("action", "action"), ("nwsvc", "nwsvc"), ("nwapp", "nwapp"), ("proto", "ipproto"),
    ("ipcat", "ipcat"), ("destcountry", "destcountry"), ("rulelabel", "erulelabel"), ("inbytes", "inbytes"),
    ("outbytes", "outbytes"), ("durationms", "durationms"), ("numsessions", "numsessions"),
    ("threatcat", "threatcat"), ("threatname", "ethreatname"), ("deviceowner", "deviceowner"),
    ("devicehostname", "devicehostname"), ("recordid", "recordid"),
]
_DNS_KEYS_JSON = [
    ("datetime", "time"), ("user", "elogin"), ("department", "edepartment"), ("location", "elocation"),
    ("reqaction", "reqaction"), ("resaction", "resaction"), ("reqrulelabel", "reqrulelabel"),
    ("resrulelabel", "resrulelabel"), ("dns_reqtype", "reqtype"), ("dns_req", "req"), ("dns_resp", "res"),
    ("srv_dport", "sport"), ("durationms", "durationms"), ("clt_sip", "cip"), ("srv_dip", "sip"),
    ("category", "domcat"), ("deviceowner", "deviceowner"), ("devicehostname", "devicehostname"),
    ("recordid", "recordid"),
]
_WEB_KEYS_KV = [
    ("datetime", "datetime"), ("reason", "reason"), ("event_id", "recordid"), ("protocol", "proto"),
    ("action", "action"), ("transactionsize", "totalsize"), ("responsesize", "respsize"),
    ("requestsize", "reqsize"), ("urlcategory", "urlcat"), ("serverip", "sip"), ("requestmethod", "reqmethod"),
    ("refererURL", "ereferer"), ("useragent", "ua"), ("product", "=NSS"), ("location", "location"),
    ("ClientIP", "cip"), ("status", "respcode"), ("user", "login"), ("url", "eurl"), ("vendor", "=Zscaler"),
    ("hostname", "ehost"), ("clientpublicIP", "cintip"), ("threatcategory", "malwarecat"),
    ("threatname", "threatname"), ("appname", "appname"), ("pagerisk", "riskscore"), ("department", "dept"),
    ("urlsupercategory", "urlsupercat"), ("appclass", "appclass"), ("urlclass", "urlclass"),
    ("ruletype", "ruletype"), ("rulelabel", "rulelabel"), ("contenttype", "contenttype"),
    ("trafficredirectmethod", "trafficredirectmethod"), ("devicehostname", "devicehostname"),
    ("deviceowner", "deviceowner"), ("sourcetype", "=zscalernss-web"),
]
_WEB_KEYS_CEF = [
    ("act", "action"), ("Severity", "=3"), ("name", "reason"), ("deviceEventClassId", "action"), ("app", "proto"),
    ("cat", "urlcat"), ("dhost", "ehost"), ("dst", "sip"), ("src", "cip"), ("in", "respsize"),
    ("outcome", "respcode"), ("out", "reqsize"), ("request", "eurl"), ("rt", "cef_rt"),
    ("sourceTranslatedAddress", "cintip"), ("requestClientApplication", "ua"), ("requestMethod", "reqmethod"),
    ("suser", "login"), ("spriv", "location"), ("externalId", "recordid"), ("reason", "reason"),
    ("destinationServiceName", "appname"), ("cn1", "riskscore"), ("cn1Label", "=riskscore"),
    ("cs1", "dept"), ("cs1Label", "=dept"), ("cs2", "urlsupercat"), ("cs2Label", "=urlsupercat"),
    ("cs3", "appclass"), ("cs3Label", "=appclass"), ("cs4", "malwarecat"), ("cs4Label", "=malwarecat"),
    ("cs5", "threatname"), ("cs5Label", "=threatname"), ("ZscalerNSSWeblogURLClass", "urlclass"),
    ("requestContext", "ereferer"), ("contenttype", "contenttype"), ("deviceowner", "deviceowner"),
    ("devicehostname", "devicehostname"), ("totalsize", "totalsize"), ("trafficredirectmethod", "trafficredirectmethod"),
    ("erulelabel", "erulelabel"), ("ruletype", "ruletype"),
]
_FW_KEYS_CEF = [
    ("Severity", "=3"), ("name", "rulelabel"), ("deviceEventClassId", "action"), ("act", "action"),
    ("suser", "login"), ("src", "csip"), ("spt", "csport"), ("dst", "cdip"), ("dpt", "cdport"),
    ("deviceTranslatedAddress", "ssip"), ("deviceTranslatedPort", "ssport"),
    ("destinationTranslatedAddress", "sdip"), ("destinationTranslatedPort", "sdport"),
    ("sourceTranslatedAddress", "tsip"), ("proto", "ipproto"), ("tunnelType", "ttype"), ("spriv", "location"),
    ("in", "inbytes"), ("out", "outbytes"), ("cs1", "dept"), ("cs1Label", "=dept"), ("cs2", "nwsvc"),
    ("cs2Label", "=nwService"), ("cs3", "nwapp"), ("cs3Label", "=nwApp"), ("cs5", "threatcat"),
    ("cs5Label", "=threatcat"), ("cs6", "threatname"), ("cs6label", "=threatname"), ("cn1", "durationms"),
    ("cn1Label", "=durationms"), ("cn2", "numsessions"), ("cn2Label", "=numsessions"),
    ("flexString1Label", "=ipCat"), ("flexString1", "ipcat"), ("destCountry", "destcountry"),
    ("cdfqdn", "cdfqdn"), ("externalId", "recordid"), ("deviceowner", "deviceowner"),
    ("devicehostname", "devicehostname"), ("rt", "cef_rt"),
]
_DNS_KEYS_CEF = [
    ("act", "=Req(allow),Res(allow)"), ("Severity", "=3"), ("name", "reqrulelabel"), ("suser", "login"),
    ("cs1", "dept"), ("cs1Label", "=department"), ("cs2", "reqaction"), ("cs2Label", "=reqaction"),
    ("cs3", "resaction"), ("cs3Label", "=resaction"), ("cs4", "reqtype"), ("cs4Label", "=dns_reqtype"),
    ("cs5", "req"), ("cs5Label", "=dns_req"), ("cs6", "res"), ("cs6Label", "=dns_resp"),
    ("cn1", "durationms"), ("cn1Label", "=durationms"), ("flexString1", "reqrulelabel"),
    ("flexString1Label", "=reqrulelabel"), ("flexString2", "resrulelabel"),
    ("flexString2Label", "=resrulelabel"), ("cat", "domcat"), ("src", "cip"), ("dst", "sip"),
    ("dpt", "sport"), ("spriv", "location"), ("suid", "deviceowner"), ("dvchost", "devicehostname"),
    ("externalId", "recordid"), ("rt", "cef_rt"),
]
_WEB_KEYS_LEEF = [
    ("cat", "action"), ("policy", "reason"), ("usrName", "login"), ("url", "eurl"), ("hostname", "ehost"),
    ("src", "cip"), ("srcPostNAT", "cintip"), ("dst", "sip"), ("reqmethod", "reqmethod"), ("useragent", "ua"),
    ("referer", "ereferer"), ("urlcategory", "urlcat"), ("urlsupercategory", "urlsupercat"),
    ("urlclass", "urlclass"), ("role", "dept"), ("realm", "location"), ("recordid", "recordid"),
    ("srcBytes", "reqsize"), ("dstBytes", "respsize"), ("riskscore", "riskscore"), ("appname", "appname"),
    ("appclass", "appclass"), ("threatname", "threatname"), ("malwaretype", "malwarecat"),
    ("proto", "proto"), ("respcode", "respcode"), ("totalsize", "totalsize"), ("ruletype", "ruletype"),
    ("rulelabel", "rulelabel"), ("contenttype", "contenttype"), ("deviceowner", "deviceowner"),
    ("devicehostname", "devicehostname"), ("trafficredirectmethod", "trafficredirectmethod"),
    ("devTimeFormat", "=MMM dd yyyy HH:mm:ss z"), ("devTime", "leef_devtime"),
]


def _plain_keys(log_type: str, time_key: str, time_var: str) -> list[tuple[str, str]]:
    keys = []
    for col, var in NSS_VARS[log_type].items():
        keys.append((time_key, time_var) if col == "event_time" else (var, var))
    return keys


KEYS = {
    ("zia_web", "json"): _WEB_KEYS_JSON,
    ("zia_firewall", "json"): _FW_KEYS_JSON,
    ("zia_dns", "json"): _DNS_KEYS_JSON,
    ("zia_web", "kv"): _WEB_KEYS_KV,
    ("zia_firewall", "kv"): _plain_keys("zia_firewall", "datetime", "datetime") + [("sourcetype", "=zscalernss-fw")],
    ("zia_dns", "kv"): _plain_keys("zia_dns", "datetime", "datetime") + [("sourcetype", "=zscalernss-dns")],
    ("zia_web", "cef"): _WEB_KEYS_CEF,
    ("zia_firewall", "cef"): _FW_KEYS_CEF,
    ("zia_dns", "cef"): _DNS_KEYS_CEF,
    ("zia_web", "leef"): _WEB_KEYS_LEEF,
    ("zia_firewall", "leef"): _plain_keys("zia_firewall", "devTime", "leef_devtime"),
    ("zia_dns", "leef"): _plain_keys("zia_dns", "devTime", "leef_devtime"),
}
CEF_PRODUCT = {"zia_web": "NSSWeblog", "zia_firewall": "NSSFWlog", "zia_dns": "NSSDNSlog"}

_VAR_TO_COL = {t: {v: c for c, v in m.items()} for t, m in NSS_VARS.items()}
_TIME_PARTS = {"yy", "yyyy", "mth", "dd", "hh", "mm", "ss", "mon", "day", "epochtime", "tz",
               "datetime", "cef_rt", "leef_devtime", "time"}


def nss_encode(text: str) -> str:
    """%HH-encode like NSS e* variables: control, space, non-ASCII bytes and the escape characters."""
    out = []
    for ch in text:
        if ch in _ESCAPE or ord(ch) <= 0x20 or ord(ch) >= 0x7F:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def _utc(value) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"event_time must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("event_time must be timezone-aware")
    return value.astimezone(timezone.utc)


def _time_part(var: str, t: datetime, flags: str = "") -> str:
    if var == "time":
        return t.strftime("%a %b %d %H:%M:%S %Y")
    if var == "datetime":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    if var == "cef_rt":
        return t.strftime("%b %d %Y %H:%M:%S")
    if var == "leef_devtime":
        return t.strftime("%a %b %d %H:%M:%S UTC %Y")
    if var == "epochtime":
        return str(int(t.timestamp()))
    if var == "tz":
        return "GMT"
    if var == "mon":
        return t.strftime("%b")
    if var == "day":
        return t.strftime("%a")
    num = {"yy": t.year, "yyyy": t.year, "mth": t.month, "dd": t.day, "hh": t.hour, "mm": t.minute,
           "ss": t.second}[var]
    width = int(flags.lstrip("0-") or 0) if flags else 0
    return str(num).zfill(width) if flags.startswith("0") else str(num)


def _value(record: dict, log_type: str, var: str, flags: str = "") -> str:
    if var.startswith("="):
        return var[1:]
    if var in _TIME_PARTS:
        return _time_part(var, _utc(record["event_time"]), flags)
    cols = _VAR_TO_COL[log_type]
    encoded = False
    col = cols.get(var)
    if col is not None:
        encoded = var.startswith("e") and log_type.startswith("zia")
    elif ("e" + var) in cols:                      # plain variant of an e* variable: %s{login}
        col = cols["e" + var]
    elif var.startswith("e") and var[1:] in cols:  # e* variant of a plain variable: %s{erulelabel}
        col, encoded = cols[var[1:]], True
    else:                                          # another name of the variable: %s{dept}
        col = ALIASES[log_type].get(var.lower())
    if col is None:
        return "None"
    value = record.get(col)
    kind = COLUMNS[log_type][col]
    if value is None:
        return {"ip": "0.0.0.0", "port": "0", "int": "NA", "big": "NA"}.get(kind, "None")
    text = str(value)
    return nss_encode(text) if encoded else text


def _zpa_line(record: dict, log_type: str) -> str:
    out = {}
    for col, key in NSS_VARS[log_type].items():
        value = record.get(col)
        kind = COLUMNS[log_type][col]
        if col == "event_time":
            out[key] = _utc(value).strftime("%a %b %d %H:%M:%S %Y")
        elif kind == "ts":
            out[key] = "" if value is None else iso_z(_utc(value), "milliseconds")
        elif kind in ("int", "port", "big"):
            out[key] = 0 if value is None and kind == "port" else ("" if value is None else int(value))
        else:
            out[key] = "" if value is None else str(value)
    return json.dumps(out, ensure_ascii=False)


def _render_format(record: dict, log_type: str, parts: list) -> str:
    return "".join(p if isinstance(p, str) else _value(record, log_type, p.name, p.flags) for p in parts)


def _leef_keys(keys: list[tuple[str, str]], leef_time: str | None) -> list[tuple[str, str]]:
    """LEEF keys with devTime written in the Java pattern `leef_time`, declared in devTimeFormat."""
    if not leef_time:
        return keys
    out = [(k, v) for k, v in keys if k != "devTimeFormat"]
    return out + [("devTimeFormat", "=" + leef_time)]


def _java_time(t: datetime, pattern: str) -> str:
    from .time_formats import java_format

    fmt = java_format(pattern)
    if fmt is None or "%g" in fmt or "%n" in fmt:
        raise ValueError(f"cannot write times in the pattern {pattern!r}")
    return t.strftime(fmt)


def _kv_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# firewall JSON naming its addresses and ports the DNS feed's way (SEKOIA-IO test_event_firewall_blocked)
FW_DNS_STYLE_KEYS = {"csip": "clt_sip", "csport": "clt_sport", "cdip": "clt_dip", "cdport": "clt_dport",
                     "ssip": "srv_sip", "ssport": "srv_sport", "sdip": "srv_dip", "sdport": "srv_dport"}

KV_PREFIXES = {  # what a syslog collector writes before the first key (SC4S tests)
    "sc4s": lambda t: t.strftime("%Y-%m-%d %H:%M:%S") + "\t",
    "pri": lambda t: "<134>" + t.strftime("%Y-%m-%d %H:%M:%S") + "\t",
    "bsd": lambda t: t.strftime("%b %d %H:%M:%S") + " zscaler-nss\t",
}


def render_lines(records: Iterable[dict], log_type: str, fmt: str, *, fields: str | None = None,
                 leef_time: str | None = None, kv_prefix: str | None = None,
                 kv_quote: bool = False, fw_dns_style: bool = False) -> Iterable[str]:
    """Yield the feed lines (without newline) for the records. `leef_time`: a Java
    SimpleDateFormat pattern LEEF writes devTime in and declares as devTimeFormat. kv:
    `kv_prefix` (a KV_PREFIXES name) before the first key, `kv_quote` every value in double
    quotes with \\" and \\\\ escapes, as Splunk receives them from SC4S. `fw_dns_style`: firewall
    keys renamed as FW_DNS_STYLE_KEYS."""
    if log_type not in COLUMNS:
        raise ValueError(f"unknown log type {log_type!r}; expected one of {sorted(COLUMNS)}")
    if log_type.startswith("zpa"):
        if fmt != "json":
            raise ValueError(f"ZPA LSS feeds are written as json here, not {fmt!r}")
        for r in records:
            yield _zpa_line(r, log_type)
        return
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if fmt in ("csv", "tsv"):
        if fields:
            parts = parse_format(fields.rstrip("\n"))
            for r in records:
                yield _render_format(r, log_type, parts)
            return
        delim = "," if fmt == "csv" else "\t"
        names = [("time" if c == "event_time" else v) for c, v in NSS_VARS[log_type].items()]
        yield delim.join(names)
        for r in records:
            vals = [_value(r, log_type, v) for v in names]
            yield ",".join(f'"{v}"' for v in vals) if fmt == "csv" else "\t".join(vals)
        return
    keys = KEYS[(log_type, fmt)]
    if fmt == "leef":
        keys = _leef_keys(keys, leef_time)
    if fw_dns_style and log_type == "zia_firewall":
        keys = [(FW_DNS_STYLE_KEYS.get(k, k), v) for k, v in keys]
    for r in records:
        if fmt == "json":
            event = {k: _value(r, log_type, v) for k, v in keys}
            yield ('{ "sourcetype" : "%s", "event" :%s}'
                   % (SOURCETYPE[log_type], json.dumps(event, ensure_ascii=False, separators=(",", ":"))))
        elif fmt == "kv":
            head = KV_PREFIXES[kv_prefix](_utc(r["event_time"])) if kv_prefix else ""
            quote = _kv_quote if kv_quote else str
            yield head + "\t".join(f"{k}={quote(_value(r, log_type, v))}" for k, v in keys)
        elif fmt == "cef":
            t = _utc(r["event_time"])
            action = _value(r, log_type, "action") if log_type != "zia_dns" else _value(r, log_type, "reqaction")
            name = {"zia_web": "reason", "zia_firewall": "erulelabel", "zia_dns": "reqrulelabel"}[log_type]
            ext = " ".join(f"{k}={_value(r, log_type, v)}" for k, v in keys)
            host = "zscaler-nss" if log_type == "zia_web" else "zscaler-nss-fw"
            yield (f"{t.strftime('%b %d %H:%M:%S')} {host} CEF:0|Zscaler|{CEF_PRODUCT[log_type]}|5.7|"
                   f"{action}|{_value(r, log_type, name)}|3|{ext}")
        elif fmt == "leef":
            t = _utc(r["event_time"])
            event_id = _value(r, log_type, "reason" if log_type == "zia_web" else "action"
                              if log_type == "zia_firewall" else "reqaction")
            attrs = "\t".join(f"{k}={_java_time(t, leef_time)}" if leef_time and v == "leef_devtime"
                               else f"{k}={_value(r, log_type, v)}" for k, v in keys)
            yield f"{t.strftime('%b %d %H:%M:%S')} zscaler-nss: LEEF:1.0|Zscaler|NSS|4.1|{event_id}|{attrs}"


def write(records: Iterable[dict], log_type: str, fmt: str, out_path, *, fields: str | None = None,
          **style) -> Path:
    """Write records as a feed file (gzip when out_path ends in .gz). Returns the path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out_path.suffix == ".gz" else open
    with opener(out_path, "wt", encoding="utf-8", newline="\n") as fh:
        for line in render_lines(records, log_type, fmt, fields=fields, **style):
            fh.write(line)
            fh.write("\n")
    return out_path


def default_fields(log_type: str) -> str:
    """The NSS VM default CSV format string of a ZIA log type (help.zscaler.com samples)."""
    return DEFAULT_FIELDS[log_type]

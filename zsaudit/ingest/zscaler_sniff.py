"""Tell a Zscaler file's feed format and log type apart from its first lines, and plan its parse.

The plan names, for one file, the source keys in extraction order and which canonical column
each feeds; zscaler_sql.py turns it into the batch SQL. The admin's feed template is fixed per
feed, so the first lines describe the file; lines that differ are counted as field drift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Iterator

from ..errors import BadInput
from .limits import MAX_FIELDS, MAX_PLAN_KEYS, NESTED_DEPTH
from .time_formats import declared_formats
from .nss_fields import (COLUMNS, DEFAULT_FIELDS, ECS_DECODE, ENCODED_KEYS, LSS_MARKER_KEYS, LSS_TABLES, PREFIX_TIME_KEY,
                         SOURCETYPES, aliases_for, delimited_layout, guess_log_type, lss_type)

FORMATS = ("json", "csv", "tsv", "kv", "leef", "cef")
SNIFF_LINES = 200

_CEF_HEAD = re.compile(r"CEF:\d+\|(?P<vendor>[^|]*)\|(?P<product>[^|]*)\|(?P<version>[^|]*)\|")
_LEEF_HEAD = re.compile(r"LEEF:(?P<v>[\d.]+)\|(?P<vendor>[^|]*)\|(?P<product>[^|]*)\|(?P<version>[^|]*)\|")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_SPACE_KEY = re.compile(r"(?:^| )([A-Za-z_][A-Za-z0-9_.]*)=")
_UTC_SUFFIX = re.compile(r" \[UTC\]$")
_LABELLED = re.compile(r"^(cs\d|cn\d|cfp\d|flexstring\d|flexnumber\d|devicecustom(?:string|number)\d)$", re.I)
# preference for the time column when several keys carry it (rt in Cloud NSS is only the month)
_TIME_RANK = {"epochtime": 0, "time": 1, "datetime": 1, "timegenerated": 2, "devtime": 2,
              "logtimestamp": 1, "rt": 5, PREFIX_TIME_KEY: 6}


@dataclass
class Plan:
    fmt: str                                   # json, csv, tsv, kv, leef, cef
    log_type: str                              # table name
    keys: list[str]                            # source keys, in extraction order
    columns: dict[str, list[tuple[int, str]]]  # column -> [(key index, decode)] decode: ''|url|b64
    extra: list[int]                           # key indices kept in `extra`
    json_paths: list[str] = field(default_factory=list)
    json_first: dict[int, int] = field(default_factory=dict)   # ECS: key index -> index of its [0] path
    json_root: str = ""                        # the key records sit under: event (Splunk HEC), _source (Elastic)
    nested: bool = False                       # keys are dotted paths into nested objects (Elastic ECS)
    csv_mode: str = ""                         # quoted | plain | regex (csv/tsv)
    delim: str = ","
    skip_header: bool = False
    split_regex: str = ""                      # cef / leef without tabs: known-key splitter
    declared: list[str] = field(default_factory=list)   # keys the template declares, for drift
    whole_document: bool = False               # JSON array / pretty-printed object
    note: str = ""
    sample: list[str] = field(default_factory=list)     # first lines, to learn the key layout
    time_formats: list[str] = field(default_factory=list)  # strptime formats the records declare
    # the sample is the whole file (zscaler._plan): its batch SQL reads those lines once, so no time
    # format is probed first (zscaler_time_probe), which would cost more than it saves
    whole_sample: bool = False
    kv_prefix: bool = False                    # kv: a syslog header / timestamp before the first key
    kv_quoted: bool = False                    # kv: values may be double-quoted (with \" escapes)
    markers: list[int] = field(default_factory=list)    # ZPA LSS: key indices telling each record's type
    product: str = ""                          # SIEM export: the DeviceProduct its Zscaler rows must have
    time_zone: str = ""                        # the zone the file's naive times are in, when it says (else --tz)
    unwrap: str = ""                           # Splunk export: json:<path of _raw> | csv:<_raw's field index>


def _strip_prefix_json(line: str) -> str:
    i = line.find("{")
    return line if i <= 0 else line[i:]


_JSON_PREFIX = re.compile(r'^[^{\t"=]*(?:event=)?$')


def _looks_json(line: str) -> bool:
    """A JSON object, possibly behind a syslog prefix ('Oct 16 ... zscaler-nss NSS {...}')."""
    text = line.strip()
    if text.startswith("{") or text.startswith("["):
        return True
    i = text.find("{")
    return i > 0 and text.endswith("}") and bool(_JSON_PREFIX.match(text[:i]))


def _json_record(line: str) -> tuple[dict | None, dict | None]:
    """(event, envelope) of a JSON line, unwrapping {"sourcetype":..., "event":{...}}; (None, None) if bad."""
    from .zscaler_repair import repair_json_line

    text = _strip_prefix_json(line)
    try:
        obj = json.loads(text)
    except RecursionError:                     # nested too deep: not a record (rejected when read)
        return None, None
    except ValueError:
        repaired = repair_json_line(text)
        if repaired is None:
            return None, None
        obj = json.loads(repaired)
    if not isinstance(obj, dict):
        return None, None
    if isinstance(obj.get("_source"), dict) and "_index" in obj:     # an Elasticsearch search hit
        return obj["_source"], obj
    if isinstance(obj.get("event"), dict) and not is_ecs(obj):
        return obj["event"], obj
    return obj, None


def is_ecs(record: dict) -> bool:
    """An Elastic Common Schema document (an Elastic export of the zscaler_zia integration)."""
    return "@timestamp" in record and ("ecs" in record or "zscaler_zia" in record or "data_stream" in record)


def _flatten(record: dict, prefix: tuple = ()) -> Iterator[tuple[tuple, object]]:
    """(path, value) of each leaf of a nested document; lists, empty objects and objects deeper
    than NESTED_DEPTH are leaves (as zscaler_sql._json_leaves reads them)."""
    for k, v in record.items():
        if isinstance(v, dict) and v and len(prefix) + 1 < NESTED_DEPTH:
            yield from _flatten(v, prefix + (str(k),))
        else:
            yield prefix + (str(k),), v


def _decode_kind(table: str, key: str) -> str:
    low = key.lower()
    if low in ECS_DECODE:
        return ECS_DECODE[low]
    if low.startswith("b64") and len(low) > 3:
        return "b64"
    if low in ENCODED_KEYS.get(table, set()):
        return "url"
    return ""


def build_plan(fmt: str, log_type: str, keys: list[str], *, labels: dict[str, str] | None = None,
               declared: list[str] | None = None) -> Plan:
    """Map source keys to canonical columns (aliases, CEF labels), the rest to `extra`."""
    alias = aliases_for(log_type, fmt)
    labels = {k.lower(): v for k, v in (labels or {}).items()}
    columns: dict[str, list[tuple[int, str]]] = {}
    extra: list[int] = []
    seen_keys: set[str] = set()
    for i, key in enumerate(keys):
        low = key.lower()
        if low in seen_keys:
            continue
        seen_keys.add(low)
        if labels and low.endswith("label") and low[:-5] in labels:
            continue                                      # cs1Label=dept: consumed by cs1
        name = labels.get(low, key) if labels else key
        col = alias.get(name.lower())
        if col is None and name is not key:
            col = alias.get(low)
        if col is None and low.startswith("b64"):
            col = alias.get(low[3:])
        if col is None:
            extra.append(i)
            continue
        how = _decode_kind(log_type, name if col else key)
        columns.setdefault(col, []).append((i, how))
        if how == "answers":
            extra.append(i)                               # what an answer has besides its data
    if "event_time" in columns:
        columns["event_time"].sort(key=lambda p: _TIME_RANK.get(keys[p[0]].lower(), 3))
    return Plan(fmt=fmt, log_type=log_type, keys=list(keys), columns=columns, extra=extra,
                declared=list(declared or keys))


# ---------------------------------------------------------------------------------------------
def sniff(path_label: str, lines: list[str], *, fmt: str = "auto", fields: str | None = None,
          whole_text: str | None = None) -> Plan:
    """Decide format and log type from the first non-blank lines of a file."""
    lines = [ln.rstrip("\r") for ln in lines if ln.strip()]
    if not lines:
        raise BadInput(f"{path_label}: empty file; expected Zscaler NSS/LSS log lines")
    first = lines[0].lstrip("\ufeff")
    lines[0] = first
    detected = fmt if fmt != "auto" else _detect_format(lines, fields)
    export = _splunk_export(lines, detected) if not fields else None
    if export is not None:                          # the records are the rows' _raw
        unwrap, raws = export
        if not raws:
            raise BadInput(f"{path_label}: a Splunk search export whose first rows have no _raw; expected "
                           "an export of the Zscaler events themselves (_raw), not of a table of fields")
        plan = sniff(path_label, raws, fmt=fmt if fmt in ("kv", "leef", "cef") else "auto")
        plan.unwrap, plan.skip_header = unwrap, plan.skip_header or unwrap.startswith("csv:")
        plan.note = "; ".join(filter(None, ["Splunk search export (_raw)", plan.note]))
        return plan
    plan = _plan(path_label, lines, detected, fmt, fields)
    plan.sample = lines[:SNIFF_LINES]
    plan.time_formats = declared_formats(plan.sample)
    return plan


def _splunk_export(lines: list[str], fmt: str | None) -> tuple[str, list[str]] | None:
    """(how to take each row's _raw, the sampled rows' _raw) when the file is a Splunk search
    export: JSON lines `{"preview":false,"offset":0,"result":{"_raw":...,"_time":...}}` (the
    search/jobs/export API, the UI's JSON export) or rows of `_raw` and `_time`, or a CSV export
    whose header names `_raw`."""
    if fmt == "json":
        rows = []
        for line in lines[:SNIFF_LINES]:
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):        # nested too deep: rejected when read
                continue
            if isinstance(obj, dict):
                rows.append(obj)
        if not rows:
            return None
        result = any(isinstance(r.get("result"), dict) for r in rows)
        raws = [r.get("result", {}).get("_raw") if result else r.get("_raw") for r in rows]
        if not any(isinstance(v, str) for v in raws):
            return None
        return ("json:$.result._raw" if result else "json:$._raw"), [v for v in raws if isinstance(v, str)]
    if fmt == "csv":
        head = [h.strip().strip('"') for h in _split_fields(lines[0], ",")]
        if "_raw" not in head:
            return None
        i = head.index("_raw")
        raws = [f[i] for f in (_split_fields(ln, ",") for ln in lines[1:SNIFF_LINES]) if len(f) > i]
        return f"csv:{i}", raws
    return None


def _plan(path_label: str, lines: list[str], detected: str | None, fmt: str, fields: str | None) -> Plan:
    first = lines[0]
    if detected is None:
        raise BadInput(
            f"{path_label}: line 1: cannot tell the feed format apart; expected NSS/LSS JSON, CSV/TSV "
            f"(with a header, or pass --fields), key=value, LEEF or CEF; got {first[:80]!r}")
    if detected == "json":
        return _plan_json(path_label, lines)
    if detected in ("csv", "tsv"):
        return _plan_delimited(path_label, lines, detected, fields)
    if detected == "kv":
        return _plan_kv(path_label, lines)
    if detected == "cef":
        return _plan_cef(path_label, lines)
    if detected == "leef":
        return _plan_leef(path_label, lines)
    raise BadInput(f"{path_label}: unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _detect_format(lines: list[str], fields: str | None) -> str | None:
    first = lines[0]
    if "CEF:" in first[:200] and _CEF_HEAD.search(first):
        return "cef"
    if "LEEF:" in first[:200] and _LEEF_HEAD.search(first):
        return "leef"
    if _looks_json(first):
        return "json"
    if fields:
        delim, _, _ = delimited_layout(fields)
        return "tsv" if delim == "\t" else "csv"
    if "\t" in first and _kv_parts(first.split("\t")):
        return "kv"
    if first.count("\t") >= 2:
        return "tsv"
    if first.count(",") >= 2:
        return "csv"
    parts = _SPACE_KEY.findall(first)
    if len(parts) >= 3:
        return "kv"
    return None


def _fail_type(path_label: str, what: str):
    raise BadInput(
        f"{path_label}: cannot tell which Zscaler log this is ({what}); expected ZIA web, firewall or "
        f"DNS (sourcetype zscalernss-web/-fw/-dns or their fields) or ZPA user activity, user status, "
        f"Browser Access or App Connector status")


def _plan_json(path_label: str, lines: list[str]) -> Plan:
    events, root, sourcetype = [], "", None
    for n, line in enumerate(lines[:SNIFF_LINES], 1):
        ev, env = _json_record(line)
        if ev is None or len(ev) > MAX_FIELDS:      # over the cap: rejected when read, not learned
            continue
        events.append(ev)
        if env is not None:
            root = root or ("_source" if "_source" in env else "event")
            sourcetype = sourcetype or env.get("sourcetype")
        sourcetype = sourcetype or ev.get("sourcetype")
    paths: dict[str, tuple] = {}                    # ECS: dotted key -> its path
    if events and is_ecs(events[0]):
        flat = []
        for ev in events:
            leaves = list(_flatten(ev))
            for p, v in leaves:
                paths.setdefault(".".join(p), p)
            flat.append({".".join(p): v for p, v in leaves})
        events = flat
    if not events:
        raise BadInput(f"{path_label}: line 1: not valid JSON and not repairable; expected one JSON "
                       "object per line (NSS/LSS JSON feed)")
    keys: list[str] = []
    seen = set()
    for ev in events:
        for k in ev:
            if k not in seen and len(keys) < MAX_PLAN_KEYS:
                seen.add(k)
                keys.append(k)
    lss_table = _lss_table(path_label, events)
    # a SIEM export may hold other vendors' rows: the product of the first Zscaler one
    first = next((e for e in events if str(e.get("DeviceVendor", "Zscaler")).lower() == "zscaler"), events[0])
    product = next((first[k] for k in ("product", "DeviceProduct", "deviceProduct")
                    if isinstance(first.get(k), str)), None)
    labels = _labels(events[0])
    log_type = lss_table or guess_log_type(set(keys) | {v.lower() for v in labels.values()},
                                           sourcetype=sourcetype, product=product)
    if log_type is None:
        _fail_type(path_label, f"JSON keys {keys[:8]}")
    plan = build_plan("json", log_type, keys, labels=labels, declared=list(events[0].keys()))
    _siem_export(plan, first, product)
    _add_markers(plan, every_key=True)
    plan.json_root = root
    prefix = f"$.{json.dumps(root)}." if root else "$."
    if paths:
        plan.nested, plan.note = True, "Elastic export (ECS, zscaler_zia integration)"
        plan.json_paths = [prefix + ".".join(json.dumps(p) for p in paths[k]) for k in plan.keys]
        # a list gives a column its first element (ECS rule.name: the rule and the IPS rule; newer
        # versions of the integration write IPs and ports as lists, older ones did not, and one
        # export may hold both): a mapped key's first element is read too (json_first), past
        # the keys; dns.answers is read whole (zscaler_sql._decode)
        for i in sorted({i for srcs in plan.columns.values() for i, how in srcs if how != "answers"}):
            plan.json_first[i] = len(plan.json_paths)
            plan.json_paths.append(plan.json_paths[i] + "[0]")
    else:
        plan.json_paths = [prefix + json.dumps(k) for k in plan.keys]
    return plan


def _siem_export(plan: Plan, record: dict, product: str | None) -> None:
    """A Microsoft Sentinel CommonSecurityLog export (its DeviceVendor / DeviceProduct columns):
    the note the ledger keeps, and the product every Zscaler row must have."""
    low = {str(k).lower() for k in record}
    if {"devicevendor", "deviceproduct"} <= low:
        plan.note = "Microsoft Sentinel CommonSecurityLog export"
        plan.product = product or ""


def _lss_table(path_label: str, records: list[dict]) -> str | None:
    """The table of the ZPA LSS log type most of the sampled records are (each record is checked
    again when read: see Plan.markers); refuses a file whose records are all of types zsaudit does
    not load, naming the type."""
    from collections import Counter

    found = [t for t in map(lss_type, records) if t is not None]
    loadable = Counter(table for _, table in found if table)
    if loadable:
        return loadable.most_common(1)[0][0]
    if found:
        name = Counter(name for name, _ in found).most_common(1)[0][0]
        raise BadInput(
            f"{path_label}: a {name} log (LSS): zsaudit loads ZPA user activity, user status, Browser "
            f"Access and App Connector status and ZIA web, firewall and DNS logs, not this log type; leave "
            f"the file out, or point the LSS feed that writes it at another destination")
    return None


def other_type_plan(path_label: str, plan: Plan, table: str, lines: list[str]) -> Plan:
    """The plan for the records of ZPA LSS log type `table` in a file planned as another type
    (`plan`), from the first of those records (`lines`, as the batch SQL reads them: a Splunk
    export's rows already unwrapped). JSON and kv records carry their keys: the plan learns them
    from the records, as a file of that type alone would be planned; CSV / TSV records share the
    file's header, read as that type's columns."""
    if plan.fmt in ("json", "kv"):
        try:
            other = sniff(path_label, lines, fmt=plan.fmt)
        except BadInput:
            other = None
        if other is not None and other.log_type == table:
            other.note = ""
            return other
    mapped = build_plan(plan.fmt, table, plan.keys, labels=None, declared=plan.declared)
    return replace(plan, log_type=table, columns=mapped.columns, extra=mapped.extra, unwrap="", note="",
                   skip_header=False)


def _add_markers(plan: Plan, every_key: bool = False) -> None:
    """ZPA LSS plans: the keys that tell each record's log type (see nss_fields.LSS_TYPES), so a
    record of another type is rejected by name, never filed here. `every_key`: add the marker keys
    the sampled lines lack (JSON and kv find any key on any line; CSV has its header only)."""
    if plan.log_type not in LSS_TABLES:
        return
    have = {k.lower(): i for i, k in reversed(list(enumerate(plan.keys)))}
    for low, key in LSS_MARKER_KEYS.items():
        if low not in have and every_key and len(plan.keys) < MAX_PLAN_KEYS + len(LSS_MARKER_KEYS):
            have[low] = len(plan.keys)
            plan.extra.append(len(plan.keys))         # a value it has goes to `extra`, as any key's
            plan.keys.append(key)
        if low in have:
            plan.markers.append(have[low])


def _labels(record: dict) -> dict[str, str]:
    """cs1 -> 'dept' from cs1Label=dept (CEF / Sentinel custom string labels)."""
    low = {str(k).lower(): v for k, v in record.items()}
    out = {}
    for k in record:
        if _LABELLED.match(str(k)):
            label = low.get(str(k).lower() + "label")
            if isinstance(label, str) and label:
                out[str(k)] = label
    return out


def _split_fields(line: str, delim: str) -> list[str]:
    import csv as _csv

    try:
        return next(_csv.reader([line], delimiter=delim, quotechar='"'))
    except _csv.Error:          # a bare CR, a field over the csv module's limit: split plainly
        return line.split(delim)


def _plan_delimited(path_label: str, lines: list[str], fmt: str, fields: str | None) -> Plan:
    delim = "\t" if fmt == "tsv" else ","
    first = lines[0]
    sample = lines[1:SNIFF_LINES] or lines[:1]
    skip_header = False
    utc: set[str] = set()
    if fields:
        try:
            fdelim, _, names = delimited_layout(fields)
        except ValueError as exc:
            raise BadInput(f"--fields: {exc}; expected a format string like "
                           "'\"%s{time}\",\"%s{login}\",\"%s{eurl}\"'") from None
        delim = fdelim
        sample = lines[:SNIFF_LINES]
    else:
        head = [h.strip().strip('"') for h in _split_fields(first, delim)]
        # a Sentinel / Log Analytics CSV export names its time columns `TimeGenerated [UTC]`
        utc = {h for h in head if _UTC_SUFFIX.search(h)}
        head = [_UTC_SUFFIX.sub("", h) for h in head]
        if all(_KEY.match(h) for h in head if h) and not any(_looks_like_value(h) for h in head):
            names, skip_header = head, True
        else:
            names = None
            for table, default in DEFAULT_FIELDS.items():
                _, _, dn = delimited_layout(default)
                if len(dn) == len(head):
                    names = dn
                    break
            if names is None:
                raise BadInput(
                    f"{path_label}: line 1: headerless {fmt.upper()} with {len(head)} fields matches no "
                    f"default NSS feed layout (web 34, firewall 36, DNS 19); pass the feed's format "
                    f"string with --fields '\"%s{{time}}\",\"%s{{login}}\",...'")
    rows = [dict(zip(names, _split_fields(ln, delim))) for ln in sample[:50]] if skip_header else []
    # a SIEM export may hold other vendors' rows: the product and labels of the first Zscaler one
    record = next((r for r in rows if str(r.get("DeviceVendor", "Zscaler")).lower() == "zscaler"), {})
    product = record.get("DeviceProduct")
    # ZPA LSS: a header may name the columns of several log types (one file of a receiver's types,
    # or an export of them); a row's type is told by the columns it fills, as the batch SQL does
    filled = [{k: v for k, v in r.items() if k and v} for r in rows]
    log_type = ((filled and _lss_table(path_label, filled))
                or _lss_table(path_label, [dict.fromkeys(names, "")])
                or guess_log_type(set(names), product=product))
    if log_type is None:
        _fail_type(path_label, f"fields {names[:8]}")
    if fmt == "csv" and delim == "\t":
        fmt = "tsv"
    plan = build_plan(fmt, log_type, names, labels=_labels(record), declared=names)
    _siem_export(plan, record or dict.fromkeys(names), product)
    if utc:
        plan.time_zone = "UTC"                      # `TimeGenerated [UTC]`: whatever --tz says
    _add_markers(plan)
    plan.delim, plan.skip_header = delim, skip_header
    if all(s.startswith('"') and s.endswith('"') for s in sample):
        plan.csv_mode = "quoted"
    elif not any('"' in s for s in sample):
        plan.csv_mode = "plain"
    else:
        plan.csv_mode = "regex"
    if plan.csv_mode == "regex" and delim == "\t":
        plan.csv_mode = "plain"                     # TSV: split on tabs, quotes trimmed per field
    return plan


def _looks_like_value(text: str) -> bool:
    return bool(re.match(r"^\d", text)) or text in ("None", "NA", "Allowed", "Blocked")


def _kv_pairs(text: str, sep: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(sep):
        if "=" in part:
            k, v = part.split("=", 1)
            out.append((k.strip(), v))
    return out


def _kv_parts(parts: list[str]) -> bool:
    """TAB-separated key=value parts, the first possibly a prefix a syslog collector wrote
    (SC4S: `2020-03-02 02:51:56`, `<134>2020-03-02 02:51:56`)."""
    return all("=" in part for part in parts[:5]) or (len(parts) > 3 and all("=" in p for p in parts[1:6]))


# what a kv line's prefix is rewritten to (see zscaler_sql.presplit): its leading timestamp, if any
KV_PREFIX = (r"^(?:<[0-9]{1,3}>)?(?:1 )?([0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
             r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?|[A-Z][a-z]{2} +[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?: [0-9]{4})?)?"
             r"[^\t=]*\t")


def _plan_kv(path_label: str, lines: list[str]) -> Plan:
    sample = lines[:SNIFF_LINES]
    prefixed = any("=" not in ln.split("\t", 1)[0] for ln in sample)
    pairs = _kv_pairs(lines[0], "\t")
    keys = [k for k, _ in pairs if _KEY.match(k)]
    if len(keys) < 3:
        raise BadInput(f"{path_label}: line 1: expected TAB-separated key=value pairs (Splunk style), "
                       f"got {lines[0][:80]!r}")
    rec = {k: _unquote(v) for k, v in pairs}
    keys = _union_keys(([PREFIX_TIME_KEY] if prefixed else []) + keys,
                       (_kv_pairs(ln, "\t") for ln in lines[1:SNIFF_LINES]))
    log_type = (_lss_table(path_label, [dict(_kv_pairs(ln, "\t")) for ln in sample])
                or guess_log_type(set(keys), sourcetype=rec.get("sourcetype")))
    if log_type is None:
        _fail_type(path_label, f"keys {keys[:8]}")
    plan = build_plan("kv", log_type, keys, declared=[k for k, _ in pairs])
    _add_markers(plan, every_key=True)
    plan.delim = "\t"
    plan.kv_prefix = prefixed
    plan.kv_quoted = any(len(v) >= 2 and v[0] == '"' and v[-1] == '"'
                         for ln in sample for _, v in _kv_pairs(ln, "\t"))
    return plan


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", value[1:-1])
    return value


def _union_keys(keys: list[str], more) -> list[str]:
    """`keys`, then keys of the other lines in order of appearance, up to MAX_PLAN_KEYS in all."""
    seen = set(keys)
    out = list(keys[:MAX_PLAN_KEYS])
    for pairs in more:
        if len(pairs) > MAX_FIELDS:
            continue
        for k, _ in pairs:
            if k not in seen and _KEY.match(k) and len(out) < MAX_PLAN_KEYS:
                seen.add(k)
                out.append(k)
    return out


def cef_extension(line: str) -> tuple[dict, str] | None:
    """(header fields, extension text) of a CEF line, tolerant of unescaped | in the name."""
    m = _CEF_HEAD.search(line)
    if not m:
        return None
    rest = line[m.end():]
    # signature id | name | severity | extension ; the name may contain unescaped '|'
    sm = re.match(r"(?P<sig>[^|]*)\|(?P<name>.*?)\|(?P<sev>\d+|Unknown|Low|Medium|High|Very-High)\|", rest)
    if not sm:
        return None
    head = {"vendor": m["vendor"], "product": m["product"], "version": m["version"],
            "signature": sm["sig"], "name": sm["name"], "severity": sm["sev"]}
    return head, rest[sm.end():]


def _space_pairs(ext: str, known: set[str] | None = None) -> list[tuple[str, str]]:
    """key=value pairs separated by spaces where values may contain spaces and '='."""
    spans = [(m.start(1), m.end(1), m.group(1)) for m in _SPACE_KEY.finditer(ext)]
    if known is not None:
        spans = [s for s in spans if s[2].lower() in known]
    out = []
    for i, (start, end, key) in enumerate(spans):
        stop = spans[i + 1][0] - 1 if i + 1 < len(spans) else len(ext)
        out.append((key, ext[end + 1:stop]))
    return out


def _known_space_keys(log_type: str, fmt: str, sample_pairs: list[list[tuple[str, str]]]) -> list[str]:
    """Keys that split a space-delimited extension: aliases we know plus keys on (almost) every line."""
    from collections import Counter

    from .nss_writer import KEYS

    counts = Counter(k for pairs in sample_pairs for k in {k for k, _ in pairs})
    n = max(1, len(sample_pairs))
    known = {k.lower() for k in aliases_for(log_type, fmt)}
    for (lt, f), pairs in KEYS.items():
        if f in ("cef", "leef"):
            known |= {k.lower() for k, _ in pairs}
    keys = [k for k, c in counts.items() if c >= 0.9 * n or k.lower() in known]
    return keys


def _plan_cef(path_label: str, lines: list[str]) -> Plan:
    parsed = [cef_extension(ln) for ln in lines[:SNIFF_LINES]]
    parsed = [p for p in parsed if p]
    if not parsed:
        raise BadInput(f"{path_label}: line 1: expected a CEF header 'CEF:0|Zscaler|NSSWeblog|...|'")
    head = parsed[0][0]
    sample_pairs = [_space_pairs(ext) for _, ext in parsed]
    first_keys = [k for k, _ in sample_pairs[0]]
    log_type = guess_log_type(set(first_keys), product=head["product"])
    if log_type is None:
        _fail_type(path_label, f"CEF product {head['product']!r}")
    split_keys = _known_space_keys(log_type, "cef", sample_pairs)
    keyset = {k.lower() for k in split_keys}
    pairs0 = _space_pairs(parsed[0][1], keyset)
    keys = _union_keys([k for k, _ in pairs0], (_space_pairs(e, keyset) for _, e in parsed[1:]))
    labels = _labels(dict(pairs0))
    plan = build_plan("cef", log_type, keys, labels=labels, declared=[k for k, _ in pairs0])
    # split only at keys the file really uses: a short alternation keeps the regex fast
    plan.split_regex = _split_regex(keys)
    return plan


def _split_regex(keys: list[str]) -> str:
    alts = "|".join(sorted((re.escape(k) for k in split_keys(keys)), key=len, reverse=True))
    return f" ({alts})="


def split_keys(keys: list[str]) -> list[str]:
    """The keys a space-delimited CEF / LEEF line is split at (each as ' key=')."""
    return [k for k in keys if _KEY.match(k)]


def leef_attributes(line: str) -> tuple[dict, str, str] | None:
    """(header, attribute text, delimiter) of a LEEF 1.0 / 2.0 line."""
    m = _LEEF_HEAD.search(line)
    if not m:
        return None
    rest = line[m.end():]
    event_id, _, attrs = rest.partition("|")
    delim = "\t"
    if m["v"].startswith("2"):
        d, sep, tail = attrs.partition("|")
        if sep and len(d) <= 6:
            delim = d if not d.startswith("x") else chr(int(d[1:], 16))
            attrs = tail
    head = {"vendor": m["vendor"], "product": m["product"], "event_id": event_id}
    return head, attrs, delim


def _plan_leef(path_label: str, lines: list[str]) -> Plan:
    parsed = [leef_attributes(ln) for ln in lines[:SNIFF_LINES]]
    parsed = [p for p in parsed if p]
    if not parsed:
        raise BadInput(f"{path_label}: line 1: expected a LEEF header 'LEEF:1.0|Zscaler|NSS|...|'")
    head, attrs0, delim = parsed[0]
    tabbed = delim in attrs0
    if tabbed:
        sample_pairs = [_kv_pairs(a, d) for _, a, d in parsed]
    else:
        sample_pairs = [_space_pairs(a) for _, a, _ in parsed]
    first_keys = [k for k, _ in sample_pairs[0]]
    log_type = guess_log_type(set(first_keys))
    if log_type is None:
        _fail_type(path_label, f"LEEF keys {first_keys[:8]}")
    plan_split = ""
    if not tabbed:
        split_keys = _known_space_keys(log_type, "leef", sample_pairs)
        keyset = {k.lower() for k in split_keys}
        sample_pairs = [_space_pairs(a, keyset) for _, a, _ in parsed]
        plan_split = "pending"
    keys = _union_keys([k for k, _ in sample_pairs[0]], sample_pairs[1:])
    plan = build_plan("leef", log_type, keys, declared=[k for k, _ in sample_pairs[0]])
    plan.split_regex = _split_regex(keys) if plan_split else ""
    plan.delim = delim
    return plan


__all__ = ["Plan", "sniff", "build_plan", "cef_extension", "leef_attributes", "SOURCETYPES", "COLUMNS"]

"""zsaudit.toml: what the nightly job (`zsaudit run`, the Airflow DAG) reads and where it writes.

Every key is checked on load; a mistake is a `BadUsage` naming the file and the key (exit 2).
Relative paths are relative to the config file's directory, so a config works from any cwd.
`EXAMPLE` is the commented file `zsaudit init` writes.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from . import DEFAULT_DB, tomlfile
from .analyze.rules import SEVERITIES
from .errors import BadUsage
from .ingest import workers
from .ingest.sources import GLOB_CHARS, is_remote, local_path, remote_files
from .timeutil import parse_duration, parse_time

ZSCALER_FORMATS = ("auto", "json", "csv", "tsv", "kv", "leef", "cef")
ENGINES = ("duckdb", "spark")
DEFAULT_GAP_THRESHOLD = timedelta(hours=1)   # shortest stretch without records that is a coverage_gap
DEFAULT_MAX_REJECT_RATE = 0.01               # rejected share of a file's lines above which it fails


@dataclass(frozen=True)
class Config:
    path: Path | None                    # the file it came from (None when built in code)
    db: Path
    identity_map: Path
    pack_dir: Path                       # packs go to pack_dir/<period>/
    zscaler_paths: tuple[str, ...] = ()
    zscaler_format: str = "auto"
    zscaler_fields: str | None = None
    zscaler_tz: str = "UTC"
    airflow_paths: tuple[str, ...] = ()  # task-log trees, metadata DB files or URLs, exports
    airflow_template: str | None = None
    airflow_tz: str = "UTC"
    airflow_api_ca_bundle: Path | None = None       # for https:// Airflow API URLs in airflow.paths
    airflow_api_secrets_file: Path | None = None
    airflow_api_mirror: Path | None = None          # default: <db>.airflow-api/
    pdf: bool = True
    retention_days: int = 0              # 0: keep every pack
    lock_wait: float = 60.0              # seconds to wait for a pack folder another zsaudit is writing
    signing_key: Path | None = None      # Ed25519 PEM private key signing each manifest (else $ZSAUDIT_SIGNING_KEY)
    fail_on: str | None = None           # None: never exit 1
    gap_threshold: timedelta = DEFAULT_GAP_THRESHOLD
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE
    ingest_workers: int | None = None    # files / log batches ingested at once (None: one per core; ingest/workers.py)
    since: datetime | None = None        # fixed period; default: yesterday (UTC)
    until: datetime | None = None
    engine: str = "duckdb"               # duckdb: this machine; spark: a Spark cluster (docs/scale.md)
    spark_master: str | None = None      # spark://host:7077, local[N]
    lake: Path | str | None = None       # the Spark engine's Parquet lake: a folder or s3://, gs://, az:// prefix
                                         # (default: <db>.lake/)
    controls: dict = field(default_factory=dict, compare=False)  # criterion id -> owner/reviewer
    warnings: list[str] = field(default_factory=list, compare=False)

    def where(self, key: str) -> str:
        return f"{self.path or 'config'}: key '{key}'"


# -- the example `zsaudit init` writes ----------------------------------------------------------
EXAMPLE = '''\
# zsaudit.toml: the nightly job. Run it with `zsaudit run --config zsaudit.toml`
# or install the Airflow DAG (`zsaudit airflow-dag --install $AIRFLOW_HOME/dags`).
# Relative paths are relative to this file. Globs (*, **, ?) are allowed in `paths`, and so are
# object-store prefixes and globs: s3://bucket/prefix/, gs://..., az://... (pip install 'zsaudit[s3]').

db = "zsaudit.duckdb"              # the DuckDB store; it keeps history across nights
identity_map = "identity.toml"     # service accounts, workers, approved exceptions

[zscaler]
# Where your NSS / LSS feeds land: files, directories (read recursively), .gz files, globs.
paths = ["/var/log/zscaler"]
format = "auto"                    # auto | json | csv | tsv | kv | leef | cef
# fields = '"%s{time}","%s{login}",...'   # NSS feed format string, only for headerless CSV/TSV
tz = "UTC"                         # time zone of times that carry none (the feed's setting)

[airflow]
# Task-log trees ($AIRFLOW_HOME/logs), the metadata DB (SQLite file or a postgresql:// URL),
# REST API task-instance exports, CSV dumps of task_instance, scheduler stdout.
# Airflow 3 task logs name no host and no final state: list the metadata DB too.
paths = ["/opt/airflow/logs", "/opt/airflow/airflow.db"]
# Or the live REST API of your Airflow (v2 on Airflow 3, v1 on 2.x): paths = ["https://airflow.example.com"]
# with credentials in ZSAUDIT_AIRFLOW_TOKEN, or ZSAUDIT_AIRFLOW_USER + ZSAUDIT_AIRFLOW_PASSWORD,
# or a secrets file (never in this file):
# api_secrets_file = "/etc/zsaudit/airflow-api.toml"   # token = "..." or user = "..." + password = "..."
# api_ca_bundle = "/etc/ssl/corp-ca.pem"               # a private CA for https
# template = "dag_id={{ ti.dag_id }}/..."   # only if you changed [logging] log_filename_template
tz = "UTC"

[ingest]
max_reject_rate = 0.01             # a file with more rejected lines than this share is a failure
# workers = 4                      # files (Airflow: batches of task logs) read and parsed at once;
                                   # default one per core. Memory grows with it (docs/running.md);
                                   # ZSAUDIT_INGEST_WORKERS and --workers override it

[analyze]
gap_threshold = "1h"               # a source silent this long while the others deliver: coverage_gap

[pack]
out_dir = "packs"                  # each night's pack goes to packs/YYYY-MM-DD/
pdf = true                         # audit-pack.pdf beside index.html
retention_days = 400               # delete dated packs older than this; 0 keeps them all
# signing_key = "/etc/zsaudit/signing-key.pem"  # Ed25519 key signing each manifest.json (pip install
                                   # 'zsaudit[sign]'; or set ZSAUDIT_SIGNING_KEY; docs/report.md)

[engine]
name = "duckdb"                    # duckdb: this machine | spark: ingest and analysis as Spark jobs
# spark_master = "spark://spark-master.example:7077"   # with name = "spark" (pip install 'zsaudit[spark]')
# lake = "/shared/zsaudit-lake"    # the Parquet lake every executor reads and writes (default <db>.lake):
                                   # a shared folder, or an object-store prefix ("s3://bucket/zsaudit-lake")

[run]
# The period defaults to yesterday (UTC); `--since/--until` override it for one run.
# since = "2026-11-24"
# until = "2026-11-25"
fail_on = "high"                   # none | low | medium | high | critical: exit 1 at or above
                                   # ("high": a dead feed, a coverage_gap, fails the nightly job)

# Who owns each SOC 2 criterion and who reviews the pack for it: printed in the pack with a review
# block (name, role, date) per criterion. Criteria: CC6.1, CC6.6, CC6.7, CC7.2, CC7.3.
# [controls."CC6.1"]
# owner = "Jane Doe"
# owner_role = "Head of Data Platform"
# reviewer = "Bob Roe"
# reviewer_role = "Security Compliance Lead"
# reviewed = 2026-12-02             # date of the management review (blank in the pack until set)
'''

EXAMPLE_IDENTITY_MAP = '''\
# identity.toml: who may reach what. zsaudit ties each Zscaler request to the Airflow task
# attempt behind it and checks it against this map.

[policy]
token_lifetime = "15m"     # lifetime of the identity token Zscaler evaluates
clock_skew = "5s"          # tolerance between Zscaler and Airflow clocks

[[service_account]]
name = "svc-billing"
zscaler_logins = ["svc-billing@corp.example"]
dags = ["billing_*"]                  # DAG ids (globs) allowed to act as this identity
connections = ["billing_api"]         # Airflow connection ids that carry this identity
allowed_hosts = ["api.billing.example", "*.s3.amazonaws.com"]   # hosts it may reach (globs); omit: not checked

[[worker]]
hostname = "airflow-worker-1"
ips = ["10.20.0.11"]
device_hostnames = ["airflow-worker-1.corp.example"]

# An approved, time-boxed exception: matching findings are shown as accepted, not open.
# [[exception]]
# kind = "unmapped_identity"
# match = { login = "svc-legacy@corp.example", dag = "legacy_export" }
# approver = "jane.doe@corp.example"
# reason = "Legacy export until vendor migration"
# ticket = "SEC-1234"
# expires = "2027-03-31"
'''


# -- loading ------------------------------------------------------------------------------------
_KEYS = {
    "": {"db", "identity_map", "zscaler", "airflow", "ingest", "analyze", "pack", "run", "controls", "engine"},
    "zscaler": {"paths", "format", "fields", "tz"},
    "airflow": {"paths", "template", "tz", "api_ca_bundle", "api_secrets_file", "api_mirror"},
    "ingest": {"max_reject_rate", "workers"},
    "analyze": {"gap_threshold"},
    "pack": {"out_dir", "pdf", "retention_days", "lock_wait", "signing_key"},
    "run": {"since", "until", "fail_on"},
    "engine": {"name", "spark_master", "lake"},
}


def load_config(path: str | os.PathLike) -> Config:
    """Read and check a zsaudit.toml."""
    path = Path(path)
    if not path.exists():
        raise BadUsage(f"{path}: no such config file (`zsaudit init` writes an example)")
    data = tomlfile.parse(tomlfile.read_text(path, "config file", BadUsage), str(path), BadUsage)
    return from_dict(data, path)


def from_dict(data: dict, path: Path | None = None) -> Config:
    base = path.resolve().parent if path else Path.cwd()
    where = str(path or "config")

    def bad(key: str, expected: str, got) -> BadUsage:
        return BadUsage(f"{where}: key '{key}': expected {expected}, got {got!r}")

    for section, allowed in _KEYS.items():
        table = data if not section else data.get(section, {})
        if not isinstance(table, dict):
            raise bad(section, "a table ([" + section + "])", table)
        for key in table:
            full = f"{section}.{key}" if section else key
            if key not in allowed:
                raise BadUsage(f"{where}: unknown key '{full}' (known: "
                               f"{', '.join(sorted((f'{section}.' if section else '') + k for k in allowed))})")

    def section(name: str) -> dict:
        return data.get(name, {})

    def string(table: dict, key: str, full: str, default=None, required=False):
        value = table.get(key, default)
        if value is None:
            if required:
                raise BadUsage(f"{where}: key '{full}' is required")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise bad(full, "a string", value)
        return value

    def a_path(table: dict, key: str, full: str, default=None, required=False) -> Path | None:
        value = string(table, key, full, default, required)
        if value is None:
            return None
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else base / p

    def paths(table: dict, full: str) -> tuple[str, ...]:
        value = table.get("paths", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise bad(full, "a list of paths, directories, globs (or URLs)", value)
        out = []
        for v in value:
            v = local_path(v)                      # file:///x -> /x
            if "://" in v:
                out.append(v)
            else:
                p = os.path.expanduser(v)
                out.append(p if os.path.isabs(p) else str(base / p))
        return tuple(out)

    zs, af, pack, run = section("zscaler"), section("airflow"), section("pack"), section("run")

    fmt = string(zs, "format", "zscaler.format", "auto")
    if fmt not in ZSCALER_FORMATS:
        raise bad("zscaler.format", " | ".join(ZSCALER_FORMATS), fmt)

    pdf = pack.get("pdf", True)
    if not isinstance(pdf, bool):
        raise bad("pack.pdf", "true or false", pdf)
    retention = pack.get("retention_days", 0)
    if isinstance(retention, bool) or not isinstance(retention, int) or retention < 0:
        raise bad("pack.retention_days", "a whole number of days >= 0 (0 keeps every pack)", retention)
    lock_wait = pack.get("lock_wait", 60)
    if isinstance(lock_wait, bool) or not isinstance(lock_wait, (int, float)) or not 0 <= lock_wait <= 86400:
        raise bad("pack.lock_wait", "seconds to wait for a pack folder another zsaudit is writing, 0 to 86400",
                  lock_wait)

    fail_on = parse_fail_on(run.get("fail_on", "none"), what=f"{where}: key 'run.fail_on'")
    max_reject_rate = parse_reject_rate(section("ingest").get("max_reject_rate", DEFAULT_MAX_REJECT_RATE),
                                        what=f"{where}: key 'ingest.max_reject_rate'")
    ingest_workers = section("ingest").get("workers")
    if ingest_workers is not None and not workers.is_count(ingest_workers):
        raise bad("ingest.workers", workers.EXPECTED, ingest_workers)
    threshold = section("analyze").get("gap_threshold")
    if threshold is not None and not isinstance(threshold, str):
        raise bad("analyze.gap_threshold", "a duration such as \"1h\" or \"30m\"", threshold)
    gap_threshold = parse_gap_threshold(threshold, what=f"{where}: key 'analyze.gap_threshold'")

    since = until = None
    for key in ("since", "until"):
        raw = run.get(key)
        if raw is None:
            continue
        if isinstance(raw, (datetime,)) or hasattr(raw, "isoformat"):
            raw = raw.isoformat()
        if not isinstance(raw, str):
            raise bad(f"run.{key}", "an ISO 8601 date or time", raw)
        value = parse_time(raw, what=f"{where}: key 'run.{key}'")
        since, until = (value, until) if key == "since" else (since, value)
    if (since is None) != (until is None):
        raise BadUsage(f"{where}: keys 'run.since' and 'run.until' go together (or leave both out for yesterday)")
    if since and until and until <= since:
        raise bad("run.until", f"a time after run.since ({since.isoformat()})", until.isoformat())

    controls = parse_controls(data.get("controls", {}), where)
    eng = section("engine")
    engine = string(eng, "name", "engine.name", "duckdb")
    if engine not in ENGINES:
        raise bad("engine.name", " | ".join(ENGINES), engine)
    spark_master = string(eng, "spark_master", "engine.spark_master")
    config = Config(
        path=path,
        db=a_path(data, "db", "db", DEFAULT_DB),
        identity_map=a_path(data, "identity_map", "identity_map", required=True),
        pack_dir=a_path(pack, "out_dir", "pack.out_dir", "packs"),
        zscaler_paths=paths(zs, "zscaler.paths"),
        zscaler_format=fmt,
        zscaler_fields=string(zs, "fields", "zscaler.fields") or None,
        zscaler_tz=string(zs, "tz", "zscaler.tz", "UTC"),
        airflow_paths=paths(af, "airflow.paths"),
        airflow_template=string(af, "template", "airflow.template") or None,
        airflow_tz=string(af, "tz", "airflow.tz", "UTC"),
        airflow_api_ca_bundle=a_path(af, "api_ca_bundle", "airflow.api_ca_bundle"),
        airflow_api_secrets_file=a_path(af, "api_secrets_file", "airflow.api_secrets_file"),
        airflow_api_mirror=a_path(af, "api_mirror", "airflow.api_mirror"),
        pdf=pdf,
        retention_days=retention,
        lock_wait=float(lock_wait),
        signing_key=a_path(pack, "signing_key", "pack.signing_key"),
        controls=controls,
        fail_on=fail_on,
        gap_threshold=gap_threshold,
        max_reject_rate=max_reject_rate,
        ingest_workers=ingest_workers,
        since=since,
        until=until,
        engine=engine,
        spark_master=spark_master,
        lake=(lambda v: None if v is None else lake_location(v, base))(string(eng, "lake", "engine.lake")),
    )
    check_engine(config)
    if not config.zscaler_paths and not config.airflow_paths:
        raise BadUsage(f"{where}: keys 'zscaler.paths' and 'airflow.paths' are both empty: nothing to audit")
    return config


def check_engine(config: Config) -> None:
    """The Spark engine needs its master (spark://host:port, or local[N] for one machine)."""
    if config.engine != "spark":
        return
    master = config.spark_master or ""
    if not (master.startswith("spark://") or master.startswith("local")):
        raise BadUsage(f"{config.where('engine.spark_master')}: the Spark engine needs the cluster's master URL "
                       f"such as spark://spark-master.example:7077 (or --spark-master), got {master or 'none'!r}")


def lake_location(value: str, base: Path | None = None) -> Path | str:
    """engine.lake or --lake: an object-store prefix as written (s3://bucket/prefix), or a folder
    (relative to `base`, the config's folder; else to the working directory)."""
    if is_remote(value):
        return value.rstrip("/")
    p = Path(os.path.expanduser(local_path(value)))
    return p if p.is_absolute() else (base / p if base is not None else p.resolve())


def lake_of(config: Config) -> Path | str:
    return config.lake if config.lake is not None else config.db.with_name(config.db.name + ".lake")


CONTROL_KEYS = ("owner", "owner_role", "reviewer", "reviewer_role", "reviewed")


def parse_controls(table, where: str) -> dict:
    """[controls."CCx.y"]: owner and reviewer of each criterion the pack reports on."""
    from .report.context import load_criteria

    known = [c["id"] for c in load_criteria()]
    if not isinstance(table, dict):
        raise BadUsage(f"{where}: key 'controls': expected a table of criteria ([controls.\"CC6.1\"]), got {table!r}")
    out = {}
    for cid, entry in table.items():
        if cid not in known:
            raise BadUsage(f"{where}: key 'controls.{cid}': not a criterion of the pack (known: {', '.join(known)})")
        if not isinstance(entry, dict):
            raise BadUsage(f"{where}: key 'controls.{cid}': expected a table with {', '.join(CONTROL_KEYS)}, got {entry!r}")
        review = {}
        for key, value in entry.items():
            full = f"controls.{cid}.{key}"
            if key not in CONTROL_KEYS:
                raise BadUsage(f"{where}: unknown key '{full}' (known: {', '.join(CONTROL_KEYS)})")
            if key == "reviewed":
                if hasattr(value, "isoformat") and not isinstance(value, datetime):
                    value = value.isoformat()
                elif isinstance(value, str):
                    try:
                        value = date.fromisoformat(value.strip()).isoformat()
                    except ValueError:
                        raise BadUsage(f"{where}: key '{full}': expected a date (2026-12-02), got {value!r}") from None
                else:
                    raise BadUsage(f"{where}: key '{full}': expected a date (2026-12-02), got {value!r}")
            elif not isinstance(value, str) or not value.strip():
                raise BadUsage(f"{where}: key '{full}': expected a name or role as text, got {value!r}")
            review[key] = value.strip()
        out[cid] = review
    return out


def parse_fail_on(value, *, what: str = "--fail-on") -> str | None:
    if value is None or (isinstance(value, str) and value.lower() in ("", "none", "off", "never")):
        return None
    if not isinstance(value, str) or value.lower() not in SEVERITIES:
        raise BadUsage(f"{what}: expected one of none, {', '.join(SEVERITIES)}, got {value!r}")
    return value.lower()


def parse_reject_rate(value, *, what: str = "--max-reject-rate") -> float:
    """A share of lines between 0 and 1 (0.01 = 1%); text may also say "1%" or "0.01"."""
    rate = value
    if isinstance(value, str):
        text = value.strip()
        try:
            rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            rate = None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:   # NaN too
        raise BadUsage(f"{what}: expected a share between 0 and 1 such as 0.01 (1%), got {value!r}")
    return float(rate)


def parse_gap_threshold(value: str | None, *, what: str = "--gap-threshold") -> timedelta:
    """A positive duration such as 1h or 30m (default 1h)."""
    if value is None:
        return DEFAULT_GAP_THRESHOLD
    d = parse_duration(value, what=what)
    if d <= timedelta(0):
        raise BadUsage(f"{what}: expected a positive duration such as 1h or 30m, got {value!r}")
    return d


def expand(locations: tuple[str, ...], key: str, config: Config) -> tuple[list[str], list[str]]:
    """Config locations -> (paths for an ingester, warnings). A missing literal path is an error
    naming its key; a glob that matches nothing is a warning (a quiet night is not a failure)."""
    found, warnings = [], []
    for i, loc in enumerate(locations):
        if is_remote(loc) and GLOB_CHARS & set(loc.partition("://")[2]):
            matches = [obj.url for obj in remote_files(loc)]
            if not matches:
                warnings.append(f"{config.where(f'{key}[{i}]')}: {loc} matches no object")
            found.extend(matches)
        elif "://" in loc:
            found.append(loc)
        elif GLOB_CHARS & set(loc):
            matches = sorted(glob.glob(loc, recursive=True))
            if not matches:
                warnings.append(f"{config.where(f'{key}[{i}]')}: {loc} matches no file")
            found.extend(matches)
        elif os.path.exists(loc):
            found.append(loc)
        else:
            raise BadUsage(f"{config.where(f'{key}[{i}]')}: {loc} does not exist")
    return found, warnings

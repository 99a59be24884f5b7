-- zsaudit store, schema version 1. Later changes go in queries/migrations/NNN_<what>.sql.
-- Column meanings: docs/schema.md. Every Zscaler row has `rid`, a stable evidence id
-- ("<first 16 hex of the file's sha256>:<line>"), plus source_file and source_line.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- One row per input file ingested (or refused). lines_read = rows_loaded + rows_rejected.
CREATE TABLE IF NOT EXISTS ingest_ledger (
    file_id        VARCHAR PRIMARY KEY,      -- sha256 of the content
    path           VARCHAR NOT NULL,
    size           BIGINT,
    sha256         VARCHAR NOT NULL,
    source_kind    VARCHAR NOT NULL,         -- zia_web, zia_firewall, zia_dns, zpa_user_activity, zpa_user_status, airflow_tasklog, ...
    format         VARCHAR,                  -- json, csv, tsv, kv, leef, cef, airflow2_text, airflow3_json, ...
    lines_read     BIGINT NOT NULL DEFAULT 0,
    rows_loaded    BIGINT NOT NULL DEFAULT 0,
    rows_rejected  BIGINT NOT NULL DEFAULT 0,
    first_event    TIMESTAMPTZ,
    last_event     TIMESTAMPTZ,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    status         VARCHAR NOT NULL DEFAULT 'loaded',   -- loaded | replaced
    field_drift    VARCHAR,                  -- JSON: fields missing / unexpected vs the declared template
    note           VARCHAR
);

CREATE TABLE IF NOT EXISTS rejects (
    file_id      VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    source_line  BIGINT NOT NULL,
    raw          VARCHAR,
    reason       VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS zia_web (
    rid                 VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ,
    login               VARCHAR,
    department          VARCHAR,
    location            VARCHAR,
    client_ip           VARCHAR,
    client_public_ip    VARCHAR,
    server_ip           VARCHAR,
    device_hostname     VARCHAR,
    device_owner        VARCHAR,
    request_method      VARCHAR,
    url                 VARCHAR,
    host                VARCHAR,
    protocol            VARCHAR,
    response_code       INTEGER,
    action              VARCHAR,
    reason              VARCHAR,
    url_category        VARCHAR,
    url_super_category  VARCHAR,
    url_class           VARCHAR,
    app_name            VARCHAR,
    app_class           VARCHAR,
    user_agent          VARCHAR,
    referer             VARCHAR,
    request_size        BIGINT,
    response_size       BIGINT,
    total_size          BIGINT,
    risk_score          INTEGER,
    threat_name         VARCHAR,
    malware_category    VARCHAR,
    rule_type           VARCHAR,
    rule_label          VARCHAR,
    content_type        VARCHAR,
    forward_method      VARCHAR,
    record_id           BIGINT,
    extra               VARCHAR,             -- JSON object of fields with no canonical column
    file_id             VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS zia_firewall (
    rid                 VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ,
    login               VARCHAR,
    department          VARCHAR,
    location            VARCHAR,
    client_ip           VARCHAR,             -- csip
    client_port         INTEGER,             -- csport
    client_dest_ip      VARCHAR,             -- cdip
    client_dest_port    INTEGER,             -- cdport
    client_dest_fqdn    VARCHAR,             -- cdfqdn
    server_source_ip    VARCHAR,             -- ssip
    server_source_port  INTEGER,
    server_ip           VARCHAR,             -- sdip
    server_port         INTEGER,             -- sdport
    tunnel_ip           VARCHAR,
    tunnel_type         VARCHAR,
    action              VARCHAR,
    rule_label          VARCHAR,
    network_service     VARCHAR,
    network_app         VARCHAR,
    ip_protocol         VARCHAR,
    ip_category         VARCHAR,
    dest_country        VARCHAR,
    in_bytes            BIGINT,
    out_bytes           BIGINT,
    duration_ms         BIGINT,
    num_sessions        BIGINT,
    threat_category     VARCHAR,
    threat_name         VARCHAR,
    device_hostname     VARCHAR,
    device_owner        VARCHAR,
    record_id           BIGINT,
    extra               VARCHAR,
    file_id             VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS zia_dns (
    rid                  VARCHAR NOT NULL,
    event_time           TIMESTAMPTZ,
    login                VARCHAR,
    department           VARCHAR,
    location             VARCHAR,
    request_action       VARCHAR,
    response_action      VARCHAR,
    request_rule_label   VARCHAR,
    response_rule_label  VARCHAR,
    request_type         VARCHAR,
    query                VARCHAR,            -- %s{req}
    response             VARCHAR,            -- %s{res}
    client_ip            VARCHAR,
    server_ip            VARCHAR,
    server_port          INTEGER,
    duration_ms          BIGINT,
    domain_category      VARCHAR,
    device_hostname      VARCHAR,
    device_owner         VARCHAR,
    record_id            BIGINT,
    extra                VARCHAR,
    file_id              VARCHAR NOT NULL,
    source_file          VARCHAR NOT NULL,
    source_line          BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS zpa_user_activity (
    rid                 VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ,
    username            VARCHAR,
    customer            VARCHAR,
    session_id          VARCHAR,
    connection_id       VARCHAR,
    connection_status   VARCHAR,
    internal_reason     VARCHAR,
    client_public_ip    VARCHAR,
    client_private_ip   VARCHAR,
    host                VARCHAR,
    application         VARCHAR,
    app_group           VARCHAR,
    policy              VARCHAR,
    server_ip           VARCHAR,
    server_port         INTEGER,
    connector           VARCHAR,
    ip_protocol         INTEGER,
    connection_start    TIMESTAMPTZ,
    connection_end      TIMESTAMPTZ,
    idp                 VARCHAR,
    hostname            VARCHAR,
    extra               VARCHAR,
    file_id             VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS zpa_user_status (
    rid                 VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ,
    username            VARCHAR,
    customer            VARCHAR,
    session_id          VARCHAR,
    session_status      VARCHAR,
    authenticated_at    TIMESTAMPTZ,
    unauthenticated_at  TIMESTAMPTZ,
    client_public_ip    VARCHAR,
    client_private_ip   VARCHAR,
    hostname            VARCHAR,
    platform            VARCHAR,
    client_type         VARCHAR,
    version             VARCHAR,
    idp                 VARCHAR,
    extra               VARCHAR,
    file_id             VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL
);

-- Airflow side (docs/airflow.md). attempt_id = first 16 hex of sha256("dag_id|run_id|task_id|map_index|try_number").
-- task_attempts is the merged view of every source that spoke about an attempt
-- (task_attempt_sources); *_source says which source gave the host, the times and the state.
CREATE TABLE IF NOT EXISTS task_attempts (
    attempt_id      VARCHAR NOT NULL,
    dag_id          VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    map_index       INTEGER NOT NULL DEFAULT -1,
    try_number      INTEGER NOT NULL,
    ti_id           VARCHAR,                 -- Airflow 3 task-instance UUID (dashed, lowercase)
    hostname        VARCHAR,
    start_time      TIMESTAMPTZ,
    end_time        TIMESTAMPTZ,
    state           VARCHAR,                 -- success | failed | up_for_retry | skipped | ... | unknown
    return_code     INTEGER,
    operator        VARCHAR,
    max_tries       INTEGER,
    airflow_version VARCHAR,                 -- '2' or '3' as told by the log format
    log_file        VARCHAR,
    log_sha256      VARCHAR,
    host_source     VARCHAR,                 -- log | metadata_db | rest_api | csv | scheduler_stdout
    times_source    VARCHAR,
    state_source    VARCHAR,
    sources         VARCHAR[]                -- every source kind that knew this attempt
);

-- One row per (attempt, source kind): what that source said. Rebuilt into task_attempts.
CREATE TABLE IF NOT EXISTS task_attempt_sources (
    attempt_id      VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,        -- log | metadata_db | rest_api | csv | scheduler_stdout
    file_id         VARCHAR NOT NULL,        -- ledger file_id it came from
    dag_id          VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    task_id         VARCHAR NOT NULL,
    map_index       INTEGER NOT NULL,
    try_number      INTEGER NOT NULL,
    ti_id           VARCHAR,
    hostname        VARCHAR,
    start_time      TIMESTAMPTZ,
    end_time        TIMESTAMPTZ,
    state           VARCHAR,
    state_explicit  BOOLEAN,                 -- stated by the source (not inferred from its absence)
    return_code     INTEGER,
    operator        VARCHAR,
    max_tries       INTEGER,
    airflow_version VARCHAR,
    log_file        VARCHAR,
    log_sha256      VARCHAR
);

-- Scheduler / API-server stdout events that name a task instance only by its UUID (Airflow 3).
CREATE TABLE IF NOT EXISTS airflow_ti_events (
    ti_id        VARCHAR NOT NULL,
    event        VARCHAR NOT NULL,           -- task_started | workload_finished
    event_time   TIMESTAMPTZ,
    hostname     VARCHAR,
    state        VARCHAR,
    return_code  INTEGER,
    file_id      VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    source_line  BIGINT NOT NULL
);

-- Task-log files: log_key is the attempt identity read from the path, so a grown copy of the
-- same attempt's log replaces the earlier one.
CREATE TABLE IF NOT EXISTS airflow_log_files (
    file_id      VARCHAR PRIMARY KEY,
    log_key      VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    format       VARCHAR,                    -- airflow2_text | airflow3_json
    lines        BIGINT
);

CREATE TABLE IF NOT EXISTS task_connections (
    attempt_id   VARCHAR NOT NULL,
    dag_id       VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    map_index    INTEGER NOT NULL DEFAULT -1,
    try_number   INTEGER NOT NULL,
    event_time   TIMESTAMPTZ,
    conn_id      VARCHAR NOT NULL,
    log_file     VARCHAR,
    source_line  BIGINT,
    rid          VARCHAR,                    -- "<first 16 hex of the log's sha256>:<line>"
    file_id      VARCHAR
);

CREATE TABLE IF NOT EXISTS task_egress_hints (
    attempt_id   VARCHAR NOT NULL,
    dag_id       VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    map_index    INTEGER NOT NULL DEFAULT -1,
    try_number   INTEGER NOT NULL,
    event_time   TIMESTAMPTZ,
    url          VARCHAR,                    -- NULL for a bare host:port; user:password@ redacted
    host         VARCHAR NOT NULL,           -- lowercased
    port         INTEGER,                    -- explicit, else 80/443 by scheme
    log_file     VARCHAR,
    source_line  BIGINT,
    message      VARCHAR,
    scheme       VARCHAR,
    rid          VARCHAR,
    file_id      VARCHAR
);

CREATE TABLE IF NOT EXISTS airflow_log_lines (
    attempt_id   VARCHAR,
    log_file     VARCHAR NOT NULL,
    source_line  BIGINT NOT NULL,
    event_time   TIMESTAMPTZ,
    level        VARCHAR,                    -- upper case in both versions
    source       VARCHAR,                    -- {file.py:NN} in 2.x, logger in 3.x
    message      VARCHAR,
    continuation BOOLEAN,                    -- 2.x traceback / multi-line continuation (time, level from the record above)
    detail       VARCHAR,                    -- 3.x error_detail as "ExcType: value" (chained with " <- ")
    rid          VARCHAR,
    file_id      VARCHAR
);

-- Analysis output. One analysis = one period and one identity map (docs/findings.md).
-- analysis_id = first 16 hex of sha256("<period_start>|<period_end>"): analysing the same period
-- again replaces that analysis's rows.
CREATE TABLE IF NOT EXISTS analysis_runs (
    analysis_id          VARCHAR PRIMARY KEY,
    period_start         TIMESTAMPTZ,
    period_end           TIMESTAMPTZ,
    identity_map_path    VARCHAR,
    identity_map_sha256  VARCHAR,
    started_at           TIMESTAMPTZ,
    finished_at          TIMESTAMPTZ,
    worker_requests      BIGINT,                 -- requests tied to a worker or a service-account login
    attributed           BIGINT,
    ambiguous            BIGINT,
    unattributed         BIGINT,
    findings             BIGINT,
    not_evaluable        BIGINT,
    token_lifetime_s     DOUBLE,
    clock_skew_s         DOUBLE
);

CREATE TABLE IF NOT EXISTS attributions (
    request_table  VARCHAR NOT NULL,         -- zia_web | zpa_user_activity
    request_rid    VARCHAR NOT NULL,
    event_time     TIMESTAMPTZ,
    worker         VARCHAR,                  -- identity-map worker hostname, when known
    login          VARCHAR,
    host           VARCHAR,
    attempt_id     VARCHAR,
    dag_id         VARCHAR,
    run_id         VARCHAR,
    task_id        VARCHAR,
    map_index      INTEGER,
    try_number     INTEGER,
    status         VARCHAR NOT NULL,         -- attributed | ambiguous | unattributed
    method         VARCHAR,                  -- how the worker was found: device | ip | login (+login, +host when narrowed)
    confidence     DOUBLE,
    candidates     INTEGER,                  -- attempts left after narrowing
    candidate_attempts VARCHAR[],            -- their attempt_ids when ambiguous (at most 10)
    analysis_id    VARCHAR
);

CREATE TABLE IF NOT EXISTS findings (
    finding_id      VARCHAR PRIMARY KEY,     -- first 16 hex of sha256(kind|identifying evidence)
    kind            VARCHAR NOT NULL,
    subtype         VARCHAR,                 -- which case of the kind (docs/findings.md)
    severity        VARCHAR NOT NULL,        -- low | medium | high | critical
    controls        VARCHAR[],
    title           VARCHAR,
    status          VARCHAR NOT NULL DEFAULT 'open',   -- open | accepted
    event_time      TIMESTAMPTZ,
    attempt_id      VARCHAR,
    dag_id          VARCHAR,
    run_id          VARCHAR,
    task_id         VARCHAR,
    map_index       INTEGER,
    try_number      INTEGER,
    worker          VARCHAR,
    login           VARCHAR,
    host            VARCHAR,
    conn_id         VARCHAR,
    detail          VARCHAR,
    evidence_ids    VARCHAR[],               -- Zscaler rids; airflow:<attempt_id>:<line> for log lines
    evidence_count  BIGINT,                  -- all evidence records (evidence_ids keeps the first 1000)
    gap_start       TIMESTAMPTZ,
    gap_end         TIMESTAMPTZ,
    gap_seconds     DOUBLE,
    attempts_hit    VARCHAR[],               -- token_gap: attempts whose requests fell in the gap
    exception_approver VARCHAR,
    exception_reason   VARCHAR,
    exception_ticket   VARCHAR,
    exception_expires  DATE,
    exception_note     VARCHAR,              -- e.g. an expired exception that no longer matches
    analysis_id     VARCHAR
);

-- Checks that could not be evaluated, with the reason (never silently passed).
CREATE TABLE IF NOT EXISTS not_evaluable (
    check_kind   VARCHAR NOT NULL,
    attempt_id   VARCHAR,
    dag_id       VARCHAR,
    run_id       VARCHAR,
    task_id      VARCHAR,
    map_index    INTEGER,
    try_number   INTEGER,
    login        VARCHAR,                    -- token_gap: the login without ZPA user status
    reason       VARCHAR NOT NULL,
    analysis_id  VARCHAR
);

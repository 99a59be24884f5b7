-- Schema 6 (issue 13): two more ZPA LSS log types get tables of their own (docs/schema.md).
--
-- zpa_browser_access: LSS Browser Access logs, one row per HTTP request through a browser-access
-- application; username is the request's SAML NameID.
-- zpa_connector_status: LSS App Connector status logs, one row per connector session state
-- change; a connector's status proves the ZPA path it serves existed at that time.
-- record_key: the hash of the whole normalized record, as for the other ZPA tables
-- (004_record_keys.sql); a record is a duplicate when (event_time, record_key) is already in its table.
CREATE TABLE IF NOT EXISTS zpa_browser_access (
    rid                 VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ,
    username            VARCHAR,
    customer            VARCHAR,
    connection_id       VARCHAR,
    connection_status   VARCHAR,
    connection_reason   VARCHAR,
    method              VARCHAR,
    protocol            VARCHAR,
    host                VARCHAR,
    url                 VARCHAR,
    status_code         INTEGER,
    user_agent          VARCHAR,
    xff                 VARCHAR,
    request_size        BIGINT,
    response_size       BIGINT,
    application_port    INTEGER,
    client_public_ip    VARCHAR,
    client_public_port  INTEGER,
    client_private_ip   VARCHAR,
    request_start       TIMESTAMPTZ,
    response_end        TIMESTAMPTZ,
    extra               VARCHAR,
    file_id             VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL,
    record_key          UBIGINT
);

CREATE TABLE IF NOT EXISTS zpa_connector_status (
    rid                 VARCHAR NOT NULL,
    event_time          TIMESTAMPTZ,
    customer            VARCHAR,
    session_id          VARCHAR,
    session_type        VARCHAR,
    session_status      VARCHAR,
    connector           VARCHAR,
    connector_group     VARCHAR,
    version             VARCHAR,
    platform            VARCHAR,
    zen                 VARCHAR,
    private_ip          VARCHAR,
    public_ip           VARCHAR,
    authenticated_at    TIMESTAMPTZ,
    unauthenticated_at  TIMESTAMPTZ,
    cpu_utilization     INTEGER,
    mem_utilization     INTEGER,
    total_bytes_rx      BIGINT,
    total_bytes_tx      BIGINT,
    extra               VARCHAR,
    file_id             VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL,
    record_key          UBIGINT
);

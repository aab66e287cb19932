-- Calls, their recordings and the parties used by search (SQLite, embedded default).
CREATE TABLE tenant_settings (
    tenant_id                TEXT PRIMARY KEY,
    time_zone                TEXT NOT NULL,
    consult_recording        INTEGER NOT NULL,
    recording_retention_days INTEGER NOT NULL,
    metadata_retention_days  INTEGER NOT NULL
);

CREATE TABLE calls (
    call_id               BLOB PRIMARY KEY,
    tenant_id             TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    start_us              INTEGER NOT NULL,
    access_point_number   TEXT NOT NULL,
    access_point_name     TEXT NOT NULL,
    caller_number         TEXT NOT NULL,
    time_before_answer_ms INTEGER NOT NULL,
    speak_time_ms         INTEGER NOT NULL,
    recording_ms          INTEGER NOT NULL,
    recording_count       INTEGER NOT NULL,
    live_recording_count  INTEGER NOT NULL,
    queues                TEXT NOT NULL,
    agents                TEXT NOT NULL,
    legal_hold            INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, session_id)
);
CREATE INDEX calls_by_start ON calls (tenant_id, start_us, call_id);
CREATE INDEX calls_by_access_point ON calls (tenant_id, access_point_number, start_us);
CREATE INDEX calls_by_caller ON calls (tenant_id, caller_number, start_us);

-- One row per (call, role, name): role 'agent', 'queue', or 'linked' (the
-- agents whose "My call recordings" list the call's recordings).
CREATE TABLE call_parties (
    call_id   BLOB NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    name      TEXT NOT NULL,
    start_us  INTEGER NOT NULL,
    PRIMARY KEY (call_id, role, name)
);
CREATE INDEX call_parties_by_name ON call_parties (tenant_id, role, name, start_us);

CREATE TABLE recordings (
    recording_id       BLOB PRIMARY KEY,
    call_id            BLOB NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    tenant_id          TEXT NOT NULL,
    nr                 INTEGER NOT NULL,
    mode               INTEGER NOT NULL,
    start_us           INTEGER NOT NULL,
    finish_us          INTEGER NOT NULL,
    segments           TEXT NOT NULL,
    owner_agent        TEXT,
    state              INTEGER NOT NULL,
    deleted_by_user_id TEXT,
    deleted_by_name    TEXT,
    deleted_at_us      INTEGER,
    UNIQUE (call_id, nr)
);
CREATE INDEX recordings_by_tenant_start ON recordings (tenant_id, start_us);

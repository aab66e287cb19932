-- Calls, their recordings and the parties used by search (PostgreSQL).
CREATE TABLE tenant_settings (
    tenant_id                TEXT PRIMARY KEY,
    time_zone                TEXT NOT NULL,
    consult_recording        BOOLEAN NOT NULL,
    recording_retention_days BIGINT NOT NULL,
    metadata_retention_days  BIGINT NOT NULL
);

CREATE TABLE calls (
    call_id               UUID PRIMARY KEY,
    tenant_id             TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    start_us              BIGINT NOT NULL,
    access_point_number   TEXT NOT NULL,
    access_point_name     TEXT NOT NULL,
    caller_number         TEXT NOT NULL,
    time_before_answer_ms BIGINT NOT NULL,
    speak_time_ms         BIGINT NOT NULL,
    recording_ms          BIGINT NOT NULL,
    recording_count       BIGINT NOT NULL,
    live_recording_count  BIGINT NOT NULL,
    queues                TEXT NOT NULL,
    agents                TEXT NOT NULL,
    legal_hold            BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (tenant_id, session_id)
);
CREATE INDEX calls_by_start ON calls (tenant_id, start_us, call_id);
CREATE INDEX calls_by_access_point ON calls (tenant_id, access_point_number, start_us);
CREATE INDEX calls_by_caller ON calls (tenant_id, caller_number, start_us);

-- One row per (call, role, name): role 'agent', 'queue', or 'linked' (the
-- agents whose "My call recordings" list the call's recordings).
CREATE TABLE call_parties (
    call_id   UUID NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    name      TEXT NOT NULL,
    start_us  BIGINT NOT NULL,
    PRIMARY KEY (call_id, role, name)
);
CREATE INDEX call_parties_by_name ON call_parties (tenant_id, role, name, start_us);

CREATE TABLE recordings (
    recording_id       UUID PRIMARY KEY,
    call_id            UUID NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    tenant_id          TEXT NOT NULL,
    nr                 BIGINT NOT NULL,
    mode               BIGINT NOT NULL,
    start_us           BIGINT NOT NULL,
    finish_us          BIGINT NOT NULL,
    segments           TEXT NOT NULL,
    owner_agent        TEXT,
    state              BIGINT NOT NULL,
    deleted_by_user_id TEXT,
    deleted_by_name    TEXT,
    deleted_at_us      BIGINT,
    UNIQUE (call_id, nr)
);
CREATE INDEX recordings_by_tenant_start ON recordings (tenant_id, start_us);

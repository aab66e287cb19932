-- The Archive Audit log: one hash chain per tenant.

-- The end of each tenant's chain; appends lock it (an IMMEDIATE transaction
-- on SQLite) so concurrent appends take consecutive sequences.
CREATE TABLE audit_chain_heads (
    tenant        TEXT   NOT NULL PRIMARY KEY,
    last_sequence BIGINT NOT NULL,
    last_hash     TEXT   NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit_events (
    tenant             TEXT    NOT NULL,
    sequence           BIGINT  NOT NULL,
    kind               INTEGER NOT NULL,
    actor_id           TEXT    NOT NULL,
    actor_display_name TEXT    NOT NULL,
    call_id            TEXT    NOT NULL,
    recording_id       TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    client_address     TEXT    NOT NULL,
    user_agent         TEXT    NOT NULL,
    -- microseconds since the Unix epoch
    event_time         BIGINT  NOT NULL,
    detail             TEXT    NOT NULL,
    previous_hash      TEXT    NOT NULL,
    hash               TEXT    NOT NULL,
    PRIMARY KEY (tenant, sequence)
) WITHOUT ROWID;

CREATE INDEX audit_events_by_actor ON audit_events (tenant, actor_id, sequence);
CREATE INDEX audit_events_by_recording ON audit_events (tenant, recording_id, sequence);
CREATE INDEX audit_events_by_kind ON audit_events (tenant, kind, sequence);
CREATE INDEX audit_events_by_time ON audit_events (tenant, event_time);

-- Append-only, enforced by the database itself.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

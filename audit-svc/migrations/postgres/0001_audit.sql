-- The Archive Audit log: one hash chain per tenant.

-- The end of each tenant's chain; appends lock its row (SELECT … FOR UPDATE)
-- so concurrent appends, from any replica, take consecutive sequences.
CREATE TABLE audit_chain_heads (
    tenant        TEXT   NOT NULL PRIMARY KEY,
    last_sequence BIGINT NOT NULL,
    last_hash     TEXT   NOT NULL
);

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
);

CREATE INDEX audit_events_by_actor ON audit_events (tenant, actor_id, sequence);
CREATE INDEX audit_events_by_recording ON audit_events (tenant, recording_id, sequence);
CREATE INDEX audit_events_by_kind ON audit_events (tenant, kind, sequence);
CREATE INDEX audit_events_by_time ON audit_events (tenant, event_time);

-- Append-only, enforced by the database itself: rows cannot be updated or
-- deleted and the table cannot be truncated, whoever asks.
CREATE FUNCTION audit_events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change();

-- Nothing beyond reading and appending is granted to anyone else.
REVOKE ALL ON audit_events FROM PUBLIC;
REVOKE ALL ON audit_chain_heads FROM PUBLIC;

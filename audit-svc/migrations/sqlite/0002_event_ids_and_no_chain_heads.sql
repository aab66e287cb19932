-- Event ids (an append whose event id is already in the tenant's trail
-- appends nothing), request ids, reason codes, case ids and the hash
-- version of each row (1: the rows written before these columns, hashed
-- without them; 2: every new row). Chain heads go: appends take the
-- database's write lock (BEGIN IMMEDIATE) and read the tenant's last event.

-- A chain head that disagrees with its tenant's events is the evidence that
-- the newest events were removed or changed; dropping it would destroy that
-- evidence, so the migration refuses (this CHECK fails) and the operator
-- investigates first (audit-verify on the database, with this release's
-- predecessor).
CREATE TABLE audit_migration_0002 (
    chain_heads_not_matching_their_last_event INTEGER NOT NULL
        CHECK (chain_heads_not_matching_their_last_event = 0)
);
INSERT INTO audit_migration_0002
SELECT (
    SELECT count(*) FROM audit_chain_heads h
    WHERE NOT EXISTS (
            SELECT 1 FROM audit_events e
            WHERE e.tenant = h.tenant AND e.sequence = h.last_sequence
              AND e.hash = h.last_hash)
       OR EXISTS (
            SELECT 1 FROM audit_events e
            WHERE e.tenant = h.tenant AND e.sequence > h.last_sequence)
) + (
    SELECT count(*) FROM audit_events e
    WHERE NOT EXISTS (SELECT 1 FROM audit_chain_heads h WHERE h.tenant = e.tenant)
);
DROP TABLE audit_migration_0002;

DROP TABLE audit_chain_heads;

ALTER TABLE audit_events ADD COLUMN event_id     TEXT    NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN request_id   TEXT    NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN reason_code  TEXT    NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN case_id      TEXT    NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;

-- At most once per tenant; rows from before event ids have none.
CREATE UNIQUE INDEX audit_events_by_event_id ON audit_events (tenant, event_id)
    WHERE event_id <> '';

-- ListEvents filters (exact match; most events have no reason code or case).
CREATE INDEX audit_events_by_call ON audit_events (tenant, call_id, sequence)
    WHERE call_id <> '';
CREATE INDEX audit_events_by_reason_code ON audit_events (tenant, reason_code, sequence)
    WHERE reason_code <> '';
CREATE INDEX audit_events_by_case ON audit_events (tenant, case_id, sequence)
    WHERE case_id <> '';
CREATE INDEX audit_events_by_request ON audit_events (tenant, request_id, sequence)
    WHERE request_id <> '';

-- Event ids (an append whose event id is already in the tenant's trail
-- appends nothing), request ids, reason codes, case ids and the hash
-- version of each row (1: the rows written before these columns, hashed
-- without them; 2: every new row). Chain heads go: appends lock the tenant
-- with pg_advisory_xact_lock and read its last event, so the runtime role
-- needs nothing beyond SELECT and INSERT on audit_events.

-- A chain head that disagrees with its tenant's events is the evidence that
-- the newest events were removed or changed; dropping it would destroy that
-- evidence, so the migration refuses and the operator investigates first
-- (audit-verify on the database, with this release's predecessor).
DO $$
DECLARE
    bad TEXT;
BEGIN
    SELECT h.tenant INTO bad
    FROM audit_chain_heads h
    WHERE NOT EXISTS (
            SELECT 1 FROM audit_events e
            WHERE e.tenant = h.tenant AND e.sequence = h.last_sequence
              AND e.hash = h.last_hash)
       OR EXISTS (
            SELECT 1 FROM audit_events e
            WHERE e.tenant = h.tenant AND e.sequence > h.last_sequence)
    LIMIT 1;
    IF bad IS NULL THEN
        SELECT e.tenant INTO bad
        FROM audit_events e
        WHERE NOT EXISTS (SELECT 1 FROM audit_chain_heads h WHERE h.tenant = e.tenant)
        LIMIT 1;
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'audit chain head of tenant % does not match its last event: '
            'refusing to drop audit_chain_heads (verify the trail first)', bad;
    END IF;
END
$$;

DROP TABLE audit_chain_heads;

ALTER TABLE audit_events
    ADD COLUMN event_id     TEXT     NOT NULL DEFAULT '',
    ADD COLUMN request_id   TEXT     NOT NULL DEFAULT '',
    ADD COLUMN reason_code  TEXT     NOT NULL DEFAULT '',
    ADD COLUMN case_id      TEXT     NOT NULL DEFAULT '',
    ADD COLUMN hash_version SMALLINT NOT NULL DEFAULT 1;

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

-- The outbox of recording files to delete from media-svc: written in the same
-- transaction as the deletion marker or the expiry, drained until media-svc
-- confirms, so a crash between the steps never leaves a playable file forever.
CREATE TABLE media_deletions (
    recording_id    BLOB PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    cause           TEXT NOT NULL,
    requested_at_us INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX media_deletions_due ON media_deletions (next_attempt_us);
CREATE INDEX recordings_by_state_start ON recordings (tenant_id, state, start_us);

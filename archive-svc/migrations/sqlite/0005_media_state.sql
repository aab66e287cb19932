-- Whether each recording's file has arrived at media-svc (model::MediaState):
-- 1 pending (ingested, no stored upload reported: "not available yet"),
-- 2 stored (media-svc reported it, with what it measured), 3 unverified.
-- Rows from before this migration are unverified: playable as before until
-- archive-svc's media check asks media-svc (media_check.rs), which turns them
-- stored or pending. No row is rewritten here (a constant default).
ALTER TABLE recordings ADD COLUMN media_state INTEGER NOT NULL DEFAULT 3;
-- When the recording was ingested; NULL for rows older than this migration.
ALTER TABLE recordings ADD COLUMN ingested_at_us INTEGER;
ALTER TABLE recordings ADD COLUMN media_size_bytes INTEGER;
ALTER TABLE recordings ADD COLUMN media_duration_us INTEGER;
ALTER TABLE recordings ADD COLUMN media_sha256 TEXT;
ALTER TABLE recordings ADD COLUMN media_stored_at_us INTEGER;
-- ListPendingRecordings: a tenant's available recordings whose file never
-- arrived, oldest ingest first. Partial: stored files (nearly all) are not in it.
CREATE INDEX recordings_media_pending ON recordings (tenant_id, ingested_at_us, recording_id)
    WHERE media_state = 1 AND state = 1;

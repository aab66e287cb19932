-- Which actions a user whose require_reason is on gives a reason for
-- (TenantSettings.reason_actions); all three before this migration.
ALTER TABLE tenant_settings ADD COLUMN reason_play INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tenant_settings ADD COLUMN reason_download INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tenant_settings ADD COLUMN reason_delete INTEGER NOT NULL DEFAULT 1;

-- Which actions a user whose require_reason is on gives a reason for
-- (TenantSettings.reason_actions); all three before this migration.
ALTER TABLE tenant_settings ADD COLUMN reason_play BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE tenant_settings ADD COLUMN reason_download BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE tenant_settings ADD COLUMN reason_delete BOOLEAN NOT NULL DEFAULT TRUE;

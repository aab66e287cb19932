-- Partial caller-number search within one tenant: the tenant and the trigrams
-- in one GIN index (btree_gin), so a large tenant's neighbours do not crowd the
-- bitmap and a small tenant's search stays small.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX calls_tenant_caller_trigram ON calls USING gin (tenant_id, caller_number gin_trgm_ops);
DROP INDEX calls_caller_trigram;

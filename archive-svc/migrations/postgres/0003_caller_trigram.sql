-- Partial caller-number search ("contains") through a trigram index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX calls_caller_trigram ON calls USING gin (caller_number gin_trgm_ops);

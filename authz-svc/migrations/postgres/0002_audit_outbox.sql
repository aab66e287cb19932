-- The audit outbox (audit_svc::outbox): every change's audit event, written in
-- the change's own transaction and deleted once audit-svc acknowledged it.
CREATE TABLE audit_outbox (
    seq             BIGSERIAL PRIMARY KEY,
    tenant          TEXT NOT NULL,
    -- A prost-encoded archive.v1.AuditEvent.
    event           BYTEA NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_us BIGINT NOT NULL,
    last_error      TEXT
);
-- Due first; and a tenant's earlier rows that are backing off.
CREATE INDEX audit_outbox_due ON audit_outbox (next_attempt_us, seq);
CREATE INDEX audit_outbox_tenant ON audit_outbox (tenant, seq);

-- The audit outbox (audit_svc::outbox): every change's audit event, written in
-- the change's own transaction and deleted once audit-svc acknowledged it.
CREATE TABLE audit_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT NOT NULL,
    -- A prost-encoded archive.v1.AuditEvent.
    event           BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    last_error      TEXT
);
-- Due first; and a tenant's earlier rows that are backing off.
CREATE INDEX audit_outbox_due ON audit_outbox (next_attempt_us, seq);
CREATE INDEX audit_outbox_tenant ON audit_outbox (tenant, seq);

-- Settings the audit trail and the reason prompt use.
ALTER TABLE tenant_settings ADD COLUMN search_audit_disabled INTEGER NOT NULL DEFAULT 0;
-- JSON: [{"code": "QA", "label": "Quality review"}, …]
ALTER TABLE tenant_settings ADD COLUMN reason_codes TEXT NOT NULL DEFAULT '[]';

//! The events of tenant changes, each in the affected tenant's own trail
//! (its users' auditors see who suspended them, and when): what each says
//! (before → after) and its id. Tenant changes are TENANT_SETTINGS_CHANGED
//! events: whether a tenant is served is the first of its settings.
//!
//! Like user changes, a tenant change has no natural identity, so each
//! event gets a fresh id when its row is written; a retried request
//! changes nothing the second time and writes no second event.

use archive_proto::v1::{AuditEvent, AuditEventKind};
use audit_svc::outbox::{Change, bounded_detail};

use crate::tenants::Tenant;

fn event(change: &Change, detail: String) -> AuditEvent {
    let mut e = change.event(
        AuditEventKind::TenantSettingsChanged,
        format!("tenant-changed:{}", uuid::Uuid::new_v4()),
    );
    e.detail = bounded_detail(detail);
    e
}

pub(crate) fn created(change: &Change, tenant: &Tenant) -> AuditEvent {
    event(
        change,
        format!(
            "created tenant {} ({}): state none -> {}",
            tenant.tenant_id,
            tenant.display_name,
            tenant.state.as_str()
        ),
    )
}

pub(crate) fn state_changed(change: &Change, before: &Tenant, after: &Tenant) -> AuditEvent {
    event(
        change,
        format!(
            "tenant {} ({}): state {} -> {}",
            after.tenant_id,
            after.display_name,
            before.state.as_str(),
            after.state.as_str()
        ),
    )
}

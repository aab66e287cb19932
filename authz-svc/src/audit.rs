//! The PERMISSION_CHANGED events of user changes: what each says (before →
//! after) and its id. The store writes them to its audit outbox in the
//! change's own transaction (`audit_svc::outbox`); the relay delivers them.
//!
//! A user change has no natural identity to derive an event id from (the
//! same rights can be granted again tomorrow), so each event gets a fresh id
//! when its row is written: the row is delivered under that id however often
//! it is redelivered, and a retried request changes nothing the second time
//! (the user exists, is gone, or already has those rights), so it writes no
//! second event.

use archive_proto::v1::{AuditEvent, AuditEventKind};
use audit_svc::outbox::{Change, bounded_detail};

use crate::model::{self, User, UserSpec};

fn event(change: &Change, detail: String) -> AuditEvent {
    let mut e = change.event(
        AuditEventKind::PermissionChanged,
        format!("permission-changed:{}", uuid::Uuid::new_v4()),
    );
    e.detail = bounded_detail(detail);
    e
}

pub(crate) fn created(change: &Change, user: &UserSpec) -> AuditEvent {
    event(
        change,
        format!(
            "created user {} ({}), agent {:?}, permissions: none -> {}",
            user.user_id,
            user.display_name,
            user.agent_name,
            model::describe(&user.permissions)
        ),
    )
}

/// `None` when the update changes nothing.
pub(crate) fn updated(change: &Change, before: &User, after: &UserSpec) -> Option<AuditEvent> {
    if before.display_name == after.display_name
        && before.agent_name == after.agent_name
        && before.permissions == after.permissions
    {
        return None;
    }
    Some(event(
        change,
        format!(
            "updated user {}: display name {:?} -> {:?}, agent {:?} -> {:?}, permissions: {} -> {}",
            after.user_id,
            before.display_name,
            after.display_name,
            before.agent_name,
            after.agent_name,
            model::describe(&before.permissions),
            model::describe(&after.permissions)
        ),
    ))
}

pub(crate) fn deleted(change: &Change, before: &User) -> AuditEvent {
    event(
        change,
        format!(
            "deleted user {} ({}), permissions: {} -> none",
            before.user_id,
            before.display_name,
            model::describe(&before.permissions)
        ),
    )
}

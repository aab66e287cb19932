//! The PERMISSION_CHANGED events of user and role changes: what each says (before →
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

use crate::{
    model::{User, UserSpec},
    role::{self, Role, RoleSpec},
};

/// A user's grants in words: rights and scopes, roles, and disabled.
fn grants(
    permissions: &crate::model::Permissions,
    scopes: &crate::scope::Scopes,
    roles: &[String],
    disabled: bool,
) -> String {
    let mut words = role::describe(permissions, scopes);
    if !roles.is_empty() {
        words.push_str(&format!("; roles {}", roles.join(",")));
    }
    if disabled {
        words.push_str("; disabled");
    }
    words
}

fn user_grants(u: &User) -> String {
    grants(&u.permissions, &u.scopes, &u.roles, u.disabled)
}

fn spec_grants(u: &UserSpec) -> String {
    grants(&u.permissions, &u.scopes, &u.roles, u.disabled)
}

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
            spec_grants(user)
        ),
    )
}

/// `None` when the update changes nothing.
pub(crate) fn updated(change: &Change, before: &User, after: &UserSpec) -> Option<AuditEvent> {
    if before.display_name == after.display_name
        && before.agent_name == after.agent_name
        && before.permissions == after.permissions
        && before.scopes == after.scopes
        && before.roles == after.roles
        && before.disabled == after.disabled
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
            user_grants(before),
            spec_grants(after)
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
            user_grants(before)
        ),
    )
}

pub(crate) fn role_created(change: &Change, r: &RoleSpec) -> AuditEvent {
    event(
        change,
        format!(
            "created role {} ({}): none -> {}",
            r.role_id,
            r.display_name,
            role::describe(&r.permissions, &r.scopes)
        ),
    )
}

/// `None` when the update changes nothing.
pub(crate) fn role_updated(change: &Change, before: &Role, after: &RoleSpec) -> Option<AuditEvent> {
    if before.display_name == after.display_name
        && before.permissions == after.permissions
        && before.scopes == after.scopes
    {
        return None;
    }
    Some(event(
        change,
        format!(
            "updated role {}: display name {:?} -> {:?}, {} -> {}",
            after.role_id,
            before.display_name,
            after.display_name,
            role::describe(&before.permissions, &before.scopes),
            role::describe(&after.permissions, &after.scopes)
        ),
    ))
}

pub(crate) fn role_deleted(change: &Change, before: &Role) -> AuditEvent {
    event(
        change,
        format!(
            "deleted role {} ({}): {} -> none",
            before.role_id,
            before.display_name,
            role::describe(&before.permissions, &before.scopes)
        ),
    )
}

//! The admin resources as the JSON API writes and reads them: the contract's
//! messages field for field (so a refused field's path, e.g.
//! `user.scopes.play.queues[0]`, names the same place in both), with
//! output-only fields ignored on the way in.

use archive_proto::v1 as pb;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rows::time;

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Permissions {
    play_recordings: bool,
    download_recordings: bool,
    delete_recordings: bool,
    require_reason: bool,
    view_audit_log: bool,
    admin: bool,
}

impl From<Permissions> for pb::Permissions {
    fn from(p: Permissions) -> Self {
        Self {
            play_recordings: p.play_recordings,
            download_recordings: p.download_recordings,
            delete_recordings: p.delete_recordings,
            require_reason: p.require_reason,
            view_audit_log: p.view_audit_log,
            admin: p.admin,
        }
    }
}

impl From<pb::Permissions> for Permissions {
    fn from(p: pb::Permissions) -> Self {
        Self {
            play_recordings: p.play_recordings,
            download_recordings: p.download_recordings,
            delete_recordings: p.delete_recordings,
            require_reason: p.require_reason,
            view_audit_log: p.view_audit_log,
            admin: p.admin,
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Scope {
    all_calls: bool,
    own_calls: bool,
    queues: Vec<String>,
    access_points: Vec<String>,
}

impl From<Scope> for pb::Scope {
    fn from(s: Scope) -> Self {
        Self {
            all_calls: s.all_calls,
            own_calls: s.own_calls,
            queues: s.queues,
            access_points: s.access_points,
        }
    }
}

impl From<pb::Scope> for Scope {
    fn from(s: pb::Scope) -> Self {
        Self {
            all_calls: s.all_calls,
            own_calls: s.own_calls,
            queues: s.queues,
            access_points: s.access_points,
        }
    }
}

/// A scope per right; a right left out (or `null`) reaches every call.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Scopes {
    search: Option<Scope>,
    play: Option<Scope>,
    download: Option<Scope>,
    delete: Option<Scope>,
    view_audit: Option<Scope>,
}

impl From<Scopes> for pb::Scopes {
    fn from(s: Scopes) -> Self {
        Self {
            search: s.search.map(Into::into),
            play: s.play.map(Into::into),
            download: s.download.map(Into::into),
            delete: s.delete.map(Into::into),
            view_audit: s.view_audit.map(Into::into),
        }
    }
}

impl From<pb::Scopes> for Scopes {
    fn from(s: pb::Scopes) -> Self {
        Self {
            search: s.search.map(Into::into),
            play: s.play.map(Into::into),
            download: s.download.map(Into::into),
            delete: s.delete.map(Into::into),
            view_audit: s.view_audit.map(Into::into),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct User {
    user_id: String,
    display_name: String,
    agent_name: String,
    permissions: Permissions,
    scopes: Option<Scopes>,
    roles: Vec<String>,
    disabled: bool,
    // Output only.
    #[serde(skip_deserializing)]
    effective_permissions: Option<Permissions>,
    #[serde(skip_deserializing)]
    effective_scopes: Option<Scopes>,
    #[serde(skip_deserializing)]
    create_time: Option<DateTime<Utc>>,
    #[serde(skip_deserializing)]
    update_time: Option<DateTime<Utc>>,
}

impl User {
    /// The user a route's path names, whatever the body says.
    pub(super) fn with_id(self, user_id: String) -> Self {
        Self { user_id, ..self }
    }
}

impl From<User> for pb::User {
    fn from(u: User) -> Self {
        Self {
            user_id: u.user_id,
            display_name: u.display_name,
            agent_name: u.agent_name,
            permissions: Some(u.permissions.into()),
            scopes: u.scopes.map(Into::into),
            roles: u.roles,
            disabled: u.disabled,
            ..Default::default()
        }
    }
}

impl From<pb::User> for User {
    fn from(u: pb::User) -> Self {
        Self {
            create_time: time(u.create_time.as_ref()),
            update_time: time(u.update_time.as_ref()),
            user_id: u.user_id,
            display_name: u.display_name,
            agent_name: u.agent_name,
            permissions: u.permissions.unwrap_or_default().into(),
            scopes: u.scopes.map(Into::into),
            roles: u.roles,
            disabled: u.disabled,
            effective_permissions: u.effective_permissions.map(Into::into),
            effective_scopes: u.effective_scopes.map(Into::into),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Role {
    role_id: String,
    display_name: String,
    permissions: Permissions,
    scopes: Option<Scopes>,
    // Output only.
    #[serde(skip_deserializing)]
    built_in: bool,
    #[serde(skip_deserializing)]
    create_time: Option<DateTime<Utc>>,
    #[serde(skip_deserializing)]
    update_time: Option<DateTime<Utc>>,
}

impl Role {
    /// The role a route's path names, whatever the body says.
    pub(super) fn with_id(self, role_id: String) -> Self {
        Self { role_id, ..self }
    }
}

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        Self {
            role_id: r.role_id,
            display_name: r.display_name,
            permissions: Some(r.permissions.into()),
            scopes: r.scopes.map(Into::into),
            ..Default::default()
        }
    }
}

impl From<pb::Role> for Role {
    fn from(r: pb::Role) -> Self {
        Self {
            create_time: time(r.create_time.as_ref()),
            update_time: time(r.update_time.as_ref()),
            role_id: r.role_id,
            display_name: r.display_name,
            permissions: r.permissions.unwrap_or_default().into(),
            scopes: r.scopes.map(Into::into),
            built_in: r.built_in,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ReasonCode {
    code: String,
    label: String,
}

/// The actions a reason is asked for; left out: all three.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct ReasonActions {
    play: bool,
    download: bool,
    delete: bool,
}

impl Default for ReasonActions {
    fn default() -> Self {
        Self {
            play: true,
            download: true,
            delete: true,
        }
    }
}

/// Every field must be given (a settings update replaces them all), but
/// `reason_codes` and `reason_actions`, whose absence means none / all three.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TenantSettings {
    time_zone: String,
    consult_recording: bool,
    recording_retention_days: u32,
    metadata_retention_days: u32,
    #[serde(default)]
    search_audit_disabled: bool,
    #[serde(default)]
    reason_codes: Vec<ReasonCode>,
    #[serde(default)]
    reason_actions: ReasonActions,
}

impl From<TenantSettings> for pb::TenantSettings {
    fn from(s: TenantSettings) -> Self {
        Self {
            time_zone: s.time_zone,
            consult_recording: s.consult_recording,
            recording_retention_days: s.recording_retention_days,
            metadata_retention_days: s.metadata_retention_days,
            search_audit_disabled: s.search_audit_disabled,
            reason_codes: s
                .reason_codes
                .into_iter()
                .map(|c| pb::ReasonCode {
                    code: c.code,
                    label: c.label,
                })
                .collect(),
            reason_actions: Some(pb::ReasonActions {
                play: s.reason_actions.play,
                download: s.reason_actions.download,
                delete: s.reason_actions.delete,
            }),
        }
    }
}

impl From<pb::TenantSettings> for TenantSettings {
    fn from(s: pb::TenantSettings) -> Self {
        Self {
            time_zone: s.time_zone,
            consult_recording: s.consult_recording,
            recording_retention_days: s.recording_retention_days,
            metadata_retention_days: s.metadata_retention_days,
            search_audit_disabled: s.search_audit_disabled,
            reason_codes: s
                .reason_codes
                .into_iter()
                .map(|c| ReasonCode {
                    code: c.code,
                    label: c.label,
                })
                .collect(),
            reason_actions: s
                .reason_actions
                .map(|a| ReasonActions {
                    play: a.play,
                    download: a.download,
                    delete: a.delete,
                })
                .unwrap_or_default(),
        }
    }
}

/// A held call as the Legal holds screen lists it.
#[derive(Debug, Serialize)]
pub(super) struct HeldCall {
    call_id: String,
    session_id: String,
    start_time: Option<DateTime<Utc>>,
    /// `dd.mm.yyyy HH:MM` in the tenant's time zone.
    start: String,
    access_point: String,
    caller_number: String,
    queues: Vec<String>,
    agents: Vec<String>,
    legal_hold: bool,
}

impl HeldCall {
    pub(super) fn of(c: pb::Call, tz: chrono_tz::Tz) -> Self {
        let start_time = time(c.start_time.as_ref());
        let ap = c.access_point.unwrap_or_default();
        Self {
            call_id: c.call_id,
            session_id: c.session_id,
            start: start_time
                .map(|at| crate::format::start(at, tz))
                .unwrap_or_default(),
            start_time,
            access_point: crate::format::access_point(&ap.number, &ap.name),
            caller_number: c.caller_number,
            queues: c.queues,
            agents: c.agents,
            legal_hold: c.legal_hold,
        }
    }
}

//! The user record and its validation: what a proto `User` must look like to
//! be stored, and how a stored user is answered.

use archive_common::{FieldViolation, convert, error::check_text};
use archive_proto::v1 as pb;
use chrono::{DateTime, Utc};

use crate::{
    grant::Grant,
    role::check_role_ids,
    scope::{self, Right, Scopes},
};

pub const USER_ID_MAX: usize = 64;
pub const DISPLAY_NAME_MAX: usize = 200;
pub const AGENT_NAME_MAX: usize = 200;

/// The seed's recording properties plus audit and admin rights: the
/// contract's own message.
pub use pb::Permissions;

/// Everything, for bootstrap admins.
pub const ALL_PERMISSIONS: Permissions = Permissions {
    play_recordings: true,
    download_recordings: true,
    delete_recordings: true,
    require_reason: false,
    view_audit_log: true,
    admin: true,
};

/// A validated user as a request asks it to be (ids and names, not times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub user_id: String,
    pub display_name: String,
    pub agent_name: String,
    pub permissions: Permissions,
    pub scopes: Scopes,
    pub roles: Vec<String>,
    pub disabled: bool,
}

impl UserSpec {
    /// A user with `permissions` over every call, no roles, enabled.
    pub fn new(
        user_id: &str,
        display_name: &str,
        agent_name: &str,
        permissions: Permissions,
    ) -> Self {
        Self {
            user_id: user_id.to_owned(),
            display_name: display_name.to_owned(),
            agent_name: agent_name.to_owned(),
            permissions,
            scopes: Scopes::default(),
            roles: Vec::new(),
            disabled: false,
        }
    }
}

/// A stored user of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: String,
    pub display_name: String,
    pub agent_name: String,
    pub permissions: Permissions,
    pub scopes: Scopes,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// `1..=64` characters of `[A-Za-z0-9._@-]`.
pub fn check_user_id(value: &str, field: &str) -> Result<(), FieldViolation> {
    if value.is_empty() || value.len() > USER_ID_MAX {
        return Err(FieldViolation::new(
            field,
            format!("must be 1 to {USER_ID_MAX} characters"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
    {
        return Err(FieldViolation::new(
            field,
            "may only contain letters, digits and . _ @ -",
        ));
    }
    Ok(())
}

pub fn check_display_name(value: &str, field: &str) -> Result<(), FieldViolation> {
    if value.trim().is_empty() {
        return Err(FieldViolation::new(field, "must not be blank"));
    }
    check_text(value, field, DISPLAY_NAME_MAX)
}

/// Reads the `user` field of a create/update request. Field names in errors
/// are relative to the request (`user.user_id`). Missing permissions mean
/// "none": a new user gets no rights unless they are granted.
impl TryFrom<pb::User> for UserSpec {
    type Error = FieldViolation;

    fn try_from(u: pb::User) -> Result<Self, Self::Error> {
        check_user_id(&u.user_id, "user.user_id")?;
        check_display_name(&u.display_name, "user.display_name")?;
        check_text(&u.agent_name, "user.agent_name", AGENT_NAME_MAX)?;
        let permissions = u.permissions.unwrap_or_default();
        let scopes = scope::checked(u.scopes.unwrap_or_default(), &permissions, "user.scopes")?;
        let own_scoped = Right::ALL
            .into_iter()
            .any(|r| r.scope_in(&scopes).is_some_and(|s| s.own_calls));
        if own_scoped && u.agent_name.trim().is_empty() {
            return Err(FieldViolation::new(
                "user.agent_name",
                "is needed for an \"own calls\" scope: it names the agent whose calls are the user's",
            ));
        }
        Ok(Self {
            user_id: u.user_id,
            display_name: u.display_name,
            agent_name: u.agent_name,
            permissions,
            scopes,
            roles: check_role_ids(u.roles, "user.roles")?,
            disabled: u.disabled,
        })
    }
}

impl User {
    /// Andreas Wallin (an agent) with these grants, for unit tests.
    #[cfg(test)]
    pub(crate) fn agent_for_tests(
        permissions: Permissions,
        scopes: Scopes,
        roles: &[&str],
    ) -> Self {
        Self {
            user_id: "andreas".into(),
            display_name: "Andreas Wallin".into(),
            agent_name: "Andreas Wallin".into(),
            permissions,
            scopes,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            disabled: false,
            create_time: DateTime::UNIX_EPOCH,
            update_time: DateTime::UNIX_EPOCH,
        }
    }

    /// The user as answered, with the rights they have with the roles they
    /// hold among the built-in ones and the tenant's `own`.
    pub fn answered(self, own: &[crate::role::Role]) -> pb::User {
        let grant = Grant::of(&self, &crate::role::held(&self.roles, own));
        self.into_proto(&grant)
    }

    /// The user as answered, with their effective rights (`grant`, which
    /// [`Grant::of`] made from this user and their roles).
    pub fn into_proto(self, grant: &Grant) -> pb::User {
        pb::User {
            user_id: self.user_id,
            display_name: self.display_name,
            agent_name: self.agent_name,
            permissions: Some(self.permissions),
            create_time: Some(convert::timestamp(self.create_time)),
            update_time: Some(convert::timestamp(self.update_time)),
            scopes: Some(self.scopes),
            roles: self.roles,
            disabled: self.disabled,
            effective_permissions: Some(grant.permissions()),
            effective_scopes: Some(grant.scopes()),
        }
    }
}

/// The granted rights as a short list, for audit details.
pub fn describe(p: &Permissions) -> String {
    let names = [
        (p.play_recordings, "play"),
        (p.download_recordings, "download"),
        (p.delete_recordings, "delete"),
        (p.require_reason, "require_reason"),
        (p.view_audit_log, "view_audit_log"),
        (p.admin, "admin"),
    ];
    let granted: Vec<&str> = names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    if granted.is_empty() {
        "none".to_owned()
    } else {
        granted.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto_user(id: &str, name: &str) -> pb::User {
        pb::User {
            user_id: id.into(),
            display_name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn user_ids_are_checked() {
        for good in ["paal", "a.b_c@d-e", "X9", &"x".repeat(64)] {
            assert!(check_user_id(good, "user_id").is_ok(), "{good}");
        }
        for bad in ["", "with space", "slash/", "ø", &"x".repeat(65)] {
            assert_eq!(
                check_user_id(bad, "user_id").unwrap_err().field,
                "user_id",
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let e = UserSpec::try_from(proto_user("bad id", "Paal")).unwrap_err();
        assert_eq!(e.field, "user.user_id");
        let e = UserSpec::try_from(proto_user("paal", "  ")).unwrap_err();
        assert_eq!(e.field, "user.display_name");
        let e = UserSpec::try_from(proto_user("paal", "Paal\nAdmin")).unwrap_err();
        assert_eq!(e.field, "user.display_name");
        let e = UserSpec::try_from(proto_user("paal", &"n".repeat(201))).unwrap_err();
        assert_eq!(e.field, "user.display_name");
        let mut u = proto_user("paal", "Paal");
        u.agent_name = "a\u{0}".into();
        assert_eq!(UserSpec::try_from(u).unwrap_err().field, "user.agent_name");
    }

    #[test]
    fn missing_permissions_grant_nothing() {
        let spec = UserSpec::try_from(proto_user("ola", "Ola")).unwrap();
        assert_eq!(spec.permissions, Permissions::default());
        assert_eq!(describe(&spec.permissions), "none");
        assert_eq!(
            describe(&ALL_PERMISSIONS),
            "play,download,delete,view_audit_log,admin"
        );
    }
}

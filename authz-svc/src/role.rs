//! Roles: named sets of rights and scopes. The product's four (admin,
//! supervisor, agent, auditor) are built in and read-only; a tenant adds its
//! own. What a proto `Role` must look like to be stored, and how one is
//! answered.

use archive_common::{FieldViolation, convert};
use archive_proto::v1 as pb;
use chrono::{DateTime, Utc};

use crate::{
    model::{ALL_PERMISSIONS, Permissions, check_display_name},
    scope::{self, Scope, Scopes},
};

pub const ROLE_ID_MAX: usize = 64;
/// Roles one user may hold at most.
pub const MAX_ROLES_PER_USER: usize = 20;

/// A validated role as a request asks it to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    pub role_id: String,
    pub display_name: String,
    pub permissions: Permissions,
    pub scopes: Scopes,
}

/// A role as stored (or built in: then its times are the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub role_id: String,
    pub display_name: String,
    pub permissions: Permissions,
    pub scopes: Scopes,
    pub built_in: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// The built-in role ids, in the order they are listed.
pub const BUILT_IN: [&str; 4] = ["admin", "supervisor", "agent", "auditor"];

/// A built-in role by id.
pub fn built_in(role_id: &str) -> Option<Role> {
    let own = || Scope {
        own_calls: true,
        ..Scope::default()
    };
    let (name, permissions, scopes) = match role_id {
        "admin" => ("Admin", ALL_PERMISSIONS, Scopes::default()),
        "supervisor" => (
            "Supervisor",
            Permissions {
                play_recordings: true,
                download_recordings: true,
                view_audit_log: true,
                ..Permissions::default()
            },
            Scopes::default(),
        ),
        "agent" => (
            "Agent",
            Permissions {
                play_recordings: true,
                ..Permissions::default()
            },
            Scopes {
                search: Some(own()),
                play: Some(own()),
                ..Scopes::default()
            },
        ),
        "auditor" => (
            "Auditor",
            Permissions {
                view_audit_log: true,
                ..Permissions::default()
            },
            Scopes::default(),
        ),
        _ => return None,
    };
    Some(Role {
        role_id: role_id.to_owned(),
        display_name: name.to_owned(),
        permissions,
        scopes,
        built_in: true,
        create_time: DateTime::UNIX_EPOCH,
        update_time: DateTime::UNIX_EPOCH,
    })
}

/// The roles among `ids` that exist: built in, or among the tenant's `own`
/// (a role deleted meanwhile is left out, so it grants nothing).
pub fn held(ids: &[String], own: &[Role]) -> Vec<Role> {
    ids.iter()
        .filter_map(|id| built_in(id).or_else(|| own.iter().find(|r| &r.role_id == id).cloned()))
        .collect()
}

/// `1..=64` characters of `[a-z0-9_-]`.
pub fn check_role_id(value: &str, field: &str) -> Result<(), FieldViolation> {
    if value.is_empty() || value.len() > ROLE_ID_MAX {
        return Err(FieldViolation::new(
            field,
            format!("must be 1 to {ROLE_ID_MAX} characters"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
    {
        return Err(FieldViolation::new(
            field,
            "may only contain lower-case letters, digits, _ and -",
        ));
    }
    Ok(())
}

/// A user's role list: valid ids, each once, at most [`MAX_ROLES_PER_USER`].
/// Whether each exists is the service's check (it needs the store).
pub fn check_role_ids(roles: Vec<String>, field: &str) -> Result<Vec<String>, FieldViolation> {
    if roles.len() > MAX_ROLES_PER_USER {
        return Err(FieldViolation::new(
            field,
            format!("may hold at most {MAX_ROLES_PER_USER} roles"),
        ));
    }
    let mut seen = Vec::with_capacity(roles.len());
    for (i, id) in roles.into_iter().enumerate() {
        check_role_id(&id, &format!("{field}[{i}]"))?;
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    Ok(seen)
}

impl TryFrom<pb::Role> for RoleSpec {
    type Error = FieldViolation;

    fn try_from(r: pb::Role) -> Result<Self, Self::Error> {
        check_role_id(&r.role_id, "role.role_id")?;
        check_display_name(&r.display_name, "role.display_name")?;
        let permissions = r.permissions.unwrap_or_default();
        let scopes = scope::checked(r.scopes.unwrap_or_default(), &permissions, "role.scopes")?;
        Ok(Self {
            role_id: r.role_id,
            display_name: r.display_name,
            permissions,
            scopes,
        })
    }
}

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        Self {
            role_id: r.role_id,
            display_name: r.display_name,
            permissions: Some(r.permissions),
            scopes: Some(r.scopes),
            built_in: r.built_in,
            create_time: Some(convert::timestamp(r.create_time)),
            update_time: Some(convert::timestamp(r.update_time)),
        }
    }
}

/// The role's rights and scopes in words, for audit details.
pub fn describe(permissions: &Permissions, scopes: &Scopes) -> String {
    let mut words = crate::model::describe(permissions);
    for right in scope::Right::ALL {
        if let Some(s) = right.scope_in(scopes) {
            words.push_str(&format!("; {}: {}", right.field(), scope::describe(s)));
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roles_exist_and_others_do_not() {
        for id in BUILT_IN {
            let role = built_in(id).unwrap();
            assert!(role.built_in);
            assert_eq!(role.role_id, id);
        }
        assert!(built_in("boss").is_none());
        let agent = built_in("agent").unwrap();
        assert!(agent.scopes.play.unwrap().own_calls);
    }

    #[test]
    fn bad_roles_name_their_field() {
        let role = |id: &str, name: &str| pb::Role {
            role_id: id.into(),
            display_name: name.into(),
            ..Default::default()
        };
        assert_eq!(
            RoleSpec::try_from(role("Team A", "A")).unwrap_err().field,
            "role.role_id"
        );
        assert_eq!(
            RoleSpec::try_from(role("team-a", " ")).unwrap_err().field,
            "role.display_name"
        );
        assert!(RoleSpec::try_from(role("team-a", "Team A")).is_ok());
        let e = check_role_ids(vec!["agent".into(), "Bad".into()], "user.roles").unwrap_err();
        assert_eq!(e.field, "user.roles[1]");
        assert_eq!(
            check_role_ids(vec!["agent".into(), "agent".into()], "user.roles").unwrap(),
            ["agent"]
        );
    }
}

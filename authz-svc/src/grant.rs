//! A user's effective rights: what they were granted directly united with
//! what their roles grant. A right is granted when any source grants it,
//! over the union of the scopes of the sources that grant it; a reason is
//! required when the user or any of their roles requires one. This is what
//! decisions read (and the decision cache keeps).

use archive_proto::v1 as pb;

use crate::{
    model::{Permissions, User},
    role::Role,
    scope::{self, Right, Scope, Scopes},
};

/// One user's rights, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The agent whose calls are the user's own (empty: not an agent).
    pub agent_name: String,
    pub disabled: bool,
    pub admin: bool,
    pub require_reason: bool,
    /// Each scoped right's reach, in [`Right::ALL`] order; `None`: not granted.
    reach: [Option<Scope>; 5],
}

/// One source of rights: the user's own grants, or a role's.
struct Source<'a> {
    permissions: &'a Permissions,
    scopes: Option<&'a Scopes>,
    /// Whether the source grants searching where its scope says (a user's
    /// own unset search scope defers to their roles when they hold any).
    searches: bool,
}

impl Grant {
    /// `user`'s rights with `roles`, the roles they hold (unknown role ids
    /// already left out: a role deleted meanwhile grants nothing).
    pub fn of(user: &User, roles: &[Role]) -> Self {
        let own = Source {
            permissions: &user.permissions,
            scopes: Some(&user.scopes),
            searches: user.scopes.search.is_some() || user.roles.is_empty(),
        };
        let sources = std::iter::once(own).chain(roles.iter().map(|r| Source {
            permissions: &r.permissions,
            scopes: Some(&r.scopes),
            searches: true,
        }));
        let mut grant = Grant {
            agent_name: user.agent_name.clone(),
            disabled: user.disabled,
            admin: false,
            require_reason: false,
            reach: Default::default(),
        };
        for source in sources {
            let p = source.permissions;
            grant.admin |= p.admin;
            grant.require_reason |= p.require_reason;
            for (i, right) in Right::ALL.into_iter().enumerate() {
                let grants = if right == Right::Search {
                    source.searches
                } else {
                    right.granted_by(p)
                };
                if !grants {
                    continue;
                }
                let scope = source
                    .scopes
                    .and_then(|s| right.scope_in(s))
                    .cloned()
                    .unwrap_or_else(scope::all_calls);
                grant.reach[i] = Some(match &grant.reach[i] {
                    Some(so_far) => scope::union(so_far, &scope),
                    None => scope,
                });
            }
        }
        grant
    }

    /// Where `right` reaches; `None`: not granted.
    pub fn reach(&self, right: Right) -> Option<&Scope> {
        let i = Right::ALL.iter().position(|r| *r == right)?;
        self.reach[i].as_ref()
    }

    /// The rights as the contract's permissions (for the session card).
    pub fn permissions(&self) -> Permissions {
        let has = |r| self.reach(r).is_some();
        pb::Permissions {
            play_recordings: has(Right::Play),
            download_recordings: has(Right::Download),
            delete_recordings: has(Right::Delete),
            require_reason: self.require_reason,
            view_audit_log: has(Right::ViewAudit),
            admin: self.admin,
        }
    }

    /// Each granted right's reach (unset: not granted).
    pub fn scopes(&self) -> Scopes {
        let mut scopes = Scopes::default();
        for right in Right::ALL {
            *right.scope_mut(&mut scopes) = self.reach(right).cloned();
        }
        scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::built_in;

    fn user(permissions: Permissions, scopes: Scopes, roles: &[&str]) -> User {
        User::agent_for_tests(permissions, scopes, roles)
    }

    fn sales() -> Scope {
        Scope {
            queues: vec!["Sales".into()],
            ..Scope::default()
        }
    }

    #[test]
    fn a_user_without_roles_keeps_the_old_meaning() {
        let player = Permissions {
            play_recordings: true,
            ..Default::default()
        };
        let g = Grant::of(&user(player, Scopes::default(), &[]), &[]);
        assert_eq!(g.reach(Right::Play), Some(&scope::all_calls()));
        assert_eq!(g.reach(Right::Search), Some(&scope::all_calls()));
        assert_eq!(g.reach(Right::Download), None);
        assert_eq!(g.permissions(), player);
    }

    #[test]
    fn roles_unite_with_the_users_own_grants() {
        let agent = built_in("agent").unwrap();
        let own_download = Permissions {
            download_recordings: true,
            ..Default::default()
        };
        let scopes = Scopes {
            download: Some(sales()),
            ..Default::default()
        };
        let g = Grant::of(
            &user(own_download, scopes, &["agent"]),
            std::slice::from_ref(&agent),
        );
        let own = g.reach(Right::Play).unwrap();
        assert!(own.own_calls && !own.all_calls);
        assert_eq!(g.reach(Right::Download), Some(&sales()));
        // The user's unset search scope defers to the role's (own calls).
        assert_eq!(g.reach(Right::Search), Some(own));
        assert!(!g.admin);

        let queue_role = Role {
            scopes: Scopes {
                play: Some(sales()),
                search: Some(sales()),
                ..Default::default()
            },
            ..agent.clone()
        };
        let g = Grant::of(
            &user(
                Permissions::default(),
                Scopes::default(),
                &["agent", "sales"],
            ),
            &[agent, queue_role],
        );
        let play = g.reach(Right::Play).unwrap();
        assert!(play.own_calls);
        assert_eq!(play.queues, ["Sales"]);
    }

    #[test]
    fn any_source_asking_for_a_reason_asks_for_it() {
        let admin = built_in("admin").unwrap();
        let p = Permissions {
            require_reason: true,
            ..Default::default()
        };
        let g = Grant::of(&user(p, Scopes::default(), &["admin"]), &[admin]);
        assert!(g.admin && g.require_reason);
        assert_eq!(g.reach(Right::Delete), Some(&scope::all_calls()));
    }
}

//! Where a right reaches: a scope's validation, its normal form, the union
//! of scopes, and whether a scope covers a call or recording. Pure, so each
//! rule is unit-tested; [`crate::grant`] puts a user's scopes together.

use archive_common::{FieldViolation, error::check_text};
use archive_proto::v1::{self as pb, Action};

pub use pb::{Scope, Scopes};

/// Queues or access points one scope may name at most.
pub const MAX_NAMES: usize = 500;
const NAME_MAX: usize = 200;

/// The rights that have a scope (managing users is tenant-wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    Search,
    Play,
    Download,
    Delete,
    ViewAudit,
}

impl Right {
    pub const ALL: [Right; 5] = [
        Right::Search,
        Right::Play,
        Right::Download,
        Right::Delete,
        Right::ViewAudit,
    ];

    pub fn of(action: Action) -> Option<Right> {
        Some(match action {
            Action::Search => Right::Search,
            Action::Play => Right::Play,
            Action::Download => Right::Download,
            Action::Delete => Right::Delete,
            Action::ViewAudit => Right::ViewAudit,
            Action::ManageUsers | Action::Unspecified => return None,
        })
    }

    /// The field of [`Scopes`] that holds this right's scope.
    pub fn field(self) -> &'static str {
        match self {
            Right::Search => "search",
            Right::Play => "play",
            Right::Download => "download",
            Right::Delete => "delete",
            Right::ViewAudit => "view_audit",
        }
    }

    pub fn scope_in(self, scopes: &Scopes) -> Option<&Scope> {
        match self {
            Right::Search => scopes.search.as_ref(),
            Right::Play => scopes.play.as_ref(),
            Right::Download => scopes.download.as_ref(),
            Right::Delete => scopes.delete.as_ref(),
            Right::ViewAudit => scopes.view_audit.as_ref(),
        }
    }

    pub fn scope_mut(self, scopes: &mut Scopes) -> &mut Option<Scope> {
        match self {
            Right::Search => &mut scopes.search,
            Right::Play => &mut scopes.play,
            Right::Download => &mut scopes.download,
            Right::Delete => &mut scopes.delete,
            Right::ViewAudit => &mut scopes.view_audit,
        }
    }

    /// Whether `p` grants this right (searching needs no grant).
    pub fn granted_by(self, p: &pb::Permissions) -> bool {
        match self {
            Right::Search => true,
            Right::Play => p.play_recordings,
            Right::Download => p.download_recordings,
            Right::Delete => p.delete_recordings,
            Right::ViewAudit => p.view_audit_log,
        }
    }
}

/// Every call of the tenant.
pub fn all_calls() -> Scope {
    Scope {
        all_calls: true,
        ..Scope::default()
    }
}

/// Whether the scope reaches nothing at all.
pub fn is_empty(s: &Scope) -> bool {
    !s.all_calls && !s.own_calls && s.queues.is_empty() && s.access_points.is_empty()
}

/// Sorted, without duplicates, and nothing beside `all_calls` (which covers
/// the rest), so equal scopes compare equal and store alike.
pub fn normalise(mut s: Scope) -> Scope {
    if s.all_calls {
        return all_calls();
    }
    for names in [&mut s.queues, &mut s.access_points] {
        names.sort();
        names.dedup();
    }
    s
}

/// Validates and normalises `scopes` for the rights `granted` grants
/// (`field`: where the scopes are, e.g. `user.scopes`). A granted right
/// whose scope reaches nothing is refused (it would grant nothing); the audit
/// log can only be scoped to all calls or the user's own actions.
pub fn checked(
    scopes: Scopes,
    granted: &pb::Permissions,
    field: &str,
) -> Result<Scopes, FieldViolation> {
    let mut out = Scopes::default();
    for right in Right::ALL {
        let Some(scope) = right.scope_in(&scopes) else {
            continue;
        };
        let at = format!("{field}.{}", right.field());
        for (names, what) in [
            (&scope.queues, "queues"),
            (&scope.access_points, "access_points"),
        ] {
            if names.len() > MAX_NAMES {
                return Err(FieldViolation::new(
                    format!("{at}.{what}"),
                    format!("must name at most {MAX_NAMES}"),
                ));
            }
            for (i, name) in names.iter().enumerate() {
                let item = format!("{at}.{what}[{i}]");
                if name.trim().is_empty() {
                    return Err(FieldViolation::new(item, "must not be blank"));
                }
                check_text(name, &item, NAME_MAX)?;
            }
        }
        if right == Right::ViewAudit
            && (!scope.queues.is_empty() || !scope.access_points.is_empty())
        {
            return Err(FieldViolation::new(
                at,
                "the audit log can be scoped to all calls or to the user's own actions, \
                 not to queues or access points",
            ));
        }
        if is_empty(scope) && right.granted_by(granted) {
            return Err(FieldViolation::new(
                at,
                "reaches no call: choose all calls, own calls, queues or access points \
                 (or do not grant the right)",
            ));
        }
        *right.scope_mut(&mut out) = Some(normalise(scope.clone()));
    }
    Ok(out)
}

/// A call is in `a ∪ b` when it is in either.
pub fn union(a: &Scope, b: &Scope) -> Scope {
    let mut u = Scope {
        all_calls: a.all_calls || b.all_calls,
        own_calls: a.own_calls || b.own_calls,
        queues: a.queues.iter().chain(&b.queues).cloned().collect(),
        access_points: a
            .access_points
            .iter()
            .chain(&b.access_points)
            .cloned()
            .collect(),
    };
    u = normalise(u);
    u
}

/// Whether `scope` reaches the call or recording `r` for a user whose agent
/// is `agent` (empty: not an agent). An agent-to-agent recording (one with
/// an owner) is the initiating agent's own only.
pub fn covers(scope: &Scope, r: &pb::ResourceAttributes, agent: &str) -> bool {
    if scope.all_calls {
        return true;
    }
    let own = scope.own_calls
        && !agent.is_empty()
        && if r.owner_agent.is_empty() {
            r.agents.iter().any(|a| a == agent)
        } else {
            r.owner_agent == agent
        };
    own || r
        .queues
        .iter()
        .any(|q| scope.queues.binary_search(q).is_ok())
        || (!r.access_point_number.is_empty()
            && scope
                .access_points
                .binary_search(&r.access_point_number)
                .is_ok())
}

/// The scope in words, for audit details and logs ("queues Sales, Support").
pub fn describe(s: &Scope) -> String {
    if s.all_calls {
        return "all calls".into();
    }
    let mut parts = Vec::new();
    if s.own_calls {
        parts.push("own calls".to_owned());
    }
    if !s.queues.is_empty() {
        parts.push(format!("queues {}", s.queues.join(", ")));
    }
    if !s.access_points.is_empty() {
        parts.push(format!("access points {}", s.access_points.join(", ")));
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(" + ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(names: &[&str]) -> Scope {
        normalise(Scope {
            queues: names.iter().map(|n| n.to_string()).collect(),
            ..Scope::default()
        })
    }

    fn call(queues: &[&str], agents: &[&str], ap: &str, owner: &str) -> pb::ResourceAttributes {
        pb::ResourceAttributes {
            queues: queues.iter().map(|n| n.to_string()).collect(),
            agents: agents.iter().map(|n| n.to_string()).collect(),
            access_point_number: ap.into(),
            owner_agent: owner.into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_part_of_a_scope_reaches_its_calls() {
        let sales = call(&["Sales"], &["Andreas Wallin"], "81511569", "");
        let support = call(&["Support"], &["Kari"], "95510009", "");
        assert!(covers(&all_calls(), &support, ""));
        assert!(covers(&queues(&["Sales", "Billing"]), &sales, ""));
        assert!(!covers(&queues(&["Sales", "Billing"]), &support, ""));
        let mobile = Scope {
            access_points: vec!["95510009".into()],
            ..Scope::default()
        };
        assert!(covers(&mobile, &support, ""));
        assert!(!covers(&mobile, &sales, ""));
        let own = Scope {
            own_calls: true,
            ..Scope::default()
        };
        assert!(covers(&own, &sales, "Andreas Wallin"));
        assert!(!covers(&own, &support, "Andreas Wallin"));
        assert!(
            !covers(&own, &sales, ""),
            "a user with no agent owns nothing"
        );
        assert!(!covers(&Scope::default(), &sales, "Andreas Wallin"));
    }

    #[test]
    fn an_agent_to_agent_recording_is_its_initiators_only() {
        let a2a = call(&[], &["Andreas Wallin", "Kari"], "", "Andreas Wallin");
        let own = Scope {
            own_calls: true,
            ..Scope::default()
        };
        assert!(covers(&own, &a2a, "Andreas Wallin"));
        assert!(
            !covers(&own, &a2a, "Kari"),
            "the called agent does not own it"
        );
    }

    #[test]
    fn unions_and_normal_forms() {
        let u = union(&queues(&["Sales"]), &queues(&["Billing", "Sales"]));
        assert_eq!(u.queues, ["Billing", "Sales"]);
        assert_eq!(union(&u, &all_calls()), all_calls());
        assert_eq!(describe(&u), "queues Billing, Sales");
        assert_eq!(describe(&Scope::default()), "nothing");
    }

    #[test]
    fn bad_scopes_name_their_field() {
        let play = pb::Permissions {
            play_recordings: true,
            ..Default::default()
        };
        let empty_play = Scopes {
            play: Some(Scope::default()),
            ..Default::default()
        };
        let e = checked(empty_play.clone(), &play, "user.scopes").unwrap_err();
        assert_eq!(e.field, "user.scopes.play");
        // Not granted: an empty scope is harmless.
        assert!(checked(empty_play, &pb::Permissions::default(), "user.scopes").is_ok());
        let blank = Scopes {
            search: Some(queues(&["Sales", " "])),
            ..Default::default()
        };
        let e = checked(blank, &play, "role.scopes").unwrap_err();
        assert_eq!(e.field, "role.scopes.search.queues[0]");
        let audit = Scopes {
            view_audit: Some(queues(&["Sales"])),
            ..Default::default()
        };
        let e = checked(audit, &play, "user.scopes").unwrap_err();
        assert_eq!(e.field, "user.scopes.view_audit");
        let ok = checked(
            Scopes {
                play: Some(Scope {
                    all_calls: true,
                    queues: vec!["x".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            &play,
            "user.scopes",
        )
        .unwrap();
        assert_eq!(ok.play, Some(all_calls()), "all calls covers the rest");
    }
}

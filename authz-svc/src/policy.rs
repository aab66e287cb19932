//! The decision rules: which permission each action needs, and when an
//! allowed action still needs a reason. Pure, so every rule is unit-tested.

use archive_common::FieldViolation;
use archive_proto::v1::{Action, Decision, ResourceAttributes, Verdict};

use crate::{
    grant::Grant,
    scope::{self, Right},
};

/// Reads an action field; UNSPECIFIED and unknown numbers are refused.
pub(crate) fn action(value: i32, field: &str) -> Result<Action, FieldViolation> {
    match Action::try_from(value) {
        Ok(Action::Unspecified) => Err(FieldViolation::new(field, "must be specified")),
        Ok(a) => Ok(a),
        Err(_) => Err(FieldViolation::new(
            field,
            format!("unknown action {value}"),
        )),
    }
}

fn decision(verdict: Verdict, reason: &str) -> Decision {
    Decision {
        verdict: verdict as i32,
        reason: reason.to_owned(),
        ..Default::default()
    }
}

/// What a user with `grant` (None: not a user of the tenant) may do, on
/// `resource` (a call or recording; None: the right as such, answered with
/// where it reaches).
pub(crate) fn decide(
    grant: Option<&Grant>,
    action: Action,
    resource: Option<&ResourceAttributes>,
) -> Decision {
    let Some(g) = grant else {
        return decision(Verdict::Deny, "unknown user");
    };
    if g.disabled {
        return decision(Verdict::Deny, "the user is disabled");
    }
    // (allowed text, denied text, subject to the reason rule?)
    let (allowed, denied, reasoned) = match action {
        Action::Play => (
            "allowed to play recordings",
            "not allowed to play recordings",
            true,
        ),
        Action::Download => (
            "allowed to download recordings",
            "not allowed to download recordings",
            true,
        ),
        Action::Delete => (
            "allowed to delete recordings",
            "not allowed to delete recordings",
            true,
        ),
        Action::ViewAudit => (
            "allowed to view the audit log",
            "not allowed to view the audit log",
            false,
        ),
        Action::Search => ("allowed to search", "not allowed to search", false),
        Action::ManageUsers => {
            return if g.admin {
                decision(Verdict::Allow, "admin of the tenant")
            } else {
                decision(Verdict::Deny, "not an admin of the tenant")
            };
        }
        Action::Unspecified => return decision(Verdict::Deny, "no action given"),
    };
    let right = Right::of(action).expect("every scoped action has its right");
    let Some(reach) = g.reach(right) else {
        return decision(Verdict::Deny, denied);
    };
    let mut answer = match resource {
        Some(r) if !scope::covers(reach, r, &g.agent_name) => {
            return Decision {
                verdict: Verdict::Deny as i32,
                reason: format!(
                    "outside the user's {} scope ({})",
                    right.field(),
                    scope::describe(reach)
                ),
                out_of_scope: true,
                ..Decision::default()
            };
        }
        Some(_) => decision(Verdict::Allow, allowed),
        None => Decision {
            scope: Some(reach.clone()),
            own_agent: if reach.own_calls {
                g.agent_name.clone()
            } else {
                String::new()
            },
            ..decision(Verdict::Allow, allowed)
        },
    };
    if reasoned && g.require_reason {
        answer.verdict = Verdict::ReasonRequired as i32;
        answer.reason = format!("{allowed} once a reason is given");
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        model::{ALL_PERMISSIONS, Permissions, User},
        role::built_in,
        scope::{Scope, Scopes},
    };

    fn grant(permissions: Permissions, scopes: Scopes, roles: &[&str]) -> Grant {
        let user = User::agent_for_tests(permissions, scopes, roles);
        let roles: Vec<_> = roles.iter().filter_map(|r| built_in(r)).collect();
        Grant::of(&user, &roles)
    }

    fn plain(p: Permissions) -> Grant {
        grant(p, Scopes::default(), &[])
    }

    fn verdict(g: &Grant, a: Action) -> Verdict {
        Verdict::try_from(decide(Some(g), a, None).verdict).unwrap()
    }

    fn call(queue: &str, agent: &str, owner: &str) -> ResourceAttributes {
        ResourceAttributes {
            queues: vec![queue.into()],
            agents: vec![agent.into()],
            owner_agent: owner.into(),
            ..Default::default()
        }
    }

    #[test]
    fn unknown_and_disabled_users_are_denied_everything() {
        for a in [Action::Play, Action::Search, Action::ManageUsers] {
            let d = decide(None, a, None);
            assert_eq!(d.verdict, Verdict::Deny as i32);
            assert_eq!(d.reason, "unknown user");
        }
        let mut g = plain(ALL_PERMISSIONS);
        g.disabled = true;
        for a in [Action::Play, Action::Search, Action::ManageUsers] {
            assert_eq!(verdict(&g, a), Verdict::Deny, "{a:?}");
        }
    }

    #[test]
    fn each_action_needs_its_permission() {
        let none = plain(Permissions::default());
        for a in [
            Action::Play,
            Action::Download,
            Action::Delete,
            Action::ViewAudit,
            Action::ManageUsers,
        ] {
            assert_eq!(verdict(&none, a), Verdict::Deny, "{a:?}");
        }
        assert_eq!(verdict(&none, Action::Search), Verdict::Allow);
        assert_eq!(
            decide(Some(&none), Action::Play, None).reason,
            "not allowed to play recordings"
        );
        let player = plain(Permissions {
            play_recordings: true,
            ..Default::default()
        });
        assert_eq!(verdict(&player, Action::Play), Verdict::Allow);
        assert_eq!(verdict(&player, Action::Download), Verdict::Deny);
        let auditor = plain(Permissions {
            view_audit_log: true,
            ..Default::default()
        });
        assert_eq!(verdict(&auditor, Action::ViewAudit), Verdict::Allow);
        assert_eq!(
            verdict(&plain(ALL_PERMISSIONS), Action::ManageUsers),
            Verdict::Allow
        );
    }

    #[test]
    fn require_reason_applies_to_media_actions_only() {
        let g = plain(Permissions {
            require_reason: true,
            ..ALL_PERMISSIONS
        });
        for a in [Action::Play, Action::Download, Action::Delete] {
            assert_eq!(verdict(&g, a), Verdict::ReasonRequired, "{a:?}");
        }
        for a in [Action::ViewAudit, Action::ManageUsers, Action::Search] {
            assert_eq!(verdict(&g, a), Verdict::Allow, "{a:?}");
        }
        // A reason never turns a missing permission into a grant.
        let no_play = plain(Permissions {
            require_reason: true,
            ..Default::default()
        });
        assert_eq!(verdict(&no_play, Action::Play), Verdict::Deny);
    }

    #[test]
    fn a_scoped_right_is_decided_on_the_resource() {
        let sales = Scope {
            queues: vec!["Sales".into()],
            ..Scope::default()
        };
        let g = grant(
            Permissions {
                play_recordings: true,
                require_reason: true,
                ..Default::default()
            },
            Scopes {
                play: Some(sales.clone()),
                search: Some(sales.clone()),
                ..Default::default()
            },
            &[],
        );
        let inside = decide(Some(&g), Action::Play, Some(&call("Sales", "Kari", "")));
        assert_eq!(inside.verdict, Verdict::ReasonRequired as i32);
        assert!(!inside.out_of_scope && inside.scope.is_none());
        let outside = decide(Some(&g), Action::Play, Some(&call("Support", "Kari", "")));
        assert_eq!(outside.verdict, Verdict::Deny as i32);
        assert!(outside.out_of_scope);
        assert_eq!(
            outside.reason,
            "outside the user's play scope (queues Sales)"
        );
        // Without a resource: granted, and where.
        let page = decide(Some(&g), Action::Search, None);
        assert_eq!(page.verdict, Verdict::Allow as i32);
        assert_eq!(page.scope, Some(sales));
        // A right not granted is not "out of scope".
        let d = decide(Some(&g), Action::Delete, Some(&call("Sales", "Kari", "")));
        assert!(d.verdict == Verdict::Deny as i32 && !d.out_of_scope);
    }

    #[test]
    fn an_agent_plays_only_the_calls_he_took_part_in() {
        let g = grant(Permissions::default(), Scopes::default(), &["agent"]);
        let play = |r: &ResourceAttributes| decide(Some(&g), Action::Play, Some(r)).verdict;
        assert_eq!(
            play(&call("Sales", "Andreas Wallin", "")),
            Verdict::Allow as i32
        );
        assert_eq!(play(&call("Sales", "Kari", "")), Verdict::Deny as i32);
        // Agent-to-agent: the initiator's only.
        assert_eq!(
            play(&call("", "Andreas Wallin", "Kari")),
            Verdict::Deny as i32
        );
        assert_eq!(
            play(&call("", "Kari", "Andreas Wallin")),
            Verdict::Allow as i32
        );
        assert_eq!(verdict(&g, Action::Download), Verdict::Deny);
    }

    #[test]
    fn unspecified_and_unknown_actions_are_invalid() {
        assert_eq!(action(0, "action").unwrap_err().field, "action");
        assert_eq!(
            action(99, "requests[2].action").unwrap_err().field,
            "requests[2].action"
        );
        assert_eq!(action(1, "action").unwrap(), Action::Play);
    }
}

//! The decision rules: which permission each action needs, and when an
//! allowed action still needs a reason. Pure, so every rule is unit-tested.

use archive_common::FieldViolation;
use archive_proto::v1::{Action, Decision, Verdict};

use crate::model::Permissions;

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

/// What a user with `permissions` (None: not a user of the tenant) may do.
pub(crate) fn decide(permissions: Option<&Permissions>, action: Action) -> Decision {
    let Some(p) = permissions else {
        return decision(Verdict::Deny, "unknown user");
    };
    // (granted?, allowed text, denied text, subject to the reason rule?)
    let (granted, allowed, denied, reasoned) = match action {
        Action::Play => (
            p.play_recordings,
            "allowed to play recordings",
            "not allowed to play recordings",
            true,
        ),
        Action::Download => (
            p.download_recordings,
            "allowed to download recordings",
            "not allowed to download recordings",
            true,
        ),
        Action::Delete => (
            p.delete_recordings,
            "allowed to delete recordings",
            "not allowed to delete recordings",
            true,
        ),
        Action::ViewAudit => (
            p.view_audit_log,
            "allowed to view the audit log",
            "not allowed to view the audit log",
            false,
        ),
        Action::ManageUsers => (
            p.admin,
            "admin of the tenant",
            "not an admin of the tenant",
            false,
        ),
        Action::Search => (true, "every user of the tenant may search", "", false),
        Action::Unspecified => return decision(Verdict::Deny, "no action given"),
    };
    if !granted {
        decision(Verdict::Deny, denied)
    } else if reasoned && p.require_reason {
        Decision {
            verdict: Verdict::ReasonRequired as i32,
            reason: format!("{allowed} once a reason is given"),
            ..Default::default()
        }
    } else {
        decision(Verdict::Allow, allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ALL_PERMISSIONS;

    fn verdict(p: Option<&Permissions>, a: Action) -> Verdict {
        Verdict::try_from(decide(p, a).verdict).unwrap()
    }

    #[test]
    fn unknown_users_are_denied_everything() {
        for a in [Action::Play, Action::Search, Action::ManageUsers] {
            let d = decide(None, a);
            assert_eq!(d.verdict, Verdict::Deny as i32);
            assert_eq!(d.reason, "unknown user");
        }
    }

    #[test]
    fn each_action_needs_its_permission() {
        let none = Permissions::default();
        for a in [
            Action::Play,
            Action::Download,
            Action::Delete,
            Action::ViewAudit,
            Action::ManageUsers,
        ] {
            assert_eq!(verdict(Some(&none), a), Verdict::Deny, "{a:?}");
        }
        assert_eq!(verdict(Some(&none), Action::Search), Verdict::Allow);
        assert_eq!(
            decide(Some(&none), Action::Play).reason,
            "not allowed to play recordings"
        );

        let player = Permissions {
            play_recordings: true,
            ..Default::default()
        };
        assert_eq!(verdict(Some(&player), Action::Play), Verdict::Allow);
        assert_eq!(verdict(Some(&player), Action::Download), Verdict::Deny);
        let auditor = Permissions {
            view_audit_log: true,
            ..Default::default()
        };
        assert_eq!(verdict(Some(&auditor), Action::ViewAudit), Verdict::Allow);
        assert_eq!(
            verdict(Some(&ALL_PERMISSIONS), Action::ManageUsers),
            Verdict::Allow
        );
    }

    #[test]
    fn require_reason_applies_to_media_actions_only() {
        let p = Permissions {
            require_reason: true,
            ..ALL_PERMISSIONS
        };
        for a in [Action::Play, Action::Download, Action::Delete] {
            assert_eq!(verdict(Some(&p), a), Verdict::ReasonRequired, "{a:?}");
        }
        for a in [Action::ViewAudit, Action::ManageUsers, Action::Search] {
            assert_eq!(verdict(Some(&p), a), Verdict::Allow, "{a:?}");
        }
        // A reason never turns a missing permission into a grant.
        let no_play = Permissions {
            require_reason: true,
            ..Default::default()
        };
        assert_eq!(verdict(Some(&no_play), Action::Play), Verdict::Deny);
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

//! Per-RPC allow-lists: each RPC names the kinds of caller it admits. A
//! service checks its rule first thing in the handler (where it can record
//! the refusal in the audit trail) and answers PERMISSION_DENIED otherwise.

use tonic::Status;

use super::{Caller, CallerKind};

/// A kind of caller an RPC admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// People, through the gateway (after its own checks and authz decision).
    Users,
    /// A recording platform, for a tenant its credential names.
    Platform,
    /// This holder's own `system:…` principals (e.g. `archive-svc`'s relay).
    Service(&'static str),
}

/// Who may call one RPC.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub rpc: &'static str,
    pub allow: &'static [Allow],
}

/// A caller an RPC does not admit: answered PERMISSION_DENIED, recorded as
/// ACCESS_DENIED in the caller's tenant.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub rpc: &'static str,
    pub caller: Box<Caller>,
    pub why: String,
}

impl Rule {
    pub const fn new(rpc: &'static str, allow: &'static [Allow]) -> Self {
        Self { rpc, allow }
    }

    pub fn admits(&self, caller: &Caller) -> bool {
        self.allow.iter().any(|a| match a {
            Allow::Users => caller.kind == CallerKind::User,
            Allow::Platform => caller.kind == CallerKind::Platform && caller.tenant_granted,
            Allow::Service(holder) => {
                caller.kind == CallerKind::Service && caller.holder == *holder
            }
        })
    }

    pub fn check(&self, caller: &Caller) -> Result<(), Refusal> {
        if self.admits(caller) {
            return Ok(());
        }
        let why = if caller.kind == CallerKind::Platform && !caller.tenant_granted {
            format!(
                "{}'s credential does not name tenant {}",
                caller.holder, caller.principal.tenant
            )
        } else {
            format!("{} may not call {}", caller.describe(), self.rpc)
        };
        Err(Refusal {
            rpc: self.rpc,
            caller: Box::new(caller.clone()),
            why,
        })
    }
}

impl From<Refusal> for Status {
    fn from(r: Refusal) -> Self {
        Status::permission_denied(r.why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Principal;

    fn caller(kind: CallerKind, holder: &str, granted: bool) -> Caller {
        let mut c = Caller::in_process_gateway(Principal::new("10009", "x", "X"));
        c.kind = kind;
        c.holder = holder.into();
        c.tenant_granted = granted;
        c
    }

    #[test]
    fn each_kind_is_admitted_only_where_named() {
        const DELETE: Rule = Rule::new(
            "MarkRecordingsDeleted",
            &[Allow::Users, Allow::Service("archive-svc")],
        );
        const INGEST: Rule = Rule::new("IngestCall", &[Allow::Platform]);
        assert!(DELETE.admits(&caller(CallerKind::User, "gateway", true)));
        assert!(DELETE.admits(&caller(CallerKind::Service, "archive-svc", true)));
        assert!(!DELETE.admits(&caller(CallerKind::Service, "media-svc", true)));
        let platform = caller(CallerKind::Platform, "dialer", true);
        let refusal = DELETE.check(&platform).unwrap_err();
        assert!(
            refusal
                .why
                .contains("recording platform dialer may not call MarkRecordingsDeleted")
        );
        assert_eq!(Status::from(refusal).code(), tonic::Code::PermissionDenied);
        assert!(INGEST.admits(&platform));
        let elsewhere = caller(CallerKind::Platform, "dialer", false);
        assert!(
            INGEST
                .check(&elsewhere)
                .unwrap_err()
                .why
                .contains("does not name tenant 10009")
        );
        assert!(!INGEST.admits(&caller(CallerKind::User, "gateway", true)));
    }
}

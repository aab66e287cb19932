//! The door of every service: each RPC's [`Rule`] checked against the
//! verified [`Caller`], and a refused caller answered PERMISSION_DENIED with
//! an ACCESS_DENIED event in its tenant's trail — through the service's own
//! way of recording ([`Denials`]: the audit outbox of a service with a
//! database, a direct append for media-svc, the trail itself for audit-svc).
//! The refusal stands whether or not its event could be recorded.

use std::sync::Arc;

use archive_common::{
    Clock, Principal, convert,
    identity::{Caller, Refusal, Rule},
};
use archive_proto::v1::{AuditEvent, AuditEventKind};
use async_trait::async_trait;
use tonic::{Request, Status};

use crate::outbox::{Nudge, SqlOutbox};

/// Where a service records the refusals of its door.
#[async_trait]
pub trait Denials: Send + Sync + 'static {
    async fn record(
        &self,
        tenant: &str,
        event: AuditEvent,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String>;
}

/// The event of a refusal at `at`.
pub fn access_denied(refusal: &Refusal, at: chrono::DateTime<chrono::Utc>) -> AuditEvent {
    let who = &refusal.caller.principal;
    AuditEvent {
        kind: AuditEventKind::AccessDenied as i32,
        event_id: format!("access-denied:{}", uuid::Uuid::new_v4()),
        actor_id: who.user_id.clone(),
        actor_display_name: who.display_name.clone(),
        event_time: Some(convert::timestamp(at)),
        detail: crate::outbox::bounded_detail(format!("refused {}: {}", refusal.rpc, refusal.why)),
        ..Default::default()
    }
}

#[derive(Clone)]
pub struct Gate {
    denials: Arc<dyn Denials>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Gate {
    pub fn new(denials: Arc<dyn Denials>, clock: Arc<dyn Clock>) -> Self {
        Self { denials, clock }
    }

    /// `caller`'s principal if `rule` admits it; a refusal is recorded
    /// before it is returned.
    pub async fn check<'c>(
        &self,
        caller: &'c Caller,
        rule: &Rule,
    ) -> Result<&'c Principal, Refusal> {
        match rule.check(caller) {
            Ok(()) => Ok(&caller.principal),
            Err(refusal) => Err(self.refuse(refusal).await),
        }
    }

    async fn refuse(&self, refusal: Refusal) -> Refusal {
        tracing::warn!(rpc = refusal.rpc, why = %refusal.why, "caller refused");
        let tenant = &refusal.caller.principal.tenant;
        if !tenant.is_empty() {
            let at = self.clock.now();
            if let Err(e) = self
                .denials
                .record(tenant, access_denied(&refusal, at), at)
                .await
            {
                tracing::error!(error = %e, rpc = refusal.rpc, "the refusal could not be recorded");
            }
        }
        refusal
    }
}

/// The verified caller and the message of `request`: what a service's
/// domain trait takes, as its tonic adapter hands it on.
pub fn parts<M>(request: Request<M>) -> Result<(Caller, M), Status> {
    let caller = Caller::of(&request)?.clone();
    Ok((caller, request.into_inner()))
}

/// A service with an audit outbox records refusals in it and wakes its relay.
#[derive(Debug, Clone)]
pub struct OutboxDenials {
    pub outbox: SqlOutbox,
    pub nudge: Nudge,
}

#[async_trait]
impl Denials for OutboxDenials {
    async fn record(
        &self,
        tenant: &str,
        event: AuditEvent,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        self.outbox
            .record(tenant, &event, at)
            .await
            .map_err(|e| e.to_string())?;
        self.nudge.nudge();
        Ok(())
    }
}

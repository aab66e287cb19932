//! audit-svc's core called in this process. Its read check passes the
//! user's signed identity on to authz-svc (on authz-svc's port, as in a
//! cluster), so a reader is handed over with the token the gateway would
//! have sent on the wire; appends, which need none, pass as they are, and
//! nothing is encoded. Signing reuses a principal's token for a minute, so
//! a read costs a lookup, not a signature.

use std::sync::Arc;

use archive_common::identity::{Caller, IdentityKey};
use archive_proto::v1 as pb;
use audit_svc::{AuditTrail, Error};
use futures::stream::BoxStream;

/// `trail`, its readers called as signed by `key`.
pub fn in_process(trail: Arc<dyn AuditTrail>, key: IdentityKey) -> Arc<dyn AuditTrail> {
    Arc::new(Signed { trail, key })
}

struct Signed {
    trail: Arc<dyn AuditTrail>,
    key: IdentityKey,
}

impl Signed {
    fn signed(&self, caller: &Caller) -> Caller {
        let token = self.key.sign(&caller.principal);
        caller.clone().with_token(token)
    }
}

#[async_trait::async_trait]
impl AuditTrail for Signed {
    async fn append_event(
        &self,
        caller: &Caller,
        request: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, Error> {
        self.trail.append_event(caller, request).await
    }

    async fn append_events(
        &self,
        caller: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, Error> {
        self.trail.append_events(caller, request).await
    }

    async fn list_events(
        &self,
        caller: &Caller,
        request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error> {
        self.trail.list_events(&self.signed(caller), request).await
    }

    async fn verify_chain(
        &self,
        caller: &Caller,
        request: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, Error> {
        self.trail.verify_chain(&self.signed(caller), request).await
    }

    async fn get_checkpoint(
        &self,
        caller: &Caller,
        request: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, Error> {
        self.trail
            .get_checkpoint(&self.signed(caller), request)
            .await
    }

    async fn export_trail(
        &self,
        caller: &Caller,
        request: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, Error>>, Error> {
        self.trail.export_trail(&self.signed(caller), request).await
    }
}

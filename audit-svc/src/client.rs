//! The client other services use to record what they do, fail closed: an
//! action guarded by [`AuditClient::record_then`] runs only after its event is
//! durably in the trail; if the trail cannot record it, the action does not
//! happen and the caller gets UNAVAILABLE (or the trail's own refusal, e.g.
//! INVALID_ARGUMENT for a reason past its bound).

use std::{future::Future, time::Duration};

use archive_common::telemetry::client::{self, TracedChannel};
use archive_common::{IdentityKey, Principal};
use archive_proto::v1::{
    AppendEventRequest, AppendEventResponse, AuditEvent, audit_service_client::AuditServiceClient,
};
use tonic::{Code, Status};

use crate::Error;

/// How long an append may take before the action is refused.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct AuditClient {
    client: AuditServiceClient<TracedChannel>,
    key: IdentityKey,
}

impl std::fmt::Debug for AuditClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditClient").finish_non_exhaustive()
    }
}

impl AuditClient {
    /// A client of audit-svc at `url` (`http://host:port`) that signs the acting
    /// principal with the suite's identity secret. Connects lazily, so it can be
    /// built before audit-svc is up; appends then fail (closed) until it is.
    pub fn connect_lazy(url: &str, identity_secret: &str) -> Result<Self, Error> {
        let channel =
            client::channel(url, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT).map_err(|e| Error::Url {
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        Ok(Self::new(
            channel,
            IdentityKey::internal(identity_secret.as_bytes()),
        ))
    }

    pub fn new(channel: TracedChannel, key: IdentityKey) -> Self {
        Self {
            client: AuditServiceClient::new(channel),
            key,
        }
    }

    /// Records `event` as done by `actor`; Ok only once it is durable.
    /// Transport failures and timeouts come back as UNAVAILABLE.
    pub async fn append(
        &self,
        actor: &Principal,
        event: AuditEvent,
    ) -> Result<AppendEventResponse, Status> {
        let request = self
            .key
            .request(AppendEventRequest { event: Some(event) }, actor);
        match self.client.clone().append_event(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(s)
                if matches!(
                    s.code(),
                    Code::InvalidArgument | Code::PermissionDenied | Code::Unauthenticated
                ) =>
            {
                Err(s)
            }
            Err(s) => {
                tracing::warn!(status = %s, "audit append failed");
                Err(Status::unavailable(format!(
                    "the audit trail could not record the action, so it was not done: {}",
                    s.message()
                )))
            }
        }
    }

    /// Records `event`, then runs `action` with the receipt. If the event is
    /// not recorded, `action` is never started and the audit error is returned.
    pub async fn record_then<T, E, F, Fut>(
        &self,
        actor: &Principal,
        event: AuditEvent,
        action: F,
    ) -> Result<T, E>
    where
        F: FnOnce(AppendEventResponse) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Status>,
    {
        let receipt = self.append(actor, event).await?;
        action(receipt).await
    }
}

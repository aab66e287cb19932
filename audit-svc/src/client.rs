//! The client other services use to record what they do, fail closed: an
//! action guarded by [`AuditClient::record_then`] runs only after its event is
//! durably in the trail; if the trail cannot record it, the action does not
//! happen and the caller gets UNAVAILABLE (or the trail's own refusal, e.g.
//! INVALID_ARGUMENT for a reason past its bound).
//!
//! An action that has no database of its own to commit with (a playback
//! grant, an export) appends with a commit deadline
//! ([`AuditClient::append_events`]): the trail commits the events by then or
//! not at all, and the client waits past the deadline plus
//! [`COMMIT_BOUND`] before it reports failure, so "failed" to the user
//! always means "not in the trail".

use std::{future::Future, sync::Arc, time::Duration};

use archive_common::telemetry::client::{self, TracedChannel};
use archive_common::{
    Clock, IdentityKey, Principal, SystemClock, convert,
    error::retry_later,
    log_limit::{EVERY, LogLimit},
};
use archive_proto::v1::{
    AppendEventRequest, AppendEventResponse, AppendEventsRequest, AuditEvent,
    audit_service_client::AuditServiceClient,
};
use chrono::{DateTime, Utc};
use tonic::{Code, Status};

use crate::Error;

/// How long an append may take before the action is refused.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long after its commit deadline an append can still become durable at
/// most: audit-svc checks the deadline just before COMMIT, and a transaction
/// left open longer than this (a frozen process) is aborted by PostgreSQL's
/// `idle_in_transaction_session_timeout`, which audit-svc sets to this.
/// Clock differences between the processes come on top (keep them in NTP sync).
pub const COMMIT_BOUND: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct AuditClient {
    client: AuditServiceClient<TracedChannel>,
    key: IdentityKey,
    /// How long is left until a commit deadline.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AuditClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditClient").finish_non_exhaustive()
    }
}

impl AuditClient {
    /// A client of audit-svc at `url` (`http://host:port`) that signs the acting
    /// principal with this process's key. Connects lazily, so it can be
    /// built before audit-svc is up; appends then fail (closed) until it is.
    pub fn connect_lazy(url: &str, key: IdentityKey) -> Result<Self, Error> {
        let channel =
            client::channel(url, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT).map_err(|e| Error::Url {
                url: url.to_owned(),
                why: e.to_string(),
            })?;
        Ok(Self::new(channel, key))
    }

    pub fn new(channel: TracedChannel, key: IdentityKey) -> Self {
        Self {
            client: AuditServiceClient::new(channel),
            key,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same client reading the time from `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Records `event` as done by `actor`; Ok only once it is durable.
    /// Transport failures and timeouts come back as UNAVAILABLE.
    pub async fn append(
        &self,
        actor: &Principal,
        event: AuditEvent,
    ) -> Result<AppendEventResponse, Status> {
        let request = self.key.request(
            AppendEventRequest {
                event: Some(event),
                commit_deadline: None,
            },
            actor,
        );
        let answer = self.client.clone().append_event(request).await;
        answer
            .map(tonic::Response::into_inner)
            .map_err(append_failed)
    }

    /// Appends `events` (all of `caller`'s tenant) in one transaction: all or
    /// none. With `deadline`, they are committed by then or not at all, and
    /// this waits for an answer until `deadline + COMMIT_BOUND` (so a timeout
    /// here means the events are not in the trail). Receipts in input order;
    /// a receipt with `duplicate` set was appended by an earlier call with the
    /// same `event_id`. Transport failures, timeouts and a missed deadline come
    /// back as UNAVAILABLE.
    pub async fn append_events(
        &self,
        caller: &Principal,
        events: Vec<AuditEvent>,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Vec<AppendEventResponse>, Status> {
        let mut request = self.key.request(
            AppendEventsRequest {
                events,
                commit_deadline: deadline.map(convert::timestamp),
            },
            caller,
        );
        if let Some(deadline) = deadline {
            let wait = (deadline - self.clock.now()).to_std().unwrap_or_default() + COMMIT_BOUND;
            request.set_timeout(wait);
        }
        let answer = self.client.clone().append_events(request).await;
        answer
            .map(|r| r.into_inner().receipts)
            .map_err(append_failed)
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

/// An append's failure as the acting caller sees it: the trail's own
/// refusal as it is, anything else "not recorded" (see [`not_recorded`]).
pub fn append_failed(s: Status) -> Status {
    if is_refusal(&s) { s } else { not_recorded(&s) }
}

/// Every caller's appends fail alike while audit-svc is down.
static APPEND_FAILED: LogLimit = LogLimit::new(EVERY);

/// An append that got no answer, or not the trail's refusal: the action is
/// not done, and the caller may retry it (UNAVAILABLE with a retry hint).
fn not_recorded(s: &Status) -> Status {
    if let Some(repeated) = APPEND_FAILED.admit("append") {
        tracing::warn!(status = %s, repeated, "audit append failed");
    }
    retry_later(format!(
        "the audit trail could not record the action, so it was not done: {}",
        s.message()
    ))
}

/// The trail's own refusals, passed on as they are (a bad field, an event id
/// used for another event, a caller it does not accept).
fn is_refusal(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::InvalidArgument
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::AlreadyExists
    )
}

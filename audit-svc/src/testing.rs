//! A stand-in audit-svc for the tests of the services that record into it
//! (their outbox relays) and of the relay itself: `AppendEvents` only, over
//! real gRPC with the identity verified as audit-svc does, all or none, event
//! ids appended once per tenant (as the real trail does), and faults on
//! demand — the next calls refused UNAVAILABLE, down until told otherwise,
//! one event id refused INVALID_ARGUMENT. Built with the `testing` feature
//! (the services' dev-dependencies turn it on).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use archive_common::{
    FieldViolation, Principal, SystemClock, VerifyIdentity,
    identity::{Caller, Trust},
    shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, AuditEvent, audit_service_server::AuditServiceServer};
use futures::stream::BoxStream;
use tonic::Status;

use crate::{AuditTrail, Error, GrpcServer};

#[derive(Default)]
struct State {
    calls: Vec<(Principal, Vec<AuditEvent>)>,
    appended: Vec<(Principal, AuditEvent)>,
    fail_next: u32,
    down: bool,
    refused_id: Option<String>,
}

/// The stand-in trail; clones share what it recorded.
#[derive(Clone, Default)]
pub struct FakeTrail(Arc<Mutex<State>>);

impl FakeTrail {
    /// Serves it on 127.0.0.1:0, verifying callers with `trust`, until
    /// `stop`; its URL.
    pub async fn serve(&self, trust: Trust, stop: CancellationToken) -> String {
        let server = AuditServiceServer::with_interceptor(
            GrpcServer(Arc::new(self.clone())),
            VerifyIdentity::new(trust, Arc::new(SystemClock)),
        );
        test_support::server::serve_routes(tonic::service::Routes::new(server), stop).await
    }

    /// The events appended, each with the verified caller that sent it.
    pub fn events(&self) -> Vec<(Principal, AuditEvent)> {
        self.0.lock().unwrap().appended.clone()
    }

    /// Every `AppendEvents` asked, refused ones included.
    pub fn calls(&self) -> Vec<(Principal, Vec<AuditEvent>)> {
        self.0.lock().unwrap().calls.clone()
    }

    /// The next `n` calls are answered UNAVAILABLE.
    pub fn fail_next(&self, n: u32) {
        self.0.lock().unwrap().fail_next = n;
    }

    /// While down, every call is answered UNAVAILABLE.
    pub fn set_down(&self, down: bool) {
        self.0.lock().unwrap().down = down;
    }

    /// A call carrying `event_id` is refused INVALID_ARGUMENT (a bad event).
    pub fn refuse(&self, event_id: &str) {
        self.0.lock().unwrap().refused_id = Some(event_id.to_owned());
    }

    /// Waits (up to 10 s) until `n` events are appended, then a little
    /// longer so that any that should not be there arrive too; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<(Principal, AuditEvent)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.events().len() < n {
            assert!(
                Instant::now() < deadline,
                "{n} events not delivered: {:#?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.events()
    }
}

/// What the stand-in answers to the RPCs it does not take.
fn appends_only<T>() -> Result<T, Error> {
    Err(Error::Upstream(Status::unimplemented(
        "the stand-in trail takes AppendEvents",
    )))
}

#[async_trait::async_trait]
impl AuditTrail for FakeTrail {
    async fn append_events(
        &self,
        caller: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, Error> {
        let caller = caller.principal.clone();
        let events = request.events;
        let mut state = self.0.lock().unwrap();
        state.calls.push((caller.clone(), events.clone()));
        if state.down {
            return Err(Error::Unavailable("the trail is down".into()));
        }
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(Error::Unavailable(
                "trail down (a failure the test asked for)".into(),
            ));
        }
        if let Some(refused) = state.refused_id.as_deref()
            && let Some(i) = events.iter().position(|e| e.event_id == refused)
        {
            let field = format!("events[{i}].event_time");
            return Err(FieldViolation::new(field, "too far ahead").into());
        }
        let receipts = events
            .into_iter()
            .map(|e| {
                let duplicate = state
                    .appended
                    .iter()
                    .any(|(c, a)| c.tenant == caller.tenant && a.event_id == e.event_id);
                let event_id = e.event_id.clone();
                if !duplicate {
                    state.appended.push((caller.clone(), e));
                }
                pb::AppendEventResponse {
                    sequence: state.appended.len() as u64,
                    hash: String::new(),
                    duplicate,
                    event_id,
                }
            })
            .collect();
        Ok(pb::AppendEventsResponse { receipts })
    }

    async fn append_event(
        &self,
        _: &Caller,
        _: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, Error> {
        appends_only()
    }

    async fn list_events(
        &self,
        _: &Caller,
        _: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error> {
        appends_only()
    }

    async fn verify_chain(
        &self,
        _: &Caller,
        _: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, Error> {
        appends_only()
    }

    async fn get_checkpoint(
        &self,
        _: &Caller,
        _: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, Error> {
        appends_only()
    }

    async fn export_trail(
        &self,
        _: &Caller,
        _: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, Error>>, Error> {
        appends_only()
    }
}

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
    Principal, SystemClock, VerifyIdentity, identity::Trust, shutdown::CancellationToken,
};
use archive_proto::v1::{
    self as pb, AuditEvent,
    audit_service_server::{AuditService, AuditServiceServer},
};
use tonic::{Request, Response, Status};

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
            self.clone(),
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

type ExportStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<pb::ExportTrailChunk, Status>> + Send>,
>;

#[tonic::async_trait]
impl AuditService for FakeTrail {
    type ExportTrailStream = ExportStream;

    async fn append_events(
        &self,
        request: Request<pb::AppendEventsRequest>,
    ) -> Result<Response<pb::AppendEventsResponse>, Status> {
        let caller = Principal::of(&request)?.clone();
        let events = request.into_inner().events;
        let mut state = self.0.lock().unwrap();
        state.calls.push((caller.clone(), events.clone()));
        if state.down {
            return Err(Status::unavailable("the trail is down"));
        }
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(Status::unavailable(
                "trail down (a failure the test asked for)",
            ));
        }
        if let Some(refused) = state.refused_id.as_deref()
            && let Some(i) = events.iter().position(|e| e.event_id == refused)
        {
            return Err(Status::invalid_argument(format!(
                "events[{i}].event_time: too far ahead"
            )));
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
        Ok(Response::new(pb::AppendEventsResponse { receipts }))
    }

    async fn append_event(
        &self,
        _: Request<pb::AppendEventRequest>,
    ) -> Result<Response<pb::AppendEventResponse>, Status> {
        Err(Status::unimplemented(
            "the stand-in trail takes AppendEvents",
        ))
    }

    async fn list_events(
        &self,
        _: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        Err(Status::unimplemented(
            "the stand-in trail takes AppendEvents",
        ))
    }

    async fn verify_chain(
        &self,
        _: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        Err(Status::unimplemented(
            "the stand-in trail takes AppendEvents",
        ))
    }

    async fn get_checkpoint(
        &self,
        _: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        Err(Status::unimplemented(
            "the stand-in trail takes AppendEvents",
        ))
    }

    async fn export_trail(
        &self,
        _: Request<pb::ExportTrailRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        Err(Status::unimplemented(
            "the stand-in trail takes AppendEvents",
        ))
    }
}

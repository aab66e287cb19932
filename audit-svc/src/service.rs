//! The `archive.v1.AuditService` handlers. The tenant always comes from the
//! verified principal; the actor and the event time as [`crate::append`] says.

use std::sync::Arc;

use archive_common::{
    Clock, FieldViolation, Principal, convert, error::check_text, page_token::PageTokens,
};
use archive_proto::v1::{self as pb, audit_service_server::AuditService};
use tonic::{Request, Response, Status};

/// Placeholder stream types until the export is built.
mod futures_stream {
    /// A stream that ends at once.
    pub(crate) type Empty = std::pin::Pin<
        Box<
            dyn tokio_stream::Stream<
                    Item = Result<archive_proto::v1::ExportTrailChunk, tonic::Status>,
                > + Send,
        >,
    >;
}

use crate::{
    Error,
    append::{self, Shape},
    authorize::Viewers,
    committer::Committer,
    event::{self, CASE_ID_MAX, ID_MAX, REQUEST_ID_MAX},
    store::{EventFilter, Store},
    verify,
};

const DEFAULT_PAGE_SIZE: u32 = 100;
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;

pub(crate) struct Audit {
    store: Arc<dyn Store>,
    committer: Committer,
    viewers: Viewers,
    tokens: PageTokens,
    clock: Arc<dyn Clock>,
}

impl Audit {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        committer: Committer,
        viewers: Viewers,
        tokens: PageTokens,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            committer,
            viewers,
            tokens,
            clock,
        }
    }

    /// Appends `events` as one group, all or none ([`append`]).
    async fn append(
        &self,
        caller: &Principal,
        events: Vec<pb::AuditEvent>,
        commit_deadline: Option<&prost_types::Timestamp>,
        shape: Shape,
    ) -> Result<Vec<pb::AppendEventResponse>, Error> {
        let group = append::group(caller, events, commit_deadline, shape, self.clock.now())?;
        let receipts = self
            .committer
            .append(group)
            .await
            .map_err(|e| append::name_refusal(e, shape))?;
        Ok(receipts.into_iter().map(append::receipt).collect())
    }

    async fn list(
        &self,
        caller: &Principal,
        request: &pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error> {
        let filter = filter(request)?;
        let page_size = match u32::try_from(request.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) if n <= MAX_PAGE_SIZE => n,
            _ => {
                return Err(FieldViolation::new(
                    "page_size",
                    format!("must be between 0 and {MAX_PAGE_SIZE}"),
                )
                .into());
            }
        };
        self.viewers.require(caller).await?;
        // The token is bound to the tenant and to exactly these filters.
        let fingerprint = format!("{filter:?}");
        let before: Option<u64> = if request.page_token.is_empty() {
            None
        } else {
            Some(self.tokens.open(
                &request.page_token,
                &caller.tenant,
                fingerprint.as_bytes(),
                "page_token",
            )?)
        };
        // One extra event says whether another page exists.
        let mut events = self
            .store
            .list(&caller.tenant, &filter, before, page_size + 1)
            .await?;
        let next_page_token = if events.len() > page_size as usize {
            events.truncate(page_size as usize);
            let last = events.last().map_or(0, |e| e.sequence);
            self.tokens
                .seal(&caller.tenant, fingerprint.as_bytes(), &last)
        } else {
            String::new()
        };
        Ok(pb::ListEventsResponse {
            events: events.into_iter().map(pb::AuditEvent::from).collect(),
            next_page_token,
        })
    }
}

/// Reads ListEvents' filters; empty strings and UNSPECIFIED mean "any".
fn filter(request: &pb::ListEventsRequest) -> Result<EventFilter, FieldViolation> {
    let time = |ts: Option<&prost_types::Timestamp>, field| {
        ts.map(|ts| convert::from_timestamp(ts, field).map(convert::micros))
            .transpose()
    };
    let text = |value: &str, field, max| -> Result<Option<String>, FieldViolation> {
        check_text(value, field, max)?;
        Ok((!value.is_empty()).then(|| value.to_owned()))
    };
    let filter = EventFilter {
        time_from: time(request.event_time_from.as_ref(), "event_time_from")?,
        time_to: time(request.event_time_to.as_ref(), "event_time_to")?,
        actor_id: text(&request.actor_id, "actor_id", ID_MAX)?,
        recording_id: text(&request.recording_id, "recording_id", ID_MAX)?,
        kind: Some(event::kind(request.kind, "kind", true)?).filter(|k| *k != 0),
        call_id: text(&request.call_id, "call_id", ID_MAX)?,
        reason_code: {
            event::check_reason_code(&request.reason_code, "reason_code")?;
            (!request.reason_code.is_empty()).then(|| request.reason_code.clone())
        },
        case_id: text(&request.case_id, "case_id", CASE_ID_MAX)?,
        request_id: text(&request.request_id, "request_id", REQUEST_ID_MAX)?,
    };
    if let (Some(from), Some(to)) = (filter.time_from, filter.time_to)
        && to < from
    {
        return Err(FieldViolation::new(
            "event_time_to",
            "must not be before event_time_from",
        ));
    }
    Ok(filter)
}

#[tonic::async_trait]
impl AuditService for Audit {
    async fn append_event(
        &self,
        request: Request<pb::AppendEventRequest>,
    ) -> Result<Response<pb::AppendEventResponse>, Status> {
        let caller = Principal::of(&request)?.clone();
        let r = request.into_inner();
        let event = r
            .event
            .ok_or_else(|| FieldViolation::missing("event"))
            .map_err(Error::from)?;
        let mut receipts = self
            .append(&caller, vec![event], r.commit_deadline.as_ref(), Shape::One)
            .await?;
        Ok(Response::new(
            receipts.pop().expect("one event, one receipt"),
        ))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let caller = Principal::of(&request)?;
        Ok(Response::new(self.list(caller, request.get_ref()).await?))
    }

    async fn verify_chain(
        &self,
        request: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        let caller = Principal::of(&request)?;
        self.viewers.require(caller).await?;
        let r = request.get_ref();
        let report = verify::verify(
            self.store.as_ref(),
            &caller.tenant,
            r.from_sequence,
            r.to_sequence,
        )
        .await?;
        Ok(Response::new(pb::VerifyChainResponse {
            intact: report.intact,
            events_checked: report.events_checked,
            first_bad_sequence: report.first_bad_sequence,
            problem: report.problem,
            ..Default::default()
        }))
    }

    async fn append_events(
        &self,
        request: Request<pb::AppendEventsRequest>,
    ) -> Result<Response<pb::AppendEventsResponse>, Status> {
        let caller = Principal::of(&request)?.clone();
        let r = request.into_inner();
        let receipts = self
            .append(&caller, r.events, r.commit_deadline.as_ref(), Shape::Many)
            .await?;
        Ok(Response::new(pb::AppendEventsResponse { receipts }))
    }

    async fn get_checkpoint(
        &self,
        _request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        Err(Status::unimplemented("checkpoints are not built yet"))
    }

    type ExportTrailStream = futures_stream::Empty;

    async fn export_trail(
        &self,
        _request: Request<pb::ExportTrailRequest>,
    ) -> Result<Response<Self::ExportTrailStream>, Status> {
        Err(Status::unimplemented("the trail's export is not built yet"))
    }
}

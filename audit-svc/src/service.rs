//! The core of audit-svc, implementing [`AuditTrail`]. The tenant always
//! comes from the verified principal; the actor and the event time as
//! [`crate::append`] says.

use std::sync::Arc;

use archive_common::{
    Clock, FieldViolation, Principal, convert,
    error::check_text,
    identity::{Allow, Caller, Rule},
    page_token::PageTokens,
};
use archive_proto::v1 as pb;
use futures::{StreamExt as _, stream::BoxStream};

use crate::{
    AuditTrail, Error,
    append::{self, Shape},
    authorize::{Reach, Viewers},
    checkpoint::Checkpointer,
    committer::Committer,
    event::{self, CASE_ID_MAX, ID_MAX, REQUEST_ID_MAX},
    export::Export,
    gate::{Denials, Gate},
    store::{EventFilter, Store},
    verify::{self, Trust},
};

/// Who may append: the gateway (for its users, and its own batched
/// events) and the services that record what they do.
const APPEND: &[Allow] = &[
    Allow::Users,
    Allow::Service("gateway"),
    Allow::Service("archive-svc"),
    Allow::Service("authz-svc"),
    Allow::Service("media-svc"),
];
const APPEND_EVENT: Rule = Rule::new("AppendEvent", APPEND);
const APPEND_EVENTS: Rule = Rule::new("AppendEvents", APPEND);
/// Reading the trail is for people (whose right authz-svc decides).
const LIST_EVENTS: Rule = Rule::new("ListEvents", &[Allow::Users]);
const VERIFY_CHAIN: Rule = Rule::new("VerifyChain", &[Allow::Users]);
const GET_CHECKPOINT: Rule = Rule::new("GetCheckpoint", &[Allow::Users]);
const EXPORT_TRAIL: Rule = Rule::new("ExportTrail", &[Allow::Users]);

const DEFAULT_PAGE_SIZE: u32 = 100;
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;

pub(crate) struct Audit {
    store: Arc<dyn Store>,
    committer: Committer,
    viewers: Viewers,
    tokens: PageTokens,
    clock: Arc<dyn Clock>,
    /// Signed checkpoints; `None` when not configured.
    checkpoints: Option<Arc<Checkpointer>>,
    gate: Gate,
}

/// audit-svc records the refusals of its own door in the trail directly.
pub(crate) struct TrailDenials(pub(crate) Committer);

#[tonic::async_trait]
impl Denials for TrailDenials {
    async fn record(
        &self,
        tenant: &str,
        event: pb::AuditEvent,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        let caller = Principal::system(tenant, "audit-svc");
        let group =
            append::group(&caller, vec![event], None, Shape::One, at).map_err(|e| e.to_string())?;
        self.0.append(group).await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Audit {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        committer: Committer,
        viewers: Viewers,
        tokens: PageTokens,
        clock: Arc<dyn Clock>,
        gate: Gate,
    ) -> Self {
        Self {
            store,
            committer,
            viewers,
            tokens,
            clock,
            checkpoints: None,
            gate,
        }
    }

    pub(crate) fn with_checkpoints(mut self, checkpoints: Option<Arc<Checkpointer>>) -> Self {
        self.checkpoints = checkpoints;
        self
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

#[async_trait::async_trait]
impl AuditTrail for Audit {
    async fn append_event(
        &self,
        caller: &Caller,
        r: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, Error> {
        let caller = self.admit(caller, &APPEND_EVENT).await?;
        let event = r.event.ok_or_else(|| FieldViolation::missing("event"))?;
        let mut receipts = self
            .append(caller, vec![event], r.commit_deadline.as_ref(), Shape::One)
            .await?;
        Ok(receipts.pop().expect("one event, one receipt"))
    }

    async fn append_events(
        &self,
        caller: &Caller,
        r: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, Error> {
        let caller = self.admit(caller, &APPEND_EVENTS).await?;
        let receipts = self
            .append(caller, r.events, r.commit_deadline.as_ref(), Shape::Many)
            .await?;
        Ok(pb::AppendEventsResponse { receipts })
    }

    async fn list_events(
        &self,
        caller: &Caller,
        mut request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error> {
        self.admit(caller, &LIST_EVENTS).await?;
        filter(&request)?;
        if self.viewers.require(caller).await? == Reach::OwnActions {
            let me = &caller.principal.user_id;
            if !request.actor_id.is_empty() && &request.actor_id != me {
                return Err(Error::PermissionDenied(
                    "you may view only the events of your own actions".into(),
                ));
            }
            request.actor_id = me.clone();
        }
        let filter = filter(&request)?;
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
        let caller = &caller.principal;
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

    async fn verify_chain(
        &self,
        caller: &Caller,
        r: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, Error> {
        let tenant = self.admit_viewer(caller, &VERIFY_CHAIN).await?;
        let report = verify::verify_with(
            self.store.as_ref(),
            tenant,
            r.from_sequence,
            r.to_sequence,
            &self.trust(),
        )
        .await?;
        Ok(pb::VerifyChainResponse {
            intact: report.intact,
            events_checked: report.events_checked,
            first_bad_sequence: report.first_bad_sequence,
            problem: report.problem,
            checkpoints_checked: report.checkpoints_checked,
        })
    }

    async fn get_checkpoint(
        &self,
        caller: &Caller,
        request: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, Error> {
        let tenant = self.admit_viewer(caller, &GET_CHECKPOINT).await?;
        let checkpointer = self.checkpointer()?;
        let opened = if request.create {
            checkpointer
                .sign(self.store.as_ref(), tenant)
                .await?
                .ok_or_else(|| Error::NotFound("the trail is empty: nothing to sign".into()))?
        } else {
            checkpointer
                .latest(tenant)
                .await?
                .ok_or_else(|| Error::NotFound("no checkpoint is signed yet".into()))?
        };
        Ok(opened.signed.to_proto(&opened.statement))
    }

    async fn export_trail(
        &self,
        caller: &Caller,
        r: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, Error>>, Error> {
        let tenant = self.admit_viewer(caller, &EXPORT_TRAIL).await?;
        let store = self.store.clone();
        let checkpoints = self.checkpoints.as_ref().map(|c| c.store().clone());
        // The range is checked before the stream starts (INVALID_ARGUMENT).
        let export = Export::plan(
            store.as_ref(),
            checkpoints.as_ref(),
            tenant,
            r.from_sequence,
            r.to_sequence,
            self.clock.now(),
        )
        .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            if let Err(e) = export.run(store.as_ref(), &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        let chunks = tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|piece| piece.map(|data| pb::ExportTrailChunk { data }));
        Ok(chunks.boxed())
    }
}

/// The door (see [`Gate`]), and the trail's readers' own check.
impl Audit {
    async fn admit<'c>(&self, caller: &'c Caller, rule: &Rule) -> Result<&'c Principal, Error> {
        self.gate.check(caller, rule).await.map_err(Error::Refused)
    }

    /// The caller's tenant, if `rule` admits the caller and authz-svc says
    /// it may view the trail.
    async fn admit_viewer<'c>(&self, caller: &'c Caller, rule: &Rule) -> Result<&'c str, Error> {
        self.admit(caller, rule).await?;
        if self.viewers.require(caller).await? == Reach::OwnActions {
            return Err(Error::PermissionDenied(
                "the whole trail needs an audit scope of all calls; yours is your own actions"
                    .into(),
            ));
        }
        Ok(&caller.principal.tenant)
    }
}

/// Checkpoints and the export (GetCheckpoint, ExportTrail, VerifyChain's trust).
impl Audit {
    fn checkpointer(&self) -> Result<&Checkpointer, Error> {
        self.checkpoints.as_deref().ok_or_else(|| {
            Error::FailedPrecondition(
                "checkpoints are not configured: set --checkpoint-key-file and \
                 --checkpoint-store (AUDIT_CHECKPOINT_KEY_FILE, AUDIT_CHECKPOINT_STORE)"
                    .into(),
            )
        })
    }

    /// The checkpoints VerifyChain checks against: this service's own.
    fn trust(&self) -> Trust {
        match &self.checkpoints {
            Some(c) => Trust::new(vec![c.store().clone()], c.trusted_keys().to_vec()),
            None => Trust::default(),
        }
    }
}

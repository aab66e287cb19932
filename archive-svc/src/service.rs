//! The `archive.v1.CallService` gRPC service: validates, applies the recording
//! rules, and delegates to the [`CallStore`]. Each change is made as the
//! verified caller (a user through the gateway, or a system principal calling
//! directly) with the request's `ActionContext`; the store records its audit
//! event in the same transaction and the audit relay is nudged after commit.

use std::sync::Arc;

use archive_common::{Clock, FieldViolation, Principal, identity::Caller, page_token::PageTokens};
use archive_proto::v1::{self as pb, call_service_server::CallService};
use audit_svc::{
    gate::Gate,
    outbox::{Change, Context, Nudge},
};
use tonic::{Request, Response, Status};

use crate::{
    Error, access,
    convert::{self, call_query, page_size, recording, recording_ids, uuid},
    model::{CallQuery, Cursor, PendingCursor, StoredCall, TenantSettings},
    retention::Retention,
    rules::{self, CallReport},
    store::CallStore,
};

/// Most recordings one batch call may name.
pub(crate) const MAX_BATCH: usize = 1000;
/// Most pending media deletions on one page (and the default).
const MAX_PENDING_PAGE: u32 = 1000;

pub struct CallArchive {
    store: Arc<dyn CallStore>,
    tokens: PageTokens,
    clock: Arc<dyn Clock>,
    retention: Retention,
    /// Wakes the audit relay after a change with events committed.
    audit: Nudge,
    /// Each RPC's callers ([`access`]).
    gate: Gate,
}

impl CallArchive {
    pub fn new(
        store: Arc<dyn CallStore>,
        tokens: PageTokens,
        clock: Arc<dyn Clock>,
        retention: Retention,
        audit: Nudge,
        gate: Gate,
    ) -> Self {
        Self {
            store,
            tokens,
            clock,
            retention,
            audit,
            gate,
        }
    }

    /// A change by `who` now, with the request's context (validated,
    /// violations naming `context.<field>`).
    fn change(&self, who: &Principal, context: Option<pb::ActionContext>) -> Result<Change, Error> {
        let context = Context::from_proto(context, "context")?;
        Ok(Change::by(who, self.clock.now()).with_context(context))
    }

    /// One page of calls for `query`, with the token of the next page.
    async fn page(
        &self,
        tenant: &str,
        query: &CallQuery,
        size: u32,
        token: &str,
    ) -> Result<(Vec<StoredCall>, String), Error> {
        let fingerprint = query.fingerprint();
        let after = if token.is_empty() {
            None
        } else {
            Some(
                self.tokens
                    .open::<Cursor>(token, tenant, &fingerprint, "page_token")?,
            )
        };
        let mut calls = self.store.search(tenant, query, after, size + 1).await?;
        let next = if calls.len() > size as usize {
            calls.truncate(size as usize);
            let last = calls.last().expect("a full page has a last row");
            let cursor = Cursor {
                start_us: last.start.timestamp_micros(),
                call_id: last.call_id,
            };
            self.tokens.seal(tenant, &fingerprint, &cursor)
        } else {
            String::new()
        };
        Ok((calls, next))
    }
}

#[tonic::async_trait]
impl CallService for CallArchive {
    async fn ingest_call(
        &self,
        request: Request<pb::IngestCallRequest>,
    ) -> Result<Response<pb::IngestCallResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::INGEST_CALL)
            .await?
            .clone();
        let report = CallReport::try_from(request.into_inner()).map_err(Error::from)?;
        let settings = self
            .store
            .settings(&who.tenant)
            .await
            .map_err(Error::from)?;
        let call = rules::decide(&report, settings.consult_recording);
        let change = self.change(&who, None)?;
        let (stored, created) = self
            .store
            .insert_call(&who.tenant, &call, &change)
            .await
            .map_err(Error::from)?;
        if created {
            self.audit.nudge();
        }
        tracing::info!(tenant = %who.tenant, session = %call.session_id, created, recordings = stored.recordings.len(), "call ingested");
        Ok(Response::new(pb::IngestCallResponse {
            call: Some(stored.into()),
            created,
        }))
    }

    async fn batch_ingest_calls(
        &self,
        request: Request<pb::BatchIngestCallsRequest>,
    ) -> Result<Response<pb::BatchIngestCallsResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::BATCH_INGEST_CALLS)
            .await?
            .clone();
        let calls = request.into_inner().calls;
        if calls.is_empty() || calls.len() > MAX_BATCH {
            return Err(Error::from(FieldViolation::new(
                "calls",
                format!("must hold 1 to {MAX_BATCH} calls"),
            ))
            .into());
        }
        // Validate everything before writing anything.
        let reports = calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| CallReport::try_from(c).map_err(|v| v.within(&format!("calls[{i}]"))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::from)?;
        let settings = self
            .store
            .settings(&who.tenant)
            .await
            .map_err(Error::from)?;
        let decided: Vec<_> = reports
            .iter()
            .map(|r| rules::decide(r, settings.consult_recording))
            .collect();
        let change = self.change(&who, None)?;
        let stored = self
            .store
            .insert_calls(&who.tenant, &decided, &change)
            .await
            .map_err(Error::from)?;
        if stored.iter().any(|(_, created)| *created) {
            self.audit.nudge();
        }
        Ok(Response::new(pb::BatchIngestCallsResponse {
            results: stored
                .into_iter()
                .map(|(call, created)| pb::IngestCallResponse {
                    call: Some(call.into()),
                    created,
                })
                .collect(),
        }))
    }

    async fn search_calls(
        &self,
        request: Request<pb::SearchCallsRequest>,
    ) -> Result<Response<pb::SearchCallsResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::SEARCH_CALLS)
            .await?
            .clone();
        let req = request.into_inner();
        let query = call_query(req.filter, req.order).map_err(Error::from)?;
        let size = page_size(req.page_size, "page_size").map_err(Error::from)?;
        let (calls, next_page_token) = self
            .page(&who.tenant, &query, size, &req.page_token)
            .await?;
        Ok(Response::new(pb::SearchCallsResponse {
            calls: calls.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn get_call(
        &self,
        request: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::GetCallResponse>, Status> {
        let who = self.gate.admit(&request, &access::GET_CALL).await?.clone();
        let call_id = uuid(&request.get_ref().call_id, "call_id").map_err(Error::from)?;
        let call = self
            .store
            .get_call(&who.tenant, call_id)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("call {call_id}")))?;
        Ok(Response::new(pb::GetCallResponse {
            call: Some(call.into()),
        }))
    }

    async fn batch_get_recordings(
        &self,
        request: Request<pb::BatchGetRecordingsRequest>,
    ) -> Result<Response<pb::BatchGetRecordingsResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::BATCH_GET_RECORDINGS)
            .await?
            .clone();
        let ids = recording_ids(&request.get_ref().recording_ids, "recording_ids", MAX_BATCH)
            .map_err(Error::from)?;
        let mut found: std::collections::HashMap<_, _> = self
            .store
            .get_recordings(&who.tenant, &ids)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|(r, c)| (r.recording_id, (r, c)))
            .collect();
        let mut recordings = Vec::with_capacity(ids.len());
        for id in &ids {
            let (r, c) = found
                .remove(id)
                .ok_or_else(|| Error::NotFound(format!("recording {id}")))?;
            recordings.push(pb::RecordingWithCall {
                recording: Some(recording(r, &who.tenant)),
                call: Some(c.into()),
            });
        }
        Ok(Response::new(pb::BatchGetRecordingsResponse { recordings }))
    }

    async fn list_agent_recordings(
        &self,
        request: Request<pb::ListAgentRecordingsRequest>,
    ) -> Result<Response<pb::ListAgentRecordingsResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::LIST_AGENT_RECORDINGS)
            .await?
            .clone();
        let req = request.into_inner();
        if req.agent.trim().is_empty() {
            return Err(Error::from(FieldViolation::missing("agent")).into());
        }
        archive_common::error::check_text(&req.agent, "agent", convert::MAX_NAME)
            .map_err(Error::from)?;
        let size = page_size(req.page_size, "page_size").map_err(Error::from)?;
        let query = CallQuery {
            linked_agent: Some(req.agent.clone()),
            ..CallQuery::default()
        };
        let (calls, next_page_token) = self
            .page(&who.tenant, &query, size, &req.page_token)
            .await?;
        // Only the recordings linked to this agent are "my" recordings.
        let calls = calls
            .into_iter()
            .map(|mut c| {
                c.recordings.retain(|r| {
                    r.owner_agent.as_deref().map_or_else(
                        || r.segments.iter().any(|s| s.agent == req.agent),
                        |owner| owner == req.agent,
                    )
                });
                c.into()
            })
            .collect();
        Ok(Response::new(pb::ListAgentRecordingsResponse {
            calls,
            next_page_token,
        }))
    }

    async fn mark_recordings_deleted(
        &self,
        request: Request<pb::MarkRecordingsDeletedRequest>,
    ) -> Result<Response<pb::MarkRecordingsDeletedResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::MARK_RECORDINGS_DELETED)
            .await?
            .clone();
        let req = request.into_inner();
        let ids =
            recording_ids(&req.recording_ids, "recording_ids", MAX_BATCH).map_err(Error::from)?;
        let change = self.change(&who, req.context)?;
        // All or nothing: every id must be the tenant's before any marker is set.
        let known = self
            .store
            .get_recordings(&who.tenant, &ids)
            .await
            .map_err(Error::from)?;
        if let Some(missing) = ids
            .iter()
            .find(|id| !known.iter().any(|(r, _)| r.recording_id == **id))
        {
            return Err(Error::NotFound(format!("recording {missing}")).into());
        }
        let recordings = self
            .store
            .mark_deleted(&who.tenant, &ids, &change)
            .await
            .map_err(Error::from)?;
        self.audit.nudge();
        // The files made unservable before the user is told (bounded; the
        // outbox retries whatever media-svc did not confirm in time).
        self.retention.delete_now(&who.tenant, &ids).await;
        Ok(Response::new(pb::MarkRecordingsDeletedResponse {
            recordings: recordings
                .into_iter()
                .map(|r| recording(r, &who.tenant))
                .collect(),
        }))
    }

    async fn get_tenant_settings(
        &self,
        request: Request<pb::GetTenantSettingsRequest>,
    ) -> Result<Response<pb::TenantSettings>, Status> {
        let who = self
            .gate
            .admit(&request, &access::GET_TENANT_SETTINGS)
            .await?
            .clone();
        let settings = self
            .store
            .settings(&who.tenant)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(settings.into()))
    }

    async fn update_tenant_settings(
        &self,
        request: Request<pb::UpdateTenantSettingsRequest>,
    ) -> Result<Response<pb::TenantSettings>, Status> {
        let who = self
            .gate
            .admit(&request, &access::UPDATE_TENANT_SETTINGS)
            .await?
            .clone();
        let req = request.into_inner();
        let settings = req
            .settings
            .ok_or_else(|| FieldViolation::missing("settings"))
            .and_then(TenantSettings::try_from)
            .map_err(Error::from)?;
        let change = self.change(&who, req.context)?;
        if self
            .store
            .put_settings(&who.tenant, &settings, &change)
            .await
            .map_err(Error::from)?
        {
            self.audit.nudge();
        }
        Ok(Response::new(settings.into()))
    }

    async fn set_legal_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Result<Response<pb::SetLegalHoldResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::SET_LEGAL_HOLD)
            .await?
            .clone();
        let req = request.into_inner();
        let call_id = uuid(&req.call_id, "call_id").map_err(Error::from)?;
        let change = self.change(&who, req.context)?;
        let call = self
            .store
            .set_legal_hold(&who.tenant, call_id, req.legal_hold, &change)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("call {call_id}")))?;
        self.audit.nudge();
        Ok(Response::new(pb::SetLegalHoldResponse {
            call: Some(call.into()),
        }))
    }

    async fn list_pending_media_deletions(
        &self,
        request: Request<pb::ListPendingMediaDeletionsRequest>,
    ) -> Result<Response<pb::ListPendingMediaDeletionsResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::LIST_PENDING_MEDIA_DELETIONS)
            .await?
            .clone();
        // Every tenant's deletions are media-svc's business only (its own
        // key, not a principal's name: the gateway may sign any `system:…`).
        let media_svc = Caller::of(&request)?.holder == "media-svc";
        let req = request.into_inner();
        let tenant = if req.all_tenants {
            if !media_svc {
                return Err(Error::PermissionDenied(
                    "all_tenants: only media-svc may list every tenant's deletions".into(),
                )
                .into());
            }
            None
        } else {
            Some(who.tenant.as_str())
        };
        let size = match req.page_size {
            0 => MAX_PENDING_PAGE,
            n if (1..=MAX_PENDING_PAGE as i32).contains(&n) => n as u32,
            _ => {
                return Err(Error::from(FieldViolation::new(
                    "page_size",
                    format!("must be 0 to {MAX_PENDING_PAGE}"),
                ))
                .into());
            }
        };
        let after = match req.page_token.as_str() {
            "" => None,
            token => Some(uuid(token, "page_token").map_err(Error::from)?),
        };
        let mut found = self
            .store
            .pending_media_deletions(tenant, after, size + 1)
            .await
            .map_err(Error::from)?;
        let next_page_token = if found.len() > size as usize {
            found.truncate(size as usize);
            found
                .last()
                .map(|d| d.recording_id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListPendingMediaDeletionsResponse {
            deletions: found
                .into_iter()
                .map(|d| pb::PendingMediaDeletion {
                    tenant: d.tenant,
                    recording_id: d.recording_id.to_string(),
                    cause: d.cause,
                    requested_time: Some(archive_common::convert::timestamp(d.requested_at)),
                    attempts: d.attempts,
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn mark_recording_media_stored(
        &self,
        request: Request<pb::MarkRecordingMediaStoredRequest>,
    ) -> Result<Response<pb::MarkRecordingMediaStoredResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::MARK_RECORDING_MEDIA_STORED)
            .await?
            .clone();
        let (id, file) = convert::stored_file(request.into_inner().media, self.clock.now())
            .map_err(Error::from)?;
        let (recording, requeued) = self
            .store
            .mark_media_stored(&who.tenant, id, &file)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(format!("recording {id}")))?;
        if requeued {
            tracing::info!(tenant = %who.tenant, recording = %id, "a file arrived after its recording was deleted or expired; queued for deletion again");
            self.retention.nudge();
        }
        Ok(Response::new(pb::MarkRecordingMediaStoredResponse {
            recording: Some(convert::recording(recording, &who.tenant)),
        }))
    }

    async fn list_pending_recordings(
        &self,
        request: Request<pb::ListPendingRecordingsRequest>,
    ) -> Result<Response<pb::ListPendingRecordingsResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::LIST_PENDING_RECORDINGS)
            .await?
            .clone();
        let req = request.into_inner();
        let before = req
            .ingested_before
            .as_ref()
            .map(|t| archive_common::convert::from_timestamp(t, "ingested_before"))
            .transpose()
            .map_err(Error::from)?;
        let size = page_size(req.page_size, "page_size").map_err(Error::from)?;
        // The token is bound to the filter: another `ingested_before` starts over.
        let fingerprint =
            format!("pending:{:?}", before.map(|t| t.timestamp_micros())).into_bytes();
        let after = if req.page_token.is_empty() {
            None
        } else {
            Some(
                self.tokens
                    .open::<PendingCursor>(&req.page_token, &who.tenant, &fingerprint, "page_token")
                    .map_err(Error::from)?,
            )
        };
        let mut found = self
            .store
            .pending_recordings(&who.tenant, before, after, size + 1)
            .await
            .map_err(Error::from)?;
        let next_page_token = if found.len() > size as usize {
            found.truncate(size as usize);
            let (last, _) = found.last().expect("a full page has a last row");
            let cursor = PendingCursor {
                ingested_us: last
                    .ingested_at
                    .map_or(i64::MIN, |at| at.timestamp_micros()),
                recording_id: last.recording_id,
            };
            self.tokens.seal(&who.tenant, &fingerprint, &cursor)
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListPendingRecordingsResponse {
            recordings: found
                .into_iter()
                .map(|(r, c)| pb::RecordingWithCall {
                    recording: Some(recording(r, &who.tenant)),
                    call: Some(c.into()),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn run_retention_sweep(
        &self,
        request: Request<pb::RunRetentionSweepRequest>,
    ) -> Result<Response<pb::RunRetentionSweepResponse>, Status> {
        let who = self
            .gate
            .admit(&request, &access::RUN_RETENTION_SWEEP)
            .await?
            .clone();
        let started = std::time::Instant::now();
        let report = self
            .retention
            .sweep_tenant(&who.tenant)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::RunRetentionSweepResponse {
            recordings_expired: report.recordings_expired,
            calls_purged: report.calls_purged,
            took: Some(archive_common::convert::duration(
                chrono::TimeDelta::from_std(started.elapsed()).unwrap_or_default(),
            )),
        }))
    }
}

//! The call archive itself ([`Archive`], the `archive.v1.CallService` RPCs
//! without their transport): admits the caller, validates, applies the
//! recording rules, and delegates to the [`CallStore`]. Each change is made as the
//! verified caller (a user through the gateway, or a system principal calling
//! directly) with the request's `ActionContext`; the store records its audit
//! event in the same transaction and the audit relay is nudged after commit.

use std::sync::Arc;

use archive_common::{
    Clock, FieldViolation, Principal,
    identity::{Caller, Rule},
    page_token::PageTokens,
};
use archive_proto::v1 as pb;
use async_trait::async_trait;
use audit_svc::{
    gate::Gate,
    outbox::{Change, Context, Nudge},
};

use crate::{
    Error, access,
    archive::Archive,
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

    /// The caller's principal if `rule` admits them (a refusal is recorded).
    async fn admit<'c>(&self, caller: &'c Caller, rule: &Rule) -> Result<&'c Principal, Error> {
        self.gate
            .check(caller, rule)
            .await
            .map_err(|refusal| Error::Refused(refusal.into()))
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

#[async_trait]
impl Archive for CallArchive {
    async fn ingest_call(
        &self,
        caller: &Caller,
        request: pb::IngestCallRequest,
    ) -> Result<pb::IngestCallResponse, Error> {
        let who = self.admit(caller, &access::INGEST_CALL).await?;
        let report = CallReport::try_from(request)?;
        let settings = self.store.settings(&who.tenant).await?;
        let call = rules::decide(&report, settings.consult_recording);
        let change = self.change(who, None)?;
        let (stored, created) = self.store.insert_call(&who.tenant, &call, &change).await?;
        if created {
            self.audit.nudge();
        }
        tracing::info!(tenant = %who.tenant, session = %call.session_id, created, recordings = stored.recordings.len(), "call ingested");
        Ok(pb::IngestCallResponse {
            call: Some(stored.into()),
            created,
        })
    }

    async fn batch_ingest_calls(
        &self,
        caller: &Caller,
        request: pb::BatchIngestCallsRequest,
    ) -> Result<pb::BatchIngestCallsResponse, Error> {
        let who = self.admit(caller, &access::BATCH_INGEST_CALLS).await?;
        let calls = request.calls;
        if calls.is_empty() || calls.len() > MAX_BATCH {
            return Err(
                FieldViolation::new("calls", format!("must hold 1 to {MAX_BATCH} calls")).into(),
            );
        }
        // Validate everything before writing anything.
        let reports = calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| CallReport::try_from(c).map_err(|v| v.within(&format!("calls[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        let settings = self.store.settings(&who.tenant).await?;
        let decided: Vec<_> = reports
            .iter()
            .map(|r| rules::decide(r, settings.consult_recording))
            .collect();
        let change = self.change(who, None)?;
        let stored = self
            .store
            .insert_calls(&who.tenant, &decided, &change)
            .await?;
        if stored.iter().any(|(_, created)| *created) {
            self.audit.nudge();
        }
        Ok(pb::BatchIngestCallsResponse {
            results: stored
                .into_iter()
                .map(|(call, created)| pb::IngestCallResponse {
                    call: Some(call.into()),
                    created,
                })
                .collect(),
        })
    }

    async fn search_calls(
        &self,
        caller: &Caller,
        req: pb::SearchCallsRequest,
    ) -> Result<pb::SearchCallsResponse, Error> {
        let who = self.admit(caller, &access::SEARCH_CALLS).await?;
        let mut query = call_query(req.filter, req.order)?;
        query.scope = convert::call_scope(req.scope)?;
        let size = page_size(req.page_size, "page_size")?;
        let (calls, next_page_token) = self
            .page(&who.tenant, &query, size, &req.page_token)
            .await?;
        Ok(pb::SearchCallsResponse {
            calls: calls.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    async fn get_call(
        &self,
        caller: &Caller,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, Error> {
        let who = self.admit(caller, &access::GET_CALL).await?;
        let call_id = uuid(&request.call_id, "call_id")?;
        let call = self
            .store
            .get_call(&who.tenant, call_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("call {call_id}")))?;
        Ok(pb::GetCallResponse {
            call: Some(call.into()),
        })
    }

    async fn batch_get_recordings(
        &self,
        caller: &Caller,
        request: pb::BatchGetRecordingsRequest,
    ) -> Result<pb::BatchGetRecordingsResponse, Error> {
        let who = self.admit(caller, &access::BATCH_GET_RECORDINGS).await?;
        let ids = recording_ids(&request.recording_ids, "recording_ids", MAX_BATCH)?;
        let mut found: std::collections::HashMap<_, _> = self
            .store
            .get_recordings(&who.tenant, &ids)
            .await?
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
        Ok(pb::BatchGetRecordingsResponse { recordings })
    }

    async fn list_agent_recordings(
        &self,
        caller: &Caller,
        req: pb::ListAgentRecordingsRequest,
    ) -> Result<pb::ListAgentRecordingsResponse, Error> {
        let who = self.admit(caller, &access::LIST_AGENT_RECORDINGS).await?;
        if req.agent.trim().is_empty() {
            return Err(FieldViolation::missing("agent").into());
        }
        archive_common::error::check_text(&req.agent, "agent", convert::MAX_NAME)?;
        let size = page_size(req.page_size, "page_size")?;
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
        Ok(pb::ListAgentRecordingsResponse {
            calls,
            next_page_token,
        })
    }

    async fn mark_recordings_deleted(
        &self,
        caller: &Caller,
        req: pb::MarkRecordingsDeletedRequest,
    ) -> Result<pb::MarkRecordingsDeletedResponse, Error> {
        let who = self.admit(caller, &access::MARK_RECORDINGS_DELETED).await?;
        let ids = recording_ids(&req.recording_ids, "recording_ids", MAX_BATCH)?;
        let change = self.change(who, req.context)?;
        // All or nothing: every id must be the tenant's before any marker is set.
        let known = self.store.get_recordings(&who.tenant, &ids).await?;
        if let Some(missing) = ids
            .iter()
            .find(|id| !known.iter().any(|(r, _)| r.recording_id == **id))
        {
            return Err(Error::NotFound(format!("recording {missing}")));
        }
        let recordings = self.store.mark_deleted(&who.tenant, &ids, &change).await?;
        self.audit.nudge();
        // The files made unservable before the user is told (bounded; the
        // outbox retries whatever media-svc did not confirm in time).
        self.retention.delete_now(&who.tenant, &ids).await;
        Ok(pb::MarkRecordingsDeletedResponse {
            recordings: recordings
                .into_iter()
                .map(|r| recording(r, &who.tenant))
                .collect(),
        })
    }

    async fn get_tenant_settings(
        &self,
        caller: &Caller,
        _request: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, Error> {
        let who = self.admit(caller, &access::GET_TENANT_SETTINGS).await?;
        let settings = self.store.settings(&who.tenant).await?;
        Ok(settings.into())
    }

    async fn update_tenant_settings(
        &self,
        caller: &Caller,
        req: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, Error> {
        let who = self.admit(caller, &access::UPDATE_TENANT_SETTINGS).await?;
        let settings = req
            .settings
            .ok_or_else(|| FieldViolation::missing("settings"))
            .and_then(TenantSettings::try_from)?;
        let change = self.change(who, req.context)?;
        if self
            .store
            .put_settings(&who.tenant, &settings, &change)
            .await?
        {
            self.audit.nudge();
        }
        Ok(settings.into())
    }

    async fn set_legal_hold(
        &self,
        caller: &Caller,
        req: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, Error> {
        let who = self.admit(caller, &access::SET_LEGAL_HOLD).await?;
        let call_id = uuid(&req.call_id, "call_id")?;
        let change = self.change(who, req.context)?;
        let call = self
            .store
            .set_legal_hold(&who.tenant, call_id, req.legal_hold, &change)
            .await?
            .ok_or_else(|| Error::NotFound(format!("call {call_id}")))?;
        self.audit.nudge();
        Ok(pb::SetLegalHoldResponse {
            call: Some(call.into()),
        })
    }

    async fn list_pending_media_deletions(
        &self,
        caller: &Caller,
        req: pb::ListPendingMediaDeletionsRequest,
    ) -> Result<pb::ListPendingMediaDeletionsResponse, Error> {
        let who = self
            .admit(caller, &access::LIST_PENDING_MEDIA_DELETIONS)
            .await?;
        // Every tenant's deletions are media-svc's business only (its own
        // key, not a principal's name: the gateway may sign any `system:…`).
        let media_svc = caller.holder == "media-svc";
        let tenant = if req.all_tenants {
            if !media_svc {
                return Err(Error::PermissionDenied(
                    "all_tenants: only media-svc may list every tenant's deletions".into(),
                ));
            }
            None
        } else {
            Some(who.tenant.as_str())
        };
        let size = match req.page_size {
            0 => MAX_PENDING_PAGE,
            n if (1..=MAX_PENDING_PAGE as i32).contains(&n) => n as u32,
            _ => {
                return Err(FieldViolation::new(
                    "page_size",
                    format!("must be 0 to {MAX_PENDING_PAGE}"),
                )
                .into());
            }
        };
        let after = match req.page_token.as_str() {
            "" => None,
            token => Some(uuid(token, "page_token")?),
        };
        let mut found = self
            .store
            .pending_media_deletions(tenant, after, size + 1)
            .await?;
        let next_page_token = if found.len() > size as usize {
            found.truncate(size as usize);
            found
                .last()
                .map(|d| d.recording_id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListPendingMediaDeletionsResponse {
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
        })
    }

    async fn mark_recording_media_stored(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingMediaStoredRequest,
    ) -> Result<pb::MarkRecordingMediaStoredResponse, Error> {
        let who = self
            .admit(caller, &access::MARK_RECORDING_MEDIA_STORED)
            .await?;
        let (id, file) = convert::stored_file(request.media, self.clock.now())?;
        let (recording, requeued) = self
            .store
            .mark_media_stored(&who.tenant, id, &file)
            .await?
            .ok_or_else(|| Error::NotFound(format!("recording {id}")))?;
        if requeued {
            tracing::info!(tenant = %who.tenant, recording = %id, "a file arrived after its recording was deleted or expired; queued for deletion again");
            self.retention.nudge();
        }
        Ok(pb::MarkRecordingMediaStoredResponse {
            recording: Some(convert::recording(recording, &who.tenant)),
        })
    }

    async fn list_pending_recordings(
        &self,
        caller: &Caller,
        req: pb::ListPendingRecordingsRequest,
    ) -> Result<pb::ListPendingRecordingsResponse, Error> {
        let who = self.admit(caller, &access::LIST_PENDING_RECORDINGS).await?;
        let before = req
            .ingested_before
            .as_ref()
            .map(|t| archive_common::convert::from_timestamp(t, "ingested_before"))
            .transpose()?;
        let size = page_size(req.page_size, "page_size")?;
        // The token is bound to the filter: another `ingested_before` starts over.
        let fingerprint =
            format!("pending:{:?}", before.map(|t| t.timestamp_micros())).into_bytes();
        let after = if req.page_token.is_empty() {
            None
        } else {
            Some(self.tokens.open::<PendingCursor>(
                &req.page_token,
                &who.tenant,
                &fingerprint,
                "page_token",
            )?)
        };
        let mut found = self
            .store
            .pending_recordings(&who.tenant, before, after, size + 1)
            .await?;
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
        Ok(pb::ListPendingRecordingsResponse {
            recordings: found
                .into_iter()
                .map(|(r, c)| pb::RecordingWithCall {
                    recording: Some(recording(r, &who.tenant)),
                    call: Some(c.into()),
                })
                .collect(),
            next_page_token,
        })
    }

    async fn run_retention_sweep(
        &self,
        caller: &Caller,
        _request: pb::RunRetentionSweepRequest,
    ) -> Result<pb::RunRetentionSweepResponse, Error> {
        let who = self.admit(caller, &access::RUN_RETENTION_SWEEP).await?;
        let started = std::time::Instant::now();
        let report = self.retention.sweep_tenant(&who.tenant).await?;
        Ok(pb::RunRetentionSweepResponse {
            recordings_expired: report.recordings_expired,
            calls_purged: report.calls_purged,
            took: Some(archive_common::convert::duration(
                chrono::TimeDelta::from_std(started.elapsed()).unwrap_or_default(),
            )),
        })
    }
}

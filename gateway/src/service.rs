//! The gateway's own service, `archive.v1.ArchiveService`, as Rust: the
//! product's flows composed from the services behind it, for an actor
//! already known. [`crate::grpc`] serves it over tonic, [`crate::api`] as JSON.

use std::sync::Arc;

use archive_common::{Clock, FieldViolation, Principal, identity::Caller};
use archive_proto::v1 as pb;
use futures::{TryStreamExt as _, stream::BoxStream};
use tonic::Status;

use crate::{
    Error,
    flows::scopes::{Found, PageVerdicts, ScopeHints},
    flows::{
        Actor, deletion,
        export::{self, ExportSettings},
        playback::{self, PlaybackSettings},
        searches::SearchAudit,
    },
    origin::TrustedProxies,
    rows::call_row,
    upstream::{ARCHIVE, AUDIT, AUTHZ, Upstreams},
};

/// The product's flows and what they are configured with.
pub struct Gateway {
    pub upstreams: Upstreams,
    pub searches: SearchAudit,
    pub playback: PlaybackSettings,
    pub exports: ExportSettings,
    pub proxies: TrustedProxies,
    pub clock: Arc<dyn Clock>,
    pub scope_hints: ScopeHints,
}

impl Gateway {
    /// The caller as audit-svc's, if they may view the whole Archive Audit
    /// log (PERMISSION_DENIED otherwise).
    async fn auditor(&self, who: &Principal) -> Result<Caller, Error> {
        let (caller, whole) = self.reader(who).await?;
        if !whole {
            return Err(Error::PermissionDenied(
                "the whole trail needs an audit scope of all calls; yours is your own actions"
                    .into(),
            ));
        }
        Ok(caller)
    }

    /// The caller as audit-svc's, if they may view the Archive Audit log
    /// (PERMISSION_DENIED otherwise), and whether they may see all of it
    /// (else only the events of their own actions).
    async fn reader(&self, who: &Principal) -> Result<(Caller, bool), Error> {
        let decision = (self.upstreams)
            .require(
                who,
                pb::Action::ViewAudit,
                "may not view the Archive Audit log",
            )
            .await?;
        let whole = decision.scope.is_none_or(|s| s.all_calls);
        Ok((Upstreams::caller(who), whole))
    }

    async fn my_permissions(&self, who: &Principal) -> Result<pb::User, Error> {
        let up = &self.upstreams;
        let caller = Upstreams::caller(who);
        let answer = (up.authz).get_my_permissions(&caller, pb::GetMyPermissionsRequest {});
        up.call(&AUTHZ, "GetMyPermissions", answer).await
    }

    /// The rows of `calls` with the user's verdicts on each recording
    /// (`found`: whether the calls are all within the user's search scope).
    async fn rows(
        &self,
        who: &Principal,
        page: &PageVerdicts,
        calls: Vec<pb::Call>,
        found: Found,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<pb::CallRow>, Error> {
        let verdicts = self
            .upstreams
            .row_verdicts(who, page, &calls, found)
            .await?;
        Ok(calls
            .into_iter()
            .map(|c| call_row(c, &verdicts, tz))
            .collect())
    }
}

/// The product's flows, one per `archive.v1.ArchiveService` RPC, for an
/// actor already known ([`crate::grpc`] and [`crate::api`] find it in their
/// transport's terms).
impl Gateway {
    pub async fn get_session(&self, who: &Principal) -> Result<pb::GetSessionResponse, Error> {
        let (user, tenant) =
            tokio::try_join!(self.my_permissions(who), self.upstreams.tenant(who))?;
        Ok(pb::GetSessionResponse {
            reason_codes: tenant.reason_codes.clone(),
            customer: who.tenant.clone(),
            user_id: who.user_id.clone(),
            display_name: who.display_name.clone(),
            permissions: user.effective_permissions,
            time_zone: tenant.time_zone.name().to_owned(),
            scopes: user.effective_scopes,
            roles: user.roles,
            agent_name: user.agent_name,
            reason_actions: Some(tenant.reason_actions),
        })
    }

    pub async fn search_call_rows(
        &self,
        actor: &Actor,
        req: pb::SearchCallRowsRequest,
    ) -> Result<pb::SearchCallRowsResponse, Error> {
        let who = &actor.principal;
        let search = |scope: Option<pb::CallScope>| {
            let request = pb::SearchCallsRequest {
                filter: req.filter.clone(),
                order: req.order,
                page_size: req.page_size,
                page_token: req.page_token.clone(),
                scope,
            };
            let caller = Upstreams::caller(who);
            let up = &self.upstreams;
            async move {
                let answer = up.archive.search_calls(&caller, request);
                up.call(&ARCHIVE, "SearchCalls", answer).await
            }
        };
        // The search runs while authz-svc answers, within the scope the user
        // had last time (most users: every call). Its page is used only if
        // authz-svc's answer names that scope; otherwise the search runs
        // again within the scope it names, and the first answer is dropped.
        let hint = self.scope_hints.get(who);
        let (page, tenant, speculated) = tokio::join!(
            self.upstreams.page_verdicts(who),
            self.upstreams.tenant(who),
            search(hint.clone())
        );
        let (page, tenant) = (page?, tenant?);
        let scope = page.call_scope();
        self.scope_hints.put(who, scope.as_ref());
        let found = if scope == hint {
            speculated?
        } else {
            search(scope).await?
        };
        if tenant.search_audit {
            self.searches.record(
                actor,
                Some(&req.filter.unwrap_or_default()),
                req.order,
                !req.page_token.is_empty(),
            )?;
        }
        Ok(pb::SearchCallRowsResponse {
            rows: (self.rows(
                who,
                &page,
                found.calls,
                Found::InSearchScope,
                tenant.time_zone,
            ))
            .await?,
            next_page_token: found.next_page_token,
        })
    }

    pub async fn get_call_row(
        &self,
        who: &Principal,
        req: pb::GetCallRowRequest,
    ) -> Result<pb::GetCallRowResponse, Error> {
        let up = &self.upstreams;
        let caller = Upstreams::caller(who);
        let answer = (up.archive).get_call(
            &caller,
            pb::GetCallRequest {
                call_id: req.call_id,
            },
        );
        let call = up.call(&ARCHIVE, "GetCall", answer);
        let (call, page, tz) = tokio::join!(call, up.page_verdicts(who), up.time_zone(who));
        // Another tenant's call is NOT_FOUND whoever asks.
        let (call, page, tz) = (call?, page?, tz?);
        let call = call.call.ok_or_else(|| {
            Error::Status(Status::internal("archive-svc answered without a call"))
        })?;
        // A call outside the user's search scope is not theirs to find.
        if !up.may_see(who, &page, &call).await? {
            return Err(Error::NotFound(format!("call {}", call.call_id)));
        }
        let row = (self.rows(who, &page, vec![call], Found::InSearchScope, tz))
            .await?
            .pop();
        Ok(pb::GetCallRowResponse { row })
    }

    pub async fn list_my_call_rows(
        &self,
        actor: &Actor,
        req: pb::ListMyCallRowsRequest,
    ) -> Result<pb::SearchCallRowsResponse, Error> {
        let who = &actor.principal;
        let next_page = !req.page_token.is_empty();
        let me = self.my_permissions(who).await?;
        if me.agent_name.is_empty() {
            return Err(FieldViolation::new(
                "user",
                "this user is not linked to an agent, so has no call recordings of its own",
            )
            .into());
        }
        let mine = pb::ListAgentRecordingsRequest {
            agent: me.agent_name,
            page_size: req.page_size,
            page_token: req.page_token,
        };
        let up = &self.upstreams;
        let caller = Upstreams::caller(who);
        let answer = (up.archive).list_agent_recordings(&caller, mine);
        let found = up.call(&ARCHIVE, "ListAgentRecordings", answer).await?;
        if self.upstreams.tenant(who).await?.search_audit {
            self.searches.record(actor, None, 0, next_page)?;
        }
        let (page, tz) = tokio::try_join!(up.page_verdicts(who), up.time_zone(who))?;
        Ok(pb::SearchCallRowsResponse {
            rows: self
                .rows(who, &page, found.calls, Found::Elsewhere, tz)
                .await?,
            next_page_token: found.next_page_token,
        })
    }

    pub async fn start_playback(
        &self,
        actor: &Actor,
        req: pb::StartPlaybackRequest,
    ) -> Result<pb::StartPlaybackResponse, Error> {
        playback::start(&self.upstreams, &self.playback, actor, req).await
    }

    pub async fn renew_playback(
        &self,
        actor: &Actor,
        req: pb::RenewPlaybackRequest,
    ) -> Result<pb::StartPlaybackResponse, Error> {
        playback::renew(&self.upstreams, &self.playback, actor, req).await
    }

    pub async fn create_export(
        &self,
        actor: &Actor,
        req: pb::CreateExportRequest,
    ) -> Result<pb::CreateExportResponse, Error> {
        export::create(&self.upstreams, &self.exports, actor, req).await
    }

    pub async fn delete_recordings(
        &self,
        actor: &Actor,
        req: pb::DeleteRecordingsRequest,
    ) -> Result<pb::DeleteRecordingsResponse, Error> {
        let who = &actor.principal;
        let deleted = deletion::delete(&self.upstreams, actor, req).await?;
        let (page, tz) = tokio::try_join!(
            self.upstreams.page_verdicts(who),
            self.upstreams.time_zone(who)
        )?;
        let calls: Vec<pb::Call> = deleted
            .into_iter()
            .map(|(recording, mut call)| {
                call.recordings = vec![recording];
                call
            })
            .collect();
        // Each passed the search-scope check of the deletion.
        let verdicts = (self.upstreams)
            .row_verdicts(who, &page, &calls, Found::InSearchScope)
            .await?;
        Ok(pb::DeleteRecordingsResponse {
            recordings: calls
                .iter()
                .flat_map(|c| &c.recordings)
                .map(|r| crate::rows::recording_row(r, verdicts.of(r), tz))
                .collect(),
        })
    }

    pub async fn list_audit_events(
        &self,
        who: &Principal,
        mut req: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error> {
        let (caller, whole) = self.reader(who).await?;
        if !whole {
            if !req.actor_id.is_empty() && req.actor_id != who.user_id {
                return Err(Error::PermissionDenied(
                    "you may view only the events of your own actions".into(),
                ));
            }
            req.actor_id = who.user_id.clone();
        }
        let answer = (self.upstreams.audit).list_events(&caller, req);
        self.upstreams.call(&AUDIT, "ListEvents", answer).await
    }

    pub async fn get_audit_checkpoint(
        &self,
        who: &Principal,
        req: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, Error> {
        let caller = self.auditor(who).await?;
        let answer = (self.upstreams.audit).get_checkpoint(&caller, req);
        self.upstreams.call(&AUDIT, "GetCheckpoint", answer).await
    }

    /// audit-svc's stream passes through as it comes: the gateway holds one
    /// chunk at a time, whatever the trail's size.
    pub async fn export_audit_trail(
        &self,
        who: &Principal,
        req: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, Status>>, Error> {
        let caller = self.auditor(who).await?;
        let answer = (self.upstreams.audit).export_trail(&caller, req);
        let chunks = self.upstreams.call(&AUDIT, "ExportTrail", answer).await?;
        Ok(Box::pin(chunks.map_err(Status::from)))
    }

    pub async fn verify_audit_trail(
        &self,
        who: &Principal,
        req: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, Error> {
        let caller = self.auditor(who).await?;
        let answer = (self.upstreams.audit).verify_chain(&caller, req);
        self.upstreams.call(&AUDIT, "VerifyChain", answer).await
    }
}

//! The gateway's own service, `archive.v1.ArchiveService`, as Rust: the
//! product's flows composed from the services behind it, for an actor
//! already known. [`crate::grpc`] serves it over tonic, [`crate::api`] as JSON.

use std::{collections::HashMap, sync::Arc};

use archive_common::{Clock, FieldViolation, Principal, identity::Caller};
use archive_proto::v1 as pb;
use futures::{TryStreamExt as _, stream::BoxStream};
use tonic::Status;

use crate::{
    Error,
    flows::{
        Actor, deletion,
        export::{self, ExportSettings},
        playback::{self, PlaybackSettings},
        searches::SearchAudit,
    },
    origin::TrustedProxies,
    rows::{Verdicts, call_row},
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
}

impl Gateway {
    /// The caller, if they may view the Archive Audit log (PERMISSION_DENIED
    /// otherwise), as audit-svc's caller.
    async fn auditor(&self, who: &Principal) -> Result<Caller, Error> {
        let caller = Upstreams::caller(who);
        let request = pb::DecideRequest {
            action: pb::Action::ViewAudit as i32,
            resource: None,
        };
        let answer = (self.upstreams.authz).decide(&caller, request);
        let decision = self.upstreams.call(&AUTHZ, "Decide", answer).await?;
        let decision = decision.decision.unwrap_or_default();
        if decision.verdict != pb::Verdict::Allow as i32 {
            return Err(Error::PermissionDenied(format!(
                "may not view the Archive Audit log: {}",
                decision.reason
            )));
        }
        Ok(caller)
    }

    /// The user's verdicts for the row actions, and whether they may search at all.
    async fn verdicts(&self, who: &Principal) -> Result<Verdicts, Error> {
        use pb::Action::{Delete, Download, Play, Search};
        let decided = self.decide(who, [Search, Play, Download, Delete]).await?;
        let (search, why) = decided(Search);
        if search != pb::Verdict::Allow {
            return Err(Error::PermissionDenied(format!(
                "may not search the archive: {why}"
            )));
        }
        Ok(Verdicts {
            play: decided(Play).0,
            download: decided(Download).0,
            delete: decided(Delete).0,
        })
    }

    /// authz-svc's verdict (and why) on each of `actions`, on no recording in
    /// particular, read back by action; one it did not answer is denied.
    async fn decide<const N: usize>(
        &self,
        who: &Principal,
        actions: [pb::Action; N],
    ) -> Result<impl Fn(pb::Action) -> (pb::Verdict, String), Error> {
        let requests = actions
            .iter()
            .map(|a| pb::DecideRequest {
                action: *a as i32,
                resource: None,
            })
            .collect();
        let up = &self.upstreams;
        let caller = Upstreams::caller(who);
        let answer = (up.authz).batch_decide(&caller, pb::BatchDecideRequest { requests });
        let decisions = up.call(&AUTHZ, "BatchDecide", answer).await?.decisions;
        // BatchDecide answers in the order asked.
        let by_action: HashMap<pb::Action, pb::Decision> =
            actions.into_iter().zip(decisions).collect();
        Ok(move |action| match by_action.get(&action) {
            Some(d) => (
                pb::Verdict::try_from(d.verdict).unwrap_or(pb::Verdict::Deny),
                d.reason.clone(),
            ),
            None => (pb::Verdict::Deny, String::new()),
        })
    }

    async fn my_permissions(&self, who: &Principal) -> Result<pb::User, Error> {
        let up = &self.upstreams;
        let caller = Upstreams::caller(who);
        let answer = (up.authz).get_my_permissions(&caller, pb::GetMyPermissionsRequest {});
        up.call(&AUTHZ, "GetMyPermissions", answer).await
    }

    async fn rows(&self, who: &Principal, calls: Vec<pb::Call>) -> Result<Vec<pb::CallRow>, Error> {
        let (verdicts, tz) = tokio::try_join!(self.verdicts(who), self.upstreams.time_zone(who))?;
        Ok(call_rows(calls, verdicts, tz))
    }
}

fn call_rows(calls: Vec<pb::Call>, verdicts: Verdicts, tz: chrono_tz::Tz) -> Vec<pb::CallRow> {
    calls
        .into_iter()
        .map(|c| call_row(c, verdicts, tz))
        .collect()
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
            permissions: user.permissions,
            time_zone: tenant.time_zone.name().to_owned(),
            ..Default::default()
        })
    }

    pub async fn search_call_rows(
        &self,
        actor: &Actor,
        req: pb::SearchCallRowsRequest,
    ) -> Result<pb::SearchCallRowsResponse, Error> {
        let who = &actor.principal;
        // The three answers are independent: ask for them at once. A user who
        // may not search gets PERMISSION_DENIED and none of the rows.
        let caller = Upstreams::caller(who);
        let search = pb::SearchCallsRequest {
            filter: req.filter.clone(),
            order: req.order,
            page_size: req.page_size,
            page_token: req.page_token.clone(),
            scope: None,
        };
        let answer = self.upstreams.archive.search_calls(&caller, search);
        let search = self.upstreams.call(&ARCHIVE, "SearchCalls", answer);
        let (verdicts, tenant, found) =
            tokio::try_join!(self.verdicts(who), self.upstreams.tenant(who), search)?;
        if tenant.search_audit {
            self.searches.record(
                actor,
                Some(&req.filter.unwrap_or_default()),
                req.order,
                !req.page_token.is_empty(),
            )?;
        }
        Ok(pb::SearchCallRowsResponse {
            rows: call_rows(found.calls, verdicts, tenant.time_zone),
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
        let call = up.call(&ARCHIVE, "GetCall", answer).await?.call;
        let call = call.ok_or_else(|| {
            Error::Status(Status::internal("archive-svc answered without a call"))
        })?;
        let row = self.rows(who, vec![call]).await?.pop();
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
        Ok(pb::SearchCallRowsResponse {
            rows: self.rows(who, found.calls).await?,
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
        let recordings = deletion::delete(&self.upstreams, actor, req).await?;
        let (verdicts, tz) = tokio::try_join!(self.verdicts(who), self.upstreams.time_zone(who))?;
        Ok(pb::DeleteRecordingsResponse {
            recordings: recordings
                .iter()
                .map(|r| crate::rows::recording_row(r, verdicts, tz))
                .collect(),
        })
    }

    pub async fn list_audit_events(
        &self,
        who: &Principal,
        req: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Error> {
        let caller = self.auditor(who).await?;
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

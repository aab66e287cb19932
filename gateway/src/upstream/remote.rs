//! The services over gRPC (split mode): one client per service implementing
//! its domain trait, the caller's principal signed with the gateway's key on
//! every request and a failure's status passed back as the service's
//! `Upstream` error, which its `From<Error> for Status` gives back as it came.
//! The channels keep their timeout and retry layers.

use std::time::Duration;

use archive_common::{
    Clock, IdentityKey,
    identity::Caller,
    telemetry::client::{self, TracedChannel},
};
use archive_proto::v1::{
    self as pb, audit_service_client::AuditServiceClient, authz_service_client::AuthzServiceClient,
    call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use futures::{StreamExt as _, TryStreamExt as _, stream::BoxStream};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Where each upstream service listens.
#[derive(Debug, Clone)]
pub struct UpstreamUrls {
    pub archive: String,
    pub media: String,
    pub authz: String,
    pub audit: String,
}

/// Connections to the services' addresses ([`Channels::connect`]).
#[derive(Clone)]
pub struct Channels {
    pub archive: TracedChannel,
    pub media: TracedChannel,
    pub authz: TracedChannel,
    pub audit: TracedChannel,
    /// Appends wait less than reads: an action waits on its audit record.
    pub audit_append: TracedChannel,
}

/// Per-call timeout of every channel but `audit_append`'s (and of a call in
/// embedded mode), and the default of `--upstream-timeout-secs`.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a channel to a URL may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Channels {
    /// Channels connect lazily, so the gateway starts before its upstreams.
    /// A call waits `timeout` for its answer (appends: audit-svc's own bound),
    /// then fails DEADLINE_EXCEEDED; a call that gets no answer at all fails
    /// UNAVAILABLE, a read only after a second try (`archive_common::call_errors`).
    pub fn connect(
        urls: &UpstreamUrls,
        timeout: Duration,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = |url: &str| client::channel(url, CONNECT_TIMEOUT, timeout);
        Ok(Self {
            archive: channel(&urls.archive)?,
            media: channel(&urls.media)?,
            authz: channel(&urls.authz)?,
            audit: channel(&urls.audit)?,
            audit_append: client::channel(
                &urls.audit,
                CONNECT_TIMEOUT,
                audit_svc::client::DEFAULT_TIMEOUT,
            )?,
        })
    }
}

impl super::Upstreams {
    /// The services over gRPC at `channels`, each caller signed with `key`.
    pub fn remote(channels: Channels, key: IdentityKey, clock: Arc<dyn Clock>) -> Self {
        Self::with(
            Arc::new(Remote::new(CallServiceClient::new(channels.archive), &key)),
            Arc::new(Remote::new(AuthzServiceClient::new(channels.authz), &key)),
            Arc::new(Remote::new(MediaServiceClient::new(channels.media), &key)),
            audit(channels.audit, channels.audit_append, &key),
            false,
            clock,
        )
    }
}

/// audit-svc over gRPC, in embedded mode too (its in-process stack): its
/// access check passes the user's signed identity on to authz-svc, which a
/// call with nothing encoded does not carry.
pub fn audit(
    reads: TracedChannel,
    appends: TracedChannel,
    key: &IdentityKey,
) -> Arc<dyn audit_svc::AuditTrail> {
    let clients = AuditClients {
        reads: AuditServiceClient::new(reads),
        appends: AuditServiceClient::new(appends),
    };
    Arc::new(Remote::new(clients, key))
}

/// A service's gRPC client, signing each caller with the gateway's key.
struct Remote<C> {
    client: C,
    key: IdentityKey,
}

impl<C> Remote<C> {
    fn new(client: C, key: &IdentityKey) -> Self {
        let key = key.clone();
        Self { client, key }
    }

    /// A client and `message` signed as sent for `caller`.
    fn signed<T>(&self, caller: &Caller, message: T) -> (C, Request<T>)
    where
        C: Clone,
    {
        let request = self.key.request(message, &caller.principal);
        (self.client.clone(), request)
    }
}

/// audit-svc's channels: appends are bounded tighter than reads.
#[derive(Clone)]
struct AuditClients {
    reads: AuditServiceClient<TracedChannel>,
    appends: AuditServiceClient<TracedChannel>,
}

/// The message of an answer, or its status as the service's error.
fn answer<T, E: Upstream>(answer: Result<Response<T>, Status>) -> Result<T, E> {
    answer.map(Response::into_inner).map_err(E::upstream)
}

/// A service's error for the status its gRPC server answered.
trait Upstream {
    fn upstream(status: Status) -> Self;
}

impl Upstream for archive_svc::Error {
    fn upstream(status: Status) -> Self {
        Self::Upstream(status)
    }
}

impl Upstream for authz_svc::Error {
    fn upstream(status: Status) -> Self {
        Self::Upstream(status)
    }
}

impl Upstream for media_svc::Error {
    fn upstream(status: Status) -> Self {
        Self::Passed(status)
    }
}

impl Upstream for audit_svc::Error {
    fn upstream(status: Status) -> Self {
        Self::Upstream(status)
    }
}

#[async_trait::async_trait]
impl archive_svc::Archive for Remote<CallServiceClient<TracedChannel>> {
    async fn ingest_call(
        &self,
        caller: &Caller,
        request: pb::IngestCallRequest,
    ) -> Result<pb::IngestCallResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.ingest_call(r).await)
    }

    async fn batch_ingest_calls(
        &self,
        caller: &Caller,
        request: pb::BatchIngestCallsRequest,
    ) -> Result<pb::BatchIngestCallsResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.batch_ingest_calls(r).await)
    }

    async fn search_calls(
        &self,
        caller: &Caller,
        request: pb::SearchCallsRequest,
    ) -> Result<pb::SearchCallsResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.search_calls(r).await)
    }

    async fn get_call(
        &self,
        caller: &Caller,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.get_call(r).await)
    }

    async fn batch_get_recordings(
        &self,
        caller: &Caller,
        request: pb::BatchGetRecordingsRequest,
    ) -> Result<pb::BatchGetRecordingsResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.batch_get_recordings(r).await)
    }

    async fn list_agent_recordings(
        &self,
        caller: &Caller,
        request: pb::ListAgentRecordingsRequest,
    ) -> Result<pb::ListAgentRecordingsResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.list_agent_recordings(r).await)
    }

    async fn mark_recordings_deleted(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingsDeletedRequest,
    ) -> Result<pb::MarkRecordingsDeletedResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.mark_recordings_deleted(r).await)
    }

    async fn get_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.get_tenant_settings(r).await)
    }

    async fn update_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.update_tenant_settings(r).await)
    }

    async fn set_legal_hold(
        &self,
        caller: &Caller,
        request: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.set_legal_hold(r).await)
    }

    async fn list_pending_media_deletions(
        &self,
        caller: &Caller,
        request: pb::ListPendingMediaDeletionsRequest,
    ) -> Result<pb::ListPendingMediaDeletionsResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.list_pending_media_deletions(r).await)
    }

    async fn mark_recording_media_stored(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingMediaStoredRequest,
    ) -> Result<pb::MarkRecordingMediaStoredResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.mark_recording_media_stored(r).await)
    }

    async fn list_pending_recordings(
        &self,
        caller: &Caller,
        request: pb::ListPendingRecordingsRequest,
    ) -> Result<pb::ListPendingRecordingsResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.list_pending_recordings(r).await)
    }

    async fn run_retention_sweep(
        &self,
        caller: &Caller,
        request: pb::RunRetentionSweepRequest,
    ) -> Result<pb::RunRetentionSweepResponse, archive_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.run_retention_sweep(r).await)
    }
}

#[async_trait::async_trait]
impl authz_svc::Authz for Remote<AuthzServiceClient<TracedChannel>> {
    async fn decide(
        &self,
        caller: &Caller,
        request: pb::DecideRequest,
    ) -> Result<pb::DecideResponse, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.decide(r).await)
    }

    async fn batch_decide(
        &self,
        caller: &Caller,
        request: pb::BatchDecideRequest,
    ) -> Result<pb::BatchDecideResponse, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.batch_decide(r).await)
    }

    async fn get_my_permissions(
        &self,
        caller: &Caller,
        request: pb::GetMyPermissionsRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.get_my_permissions(r).await)
    }

    async fn create_user(
        &self,
        caller: &Caller,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.create_user(r).await)
    }

    async fn get_user(
        &self,
        caller: &Caller,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.get_user(r).await)
    }

    async fn list_users(
        &self,
        caller: &Caller,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.list_users(r).await)
    }

    async fn update_user(
        &self,
        caller: &Caller,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.update_user(r).await)
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, authz_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.delete_user(r).await)
    }
}

#[async_trait::async_trait]
impl media_svc::Media for Remote<MediaServiceClient<TracedChannel>> {
    async fn upload_recording(
        &self,
        caller: &Caller,
        messages: media_svc::MessageStream<pb::UploadRecordingRequest>,
    ) -> Result<pb::UploadRecordingResponse, media_svc::Error> {
        // Gathered first: the gateway uploads nothing itself, and a source's
        // failure then stops the upload before it starts.
        let messages: Vec<_> = messages.try_collect().await?;
        let (mut c, r) = self.signed(caller, tokio_stream::iter(messages));
        let uploaded = c.upload_recording(r).await;
        answer(uploaded)
    }

    async fn read_recording(
        &self,
        caller: &Caller,
        request: pb::ReadRecordingRequest,
    ) -> Result<
        BoxStream<'static, Result<pb::ReadRecordingResponse, media_svc::Error>>,
        media_svc::Error,
    > {
        let (mut c, r) = self.signed(caller, request);
        answer(c.read_recording(r).await)
            .map(|chunks: tonic::Streaming<_>| chunks.map_err(Upstream::upstream).boxed())
    }

    async fn get_media_info(
        &self,
        caller: &Caller,
        request: pb::GetMediaInfoRequest,
    ) -> Result<pb::GetMediaInfoResponse, media_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.get_media_info(r).await)
    }

    async fn batch_get_media_info(
        &self,
        caller: &Caller,
        request: pb::BatchGetMediaInfoRequest,
    ) -> Result<pb::BatchGetMediaInfoResponse, media_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.batch_get_media_info(r).await)
    }

    async fn delete_recording_media(
        &self,
        caller: &Caller,
        request: pb::DeleteRecordingMediaRequest,
    ) -> Result<pb::DeleteRecordingMediaResponse, media_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.delete_recording_media(r).await)
    }
}

#[async_trait::async_trait]
impl audit_svc::AuditTrail for Remote<AuditClients> {
    async fn append_event(
        &self,
        caller: &Caller,
        request: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, audit_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.appends.append_event(r).await)
    }

    async fn append_events(
        &self,
        caller: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, audit_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.appends.append_events(r).await)
    }

    async fn list_events(
        &self,
        caller: &Caller,
        request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, audit_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.reads.list_events(r).await)
    }

    async fn verify_chain(
        &self,
        caller: &Caller,
        request: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, audit_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.reads.verify_chain(r).await)
    }

    async fn get_checkpoint(
        &self,
        caller: &Caller,
        request: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, audit_svc::Error> {
        let (mut c, r) = self.signed(caller, request);
        answer(c.reads.get_checkpoint(r).await)
    }

    async fn export_trail(
        &self,
        caller: &Caller,
        request: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, audit_svc::Error>>, audit_svc::Error>
    {
        let (mut c, r) = self.signed(caller, request);
        answer(c.reads.export_trail(r).await)
            .map(|chunks: tonic::Streaming<_>| chunks.map_err(Upstream::upstream).boxed())
    }
}

/// Whether every upstream answers SERVING on its health service.
pub async fn check_all(urls: &UpstreamUrls) -> Result<(), String> {
    use archive_common::host::{ServingStatus, check_health};
    for (name, url) in [
        ("archive-svc", &urls.archive),
        ("media-svc", &urls.media),
        ("authz-svc", &urls.authz),
        ("audit-svc", &urls.audit),
    ] {
        match check_health(url).await {
            Ok(ServingStatus::Serving) => {}
            Ok(status) => return Err(format!("{name} is {status:?}")),
            Err(e) => return Err(format!("{name}: {e}")),
        }
    }
    Ok(())
}

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
        let audit = AuditClients {
            reads: AuditServiceClient::new(channels.audit),
            appends: AuditServiceClient::new(channels.audit_append),
        };
        Self::with(
            Arc::new(Remote::new(CallServiceClient::new(channels.archive), &key)),
            Arc::new(Remote::new(AuthzServiceClient::new(channels.authz), &key)),
            Arc::new(Remote::new(MediaServiceClient::new(channels.media), &key)),
            Arc::new(Remote::new(audit, &key)),
            false,
            clock,
        )
    }
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

    fn sign<T>(&self, caller: &Caller, message: T) -> Request<T> {
        self.key.request(message, &caller.principal)
    }
}

/// audit-svc's channels: appends are bounded tighter than reads.
struct AuditClients {
    reads: AuditServiceClient<TracedChannel>,
    appends: AuditServiceClient<TracedChannel>,
}

/// The message of an answer, or its status as the service's error.
fn answer<T, E>(answer: Result<Response<T>, Status>, upstream: fn(Status) -> E) -> Result<T, E> {
    answer.map(Response::into_inner).map_err(upstream)
}

#[async_trait::async_trait]
impl archive_svc::Archive for Remote<CallServiceClient<TracedChannel>> {
    async fn ingest_call(
        &self,
        caller: &Caller,
        request: pb::IngestCallRequest,
    ) -> Result<pb::IngestCallResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .ingest_call(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn batch_ingest_calls(
        &self,
        caller: &Caller,
        request: pb::BatchIngestCallsRequest,
    ) -> Result<pb::BatchIngestCallsResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .batch_ingest_calls(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn search_calls(
        &self,
        caller: &Caller,
        request: pb::SearchCallsRequest,
    ) -> Result<pb::SearchCallsResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .search_calls(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn get_call(
        &self,
        caller: &Caller,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .get_call(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn batch_get_recordings(
        &self,
        caller: &Caller,
        request: pb::BatchGetRecordingsRequest,
    ) -> Result<pb::BatchGetRecordingsResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .batch_get_recordings(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn list_agent_recordings(
        &self,
        caller: &Caller,
        request: pb::ListAgentRecordingsRequest,
    ) -> Result<pb::ListAgentRecordingsResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .list_agent_recordings(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn mark_recordings_deleted(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingsDeletedRequest,
    ) -> Result<pb::MarkRecordingsDeletedResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .mark_recordings_deleted(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn get_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .get_tenant_settings(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn update_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .update_tenant_settings(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn set_legal_hold(
        &self,
        caller: &Caller,
        request: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .set_legal_hold(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn list_pending_media_deletions(
        &self,
        caller: &Caller,
        request: pb::ListPendingMediaDeletionsRequest,
    ) -> Result<pb::ListPendingMediaDeletionsResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .list_pending_media_deletions(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn mark_recording_media_stored(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingMediaStoredRequest,
    ) -> Result<pb::MarkRecordingMediaStoredResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .mark_recording_media_stored(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn list_pending_recordings(
        &self,
        caller: &Caller,
        request: pb::ListPendingRecordingsRequest,
    ) -> Result<pb::ListPendingRecordingsResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .list_pending_recordings(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }

    async fn run_retention_sweep(
        &self,
        caller: &Caller,
        request: pb::RunRetentionSweepRequest,
    ) -> Result<pb::RunRetentionSweepResponse, archive_svc::Error> {
        answer(
            self.client
                .clone()
                .run_retention_sweep(self.sign(caller, request))
                .await,
            archive_svc::Error::Upstream,
        )
    }
}

#[async_trait::async_trait]
impl authz_svc::Authz for Remote<AuthzServiceClient<TracedChannel>> {
    async fn decide(
        &self,
        caller: &Caller,
        request: pb::DecideRequest,
    ) -> Result<pb::DecideResponse, authz_svc::Error> {
        answer(
            self.client.clone().decide(self.sign(caller, request)).await,
            authz_svc::Error::Upstream,
        )
    }

    async fn batch_decide(
        &self,
        caller: &Caller,
        request: pb::BatchDecideRequest,
    ) -> Result<pb::BatchDecideResponse, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .batch_decide(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
    }

    async fn get_my_permissions(
        &self,
        caller: &Caller,
        request: pb::GetMyPermissionsRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .get_my_permissions(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
    }

    async fn create_user(
        &self,
        caller: &Caller,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .create_user(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
    }

    async fn get_user(
        &self,
        caller: &Caller,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .get_user(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
    }

    async fn list_users(
        &self,
        caller: &Caller,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .list_users(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
    }

    async fn update_user(
        &self,
        caller: &Caller,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .update_user(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, authz_svc::Error> {
        answer(
            self.client
                .clone()
                .delete_user(self.sign(caller, request))
                .await,
            authz_svc::Error::Upstream,
        )
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
        let request = self.sign(caller, tokio_stream::iter(messages));
        let uploaded = self.client.clone().upload_recording(request).await;
        answer(uploaded, media_svc::Error::Passed)
    }

    async fn read_recording(
        &self,
        caller: &Caller,
        request: pb::ReadRecordingRequest,
    ) -> Result<
        BoxStream<'static, Result<pb::ReadRecordingResponse, media_svc::Error>>,
        media_svc::Error,
    > {
        let chunks = answer(
            self.client
                .clone()
                .read_recording(self.sign(caller, request))
                .await,
            media_svc::Error::Passed,
        )?;
        Ok(chunks.map_err(media_svc::Error::Passed).boxed())
    }

    async fn get_media_info(
        &self,
        caller: &Caller,
        request: pb::GetMediaInfoRequest,
    ) -> Result<pb::GetMediaInfoResponse, media_svc::Error> {
        answer(
            self.client
                .clone()
                .get_media_info(self.sign(caller, request))
                .await,
            media_svc::Error::Passed,
        )
    }

    async fn batch_get_media_info(
        &self,
        caller: &Caller,
        request: pb::BatchGetMediaInfoRequest,
    ) -> Result<pb::BatchGetMediaInfoResponse, media_svc::Error> {
        answer(
            self.client
                .clone()
                .batch_get_media_info(self.sign(caller, request))
                .await,
            media_svc::Error::Passed,
        )
    }

    async fn delete_recording_media(
        &self,
        caller: &Caller,
        request: pb::DeleteRecordingMediaRequest,
    ) -> Result<pb::DeleteRecordingMediaResponse, media_svc::Error> {
        answer(
            self.client
                .clone()
                .delete_recording_media(self.sign(caller, request))
                .await,
            media_svc::Error::Passed,
        )
    }
}

#[async_trait::async_trait]
impl audit_svc::AuditTrail for Remote<AuditClients> {
    async fn append_event(
        &self,
        caller: &Caller,
        request: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, audit_svc::Error> {
        answer(
            self.client
                .appends
                .clone()
                .append_event(self.sign(caller, request))
                .await,
            audit_svc::Error::Upstream,
        )
    }

    async fn append_events(
        &self,
        caller: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, audit_svc::Error> {
        answer(
            self.client
                .appends
                .clone()
                .append_events(self.sign(caller, request))
                .await,
            audit_svc::Error::Upstream,
        )
    }

    async fn list_events(
        &self,
        caller: &Caller,
        request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, audit_svc::Error> {
        answer(
            self.client
                .reads
                .clone()
                .list_events(self.sign(caller, request))
                .await,
            audit_svc::Error::Upstream,
        )
    }

    async fn verify_chain(
        &self,
        caller: &Caller,
        request: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, audit_svc::Error> {
        answer(
            self.client
                .reads
                .clone()
                .verify_chain(self.sign(caller, request))
                .await,
            audit_svc::Error::Upstream,
        )
    }

    async fn get_checkpoint(
        &self,
        caller: &Caller,
        request: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, audit_svc::Error> {
        answer(
            self.client
                .reads
                .clone()
                .get_checkpoint(self.sign(caller, request))
                .await,
            audit_svc::Error::Upstream,
        )
    }

    async fn export_trail(
        &self,
        caller: &Caller,
        request: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, audit_svc::Error>>, audit_svc::Error>
    {
        let chunks = answer(
            self.client
                .reads
                .clone()
                .export_trail(self.sign(caller, request))
                .await,
            audit_svc::Error::Upstream,
        )?;
        Ok(chunks.map_err(audit_svc::Error::Upstream).boxed())
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

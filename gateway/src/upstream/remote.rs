//! The services over gRPC (split mode): one client per service implementing
//! its domain trait, the caller's principal signed with the gateway's key on
//! every request and a failure's status passed back as the service's
//! `Upstream` error, which its `From<Error> for Status` gives back as it came.
//! The channels keep their timeout and retry layers.

use std::time::Duration;

use archive_common::{
    Clock, IdentityKey, convert,
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

type Calls = CallServiceClient<TracedChannel>;
type Users = AuthzServiceClient<TracedChannel>;
type Files = MediaServiceClient<TracedChannel>;
type Trail = AuditServiceClient<TracedChannel>;

impl super::Upstreams {
    /// The services over gRPC at `channels`, each caller signed with `key`.
    pub fn remote(channels: Channels, key: IdentityKey, clock: Arc<dyn Clock>) -> Self {
        let in_process = Self::in_process(
            Arc::new(Remote::new(Calls::new(channels.archive), &key)),
            Arc::new(Remote::new(Users::new(channels.authz), &key)),
            Arc::new(Remote::new(Files::new(channels.media), &key)),
            audit(channels.audit, channels.audit_append, &key, clock.clone()),
            clock,
        );
        // Calls over gRPC: the transport bounds and traces them.
        Self {
            in_process: false,
            ..in_process
        }
    }
}

/// audit-svc over gRPC: appends and reads on their own channels (appends
/// are bounded tighter).
fn audit(
    reads: TracedChannel,
    appends: TracedChannel,
    key: &IdentityKey,
    clock: Arc<dyn Clock>,
) -> Arc<dyn audit_svc::AuditTrail> {
    Arc::new(Audit {
        reads: Remote::new(Trail::new(reads), key),
        appends: Remote::new(Trail::new(appends), key),
        clock,
    })
}

/// A service's gRPC client, signing each caller with the gateway's key.
struct Remote<C> {
    client: C,
    key: IdentityKey,
}

impl<C: Clone> Remote<C> {
    fn new(client: C, key: &IdentityKey) -> Self {
        let key = key.clone();
        Self { client, key }
    }

    /// `method` of the client asked `message`, signed as sent for `caller`:
    /// the answer's message, or its status as the service's error.
    async fn call<T, R, E: Upstream>(
        &self,
        caller: &Caller,
        message: T,
        method: impl AsyncFnOnce(&mut C, Request<T>) -> Result<Response<R>, Status>,
    ) -> Result<R, E> {
        let request = self.key.request(message, &caller.principal);
        let answer = method(&mut self.client.clone(), request).await;
        answer.map(Response::into_inner).map_err(E::UPSTREAM)
    }
}

/// audit-svc's clients: appends are bounded tighter than reads.
struct Audit {
    reads: Remote<Trail>,
    appends: Remote<Trail>,
    /// Turns a commit deadline into the call's `grpc-timeout`.
    clock: Arc<dyn Clock>,
}

/// A streamed answer, each failure as the service's error.
fn streamed<T: Send + 'static, E: Upstream>(
    chunks: tonic::Streaming<T>,
) -> BoxStream<'static, Result<T, E>> {
    chunks.map_err(E::UPSTREAM).boxed()
}

/// A service's error for the status its gRPC server answered.
trait Upstream: Send + 'static {
    const UPSTREAM: fn(Status) -> Self;
}

impl Upstream for archive_svc::Error {
    const UPSTREAM: fn(Status) -> Self = Self::Upstream;
}

impl Upstream for authz_svc::Error {
    const UPSTREAM: fn(Status) -> Self = Self::Upstream;
}

impl Upstream for media_svc::Error {
    const UPSTREAM: fn(Status) -> Self = Self::Passed;
}

impl Upstream for audit_svc::Error {
    const UPSTREAM: fn(Status) -> Self = Self::Upstream;
}

#[async_trait::async_trait]
impl archive_svc::Archive for Remote<Calls> {
    async fn ingest_call(
        &self,
        caller: &Caller,
        request: pb::IngestCallRequest,
    ) -> Result<pb::IngestCallResponse, archive_svc::Error> {
        self.call(caller, request, Calls::ingest_call).await
    }

    async fn batch_ingest_calls(
        &self,
        caller: &Caller,
        request: pb::BatchIngestCallsRequest,
    ) -> Result<pb::BatchIngestCallsResponse, archive_svc::Error> {
        self.call(caller, request, Calls::batch_ingest_calls).await
    }

    async fn search_calls(
        &self,
        caller: &Caller,
        request: pb::SearchCallsRequest,
    ) -> Result<pb::SearchCallsResponse, archive_svc::Error> {
        self.call(caller, request, Calls::search_calls).await
    }

    async fn get_call(
        &self,
        caller: &Caller,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, archive_svc::Error> {
        self.call(caller, request, Calls::get_call).await
    }

    async fn batch_get_recordings(
        &self,
        caller: &Caller,
        request: pb::BatchGetRecordingsRequest,
    ) -> Result<pb::BatchGetRecordingsResponse, archive_svc::Error> {
        self.call(caller, request, Calls::batch_get_recordings)
            .await
    }

    async fn list_agent_recordings(
        &self,
        caller: &Caller,
        request: pb::ListAgentRecordingsRequest,
    ) -> Result<pb::ListAgentRecordingsResponse, archive_svc::Error> {
        self.call(caller, request, Calls::list_agent_recordings)
            .await
    }

    async fn mark_recordings_deleted(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingsDeletedRequest,
    ) -> Result<pb::MarkRecordingsDeletedResponse, archive_svc::Error> {
        self.call(caller, request, Calls::mark_recordings_deleted)
            .await
    }

    async fn get_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        self.call(caller, request, Calls::get_tenant_settings).await
    }

    async fn update_tenant_settings(
        &self,
        caller: &Caller,
        request: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        self.call(caller, request, Calls::update_tenant_settings)
            .await
    }

    async fn set_legal_hold(
        &self,
        caller: &Caller,
        request: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, archive_svc::Error> {
        self.call(caller, request, Calls::set_legal_hold).await
    }

    async fn list_pending_media_deletions(
        &self,
        caller: &Caller,
        request: pb::ListPendingMediaDeletionsRequest,
    ) -> Result<pb::ListPendingMediaDeletionsResponse, archive_svc::Error> {
        self.call(caller, request, Calls::list_pending_media_deletions)
            .await
    }

    async fn mark_recording_media_stored(
        &self,
        caller: &Caller,
        request: pb::MarkRecordingMediaStoredRequest,
    ) -> Result<pb::MarkRecordingMediaStoredResponse, archive_svc::Error> {
        self.call(caller, request, Calls::mark_recording_media_stored)
            .await
    }

    async fn list_pending_recordings(
        &self,
        caller: &Caller,
        request: pb::ListPendingRecordingsRequest,
    ) -> Result<pb::ListPendingRecordingsResponse, archive_svc::Error> {
        self.call(caller, request, Calls::list_pending_recordings)
            .await
    }

    async fn run_retention_sweep(
        &self,
        caller: &Caller,
        request: pb::RunRetentionSweepRequest,
    ) -> Result<pb::RunRetentionSweepResponse, archive_svc::Error> {
        self.call(caller, request, Calls::run_retention_sweep).await
    }
}

#[async_trait::async_trait]
impl authz_svc::Authz for Remote<Users> {
    async fn decide(
        &self,
        caller: &Caller,
        request: pb::DecideRequest,
    ) -> Result<pb::DecideResponse, authz_svc::Error> {
        self.call(caller, request, Users::decide).await
    }

    async fn batch_decide(
        &self,
        caller: &Caller,
        request: pb::BatchDecideRequest,
    ) -> Result<pb::BatchDecideResponse, authz_svc::Error> {
        self.call(caller, request, Users::batch_decide).await
    }

    async fn get_my_permissions(
        &self,
        caller: &Caller,
        request: pb::GetMyPermissionsRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        self.call(caller, request, Users::get_my_permissions).await
    }

    async fn create_user(
        &self,
        caller: &Caller,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        self.call(caller, request, Users::create_user).await
    }

    async fn get_user(
        &self,
        caller: &Caller,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        self.call(caller, request, Users::get_user).await
    }

    async fn list_users(
        &self,
        caller: &Caller,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, authz_svc::Error> {
        self.call(caller, request, Users::list_users).await
    }

    async fn update_user(
        &self,
        caller: &Caller,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, authz_svc::Error> {
        self.call(caller, request, Users::update_user).await
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, authz_svc::Error> {
        self.call(caller, request, Users::delete_user).await
    }

    async fn list_roles(
        &self,
        caller: &Caller,
        request: pb::ListRolesRequest,
    ) -> Result<pb::ListRolesResponse, authz_svc::Error> {
        self.call(caller, request, Users::list_roles).await
    }

    async fn create_role(
        &self,
        caller: &Caller,
        request: pb::CreateRoleRequest,
    ) -> Result<pb::Role, authz_svc::Error> {
        self.call(caller, request, Users::create_role).await
    }

    async fn update_role(
        &self,
        caller: &Caller,
        request: pb::UpdateRoleRequest,
    ) -> Result<pb::Role, authz_svc::Error> {
        self.call(caller, request, Users::update_role).await
    }

    async fn delete_role(
        &self,
        caller: &Caller,
        request: pb::DeleteRoleRequest,
    ) -> Result<pb::DeleteRoleResponse, authz_svc::Error> {
        self.call(caller, request, Users::delete_role).await
    }
}

#[async_trait::async_trait]
impl media_svc::Media for Remote<Files> {
    async fn upload_recording(
        &self,
        caller: &Caller,
        mut messages: media_svc::MessageStream<pb::UploadRecordingRequest>,
    ) -> Result<pb::UploadRecordingResponse, media_svc::Error> {
        // Passed on as the source yields them (one in flight). A source that
        // fails drops the call unfinished (its HTTP/2 stream reset), so
        // media-svc aborts the upload rather than storing a short file.
        let (chunks, sent) = tokio::sync::mpsc::channel(1);
        let sent = tokio_stream::wrappers::ReceiverStream::new(sent);
        let source = async move {
            while let Some(message) = messages.try_next().await? {
                if chunks.send(message).await.is_err() {
                    break; // answered before the end
                }
            }
            drop(chunks);
            std::future::pending::<Result<(), media_svc::Error>>().await
        };
        tokio::select! {
            uploaded = self.call(caller, sent, Files::upload_recording) => uploaded,
            Err(e) = source => Err(e),
        }
    }

    async fn read_recording(
        &self,
        caller: &Caller,
        request: pb::ReadRecordingRequest,
    ) -> Result<
        BoxStream<'static, Result<pb::ReadRecordingResponse, media_svc::Error>>,
        media_svc::Error,
    > {
        self.call(caller, request, Files::read_recording)
            .await
            .map(streamed)
    }

    async fn get_media_info(
        &self,
        caller: &Caller,
        request: pb::GetMediaInfoRequest,
    ) -> Result<pb::GetMediaInfoResponse, media_svc::Error> {
        self.call(caller, request, Files::get_media_info).await
    }

    async fn batch_get_media_info(
        &self,
        caller: &Caller,
        request: pb::BatchGetMediaInfoRequest,
    ) -> Result<pb::BatchGetMediaInfoResponse, media_svc::Error> {
        self.call(caller, request, Files::batch_get_media_info)
            .await
    }

    async fn delete_recording_media(
        &self,
        caller: &Caller,
        request: pb::DeleteRecordingMediaRequest,
    ) -> Result<pb::DeleteRecordingMediaResponse, media_svc::Error> {
        self.call(caller, request, Files::delete_recording_media)
            .await
    }
}

#[async_trait::async_trait]
impl audit_svc::AuditTrail for Audit {
    async fn append_event(
        &self,
        caller: &Caller,
        request: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, audit_svc::Error> {
        self.appends
            .call(caller, request, Trail::append_event)
            .await
    }

    async fn append_events(
        &self,
        caller: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, audit_svc::Error> {
        // A commit deadline also travels as `grpc-timeout`, so audit-svc
        // stops waiting for the answer when the gateway does.
        let deadline = request.commit_deadline.as_ref();
        let deadline = deadline.and_then(|d| convert::from_timestamp(d, "commit_deadline").ok());
        let wait = deadline.map(|deadline| {
            let left = (deadline - self.clock.now()).to_std().unwrap_or_default();
            left + audit_svc::client::COMMIT_BOUND
        });
        let append = async |client: &mut Trail, mut request: Request<_>| {
            if let Some(wait) = wait {
                request.set_timeout(wait);
            }
            client.append_events(request).await
        };
        self.appends.call(caller, request, append).await
    }

    async fn list_events(
        &self,
        caller: &Caller,
        request: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, audit_svc::Error> {
        self.reads.call(caller, request, Trail::list_events).await
    }

    async fn verify_chain(
        &self,
        caller: &Caller,
        request: pb::VerifyChainRequest,
    ) -> Result<pb::VerifyChainResponse, audit_svc::Error> {
        self.reads.call(caller, request, Trail::verify_chain).await
    }

    async fn get_checkpoint(
        &self,
        caller: &Caller,
        request: pb::GetCheckpointRequest,
    ) -> Result<pb::Checkpoint, audit_svc::Error> {
        self.reads
            .call(caller, request, Trail::get_checkpoint)
            .await
    }

    async fn export_trail(
        &self,
        caller: &Caller,
        request: pb::ExportTrailRequest,
    ) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, audit_svc::Error>>, audit_svc::Error>
    {
        self.reads
            .call(caller, request, Trail::export_trail)
            .await
            .map(streamed)
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use archive_common::{identity::testing::TestKeys, shutdown::CancellationToken};
    use archive_proto::v1::media_service_server::{MediaService, MediaServiceServer};
    use media_svc::Media as _;
    use tokio::sync::Notify;

    use super::*;

    /// media-svc as an upload reaches it: the chunks so far, and whether
    /// the stream ended (`Some(true)`: cleanly; `Some(false)`: broken off).
    #[derive(Default, Clone)]
    struct Received(Arc<Mutex<(usize, Option<bool>)>>, Arc<Notify>);

    // The methods the upload never calls, one line each.
    #[rustfmt::skip]
    #[tonic::async_trait]
    impl MediaService for Received {
        async fn upload_recording(
            &self,
            request: Request<tonic::Streaming<pb::UploadRecordingRequest>>,
        ) -> Result<Response<pb::UploadRecordingResponse>, Status> {
            let mut chunks = request.into_inner();
            let ended = loop {
                match chunks.message().await {
                    Ok(Some(_)) => self.0.lock().unwrap().0 += 1,
                    Ok(None) => break true,
                    Err(_) => break false,
                }
                self.1.notify_one();
            };
            self.0.lock().unwrap().1 = Some(ended);
            Ok(Response::new(pb::UploadRecordingResponse::default()))
        }
        type ReadRecordingStream = BoxStream<'static, Result<pb::ReadRecordingResponse, Status>>;
        async fn read_recording(&self, _: Request<pb::ReadRecordingRequest>) -> Result<Response<Self::ReadRecordingStream>, Status> { unreachable!() }
        async fn get_media_info(&self, _: Request<pb::GetMediaInfoRequest>) -> Result<Response<pb::GetMediaInfoResponse>, Status> { unreachable!() }
        async fn batch_get_media_info(&self, _: Request<pb::BatchGetMediaInfoRequest>) -> Result<Response<pb::BatchGetMediaInfoResponse>, Status> { unreachable!() }
        async fn delete_recording_media(&self, _: Request<pb::DeleteRecordingMediaRequest>) -> Result<Response<pb::DeleteRecordingMediaResponse>, Status> { unreachable!() }
    }

    /// An upload is passed on chunk by chunk as its source yields them, and
    /// a source that fails leaves it broken off, never ended as if whole.
    #[tokio::test]
    async fn uploads_stream_and_a_failed_source_breaks_the_upload_off() {
        let received = Received::default();
        let stop = CancellationToken::new();
        let routes = tonic::service::Routes::new(MediaServiceServer::new(received.clone()));
        let url = test_support::server::serve_routes(routes, stop.clone()).await;
        let channel = client::channel(&url, CONNECT_TIMEOUT, CALL_TIMEOUT).unwrap();
        let media = Remote::new(Files::new(channel), &TestKeys::new().gateway());
        let caller = Caller::in_process_gateway(test_support::principals::paal());
        let chunk = || pb::UploadRecordingRequest::default();

        // The second chunk is made only once the first has arrived.
        let arrived = received.1.clone();
        let second = async move {
            arrived.notified().await;
            Ok(chunk())
        };
        let source = futures::stream::iter([Ok(chunk())]).chain(futures::stream::once(second));
        media
            .upload_recording(&caller, source.boxed())
            .await
            .unwrap();
        assert_eq!(*received.0.lock().unwrap(), (2, Some(true)));

        *received.0.lock().unwrap() = (0, None);
        let failed = media_svc::Error::Passed(Status::data_loss("the source broke"));
        let source = futures::stream::iter([Ok(chunk()), Err(failed)]);
        let refused = media.upload_recording(&caller, source.boxed()).await;
        assert_eq!(
            Status::from(refused.unwrap_err()).message(),
            "the source broke"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (chunks, ended) = *received.0.lock().unwrap();
        assert!(chunks <= 1 && ended != Some(true), "{chunks} {ended:?}");
        stop.cancel();
    }

    /// An append with a commit deadline asks audit-svc, in `grpc-timeout`,
    /// to stop waiting when the gateway does; one without it does not.
    #[tokio::test]
    async fn a_commit_deadline_travels_as_the_appends_grpc_timeout() {
        use archive_common::{SystemClock, VerifyIdentity};
        use archive_proto::v1::audit_service_server::AuditServiceServer;
        use tonic::service::Interceptor as _;

        let keys = TestKeys::new();
        let timeouts = Arc::new(Mutex::new(Vec::new()));
        let seen = timeouts.clone();
        let mut verify = VerifyIdentity::new(keys.trust(), Arc::new(SystemClock));
        let trail = audit_svc::GrpcServer(Arc::new(audit_svc::testing::FakeTrail::default()));
        let server = AuditServiceServer::with_interceptor(trail, move |request: Request<()>| {
            let timeout = request.metadata().get("grpc-timeout");
            seen.lock()
                .unwrap()
                .push(timeout.map(|t| t.to_str().unwrap().to_owned()));
            verify.call(request)
        });
        let stop = CancellationToken::new();
        let url =
            test_support::server::serve_routes(tonic::service::Routes::new(server), stop.clone())
                .await;
        let channel = || client::channel(&url, CONNECT_TIMEOUT, CALL_TIMEOUT).unwrap();
        let clock = Arc::new(archive_common::ManualClock::new(chrono::Utc::now()));
        let trail = audit(channel(), channel(), &keys.gateway(), clock.clone());
        let caller = Caller::in_process_gateway(test_support::principals::paal());
        let append = |deadline: Option<chrono::DateTime<chrono::Utc>>| pb::AppendEventsRequest {
            events: vec![pb::AuditEvent {
                event_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }],
            commit_deadline: deadline.map(convert::timestamp),
        };
        let deadline = clock.now() + chrono::Duration::seconds(3);
        trail
            .append_events(&caller, append(Some(deadline)))
            .await
            .unwrap();
        trail.append_events(&caller, append(None)).await.unwrap();
        let timeouts = timeouts.lock().unwrap().clone();
        let wait = audit_svc::client::COMMIT_BOUND + Duration::from_secs(3);
        assert_eq!(timeouts.len(), 2, "{timeouts:?}");
        // tonic writes the timeout in microseconds or coarser units.
        let micros: u128 = timeouts[0]
            .as_deref()
            .unwrap()
            .trim_end_matches('u')
            .parse()
            .unwrap();
        assert_eq!(micros, wait.as_micros(), "{timeouts:?}");
        assert_eq!(timeouts[1], None);
        stop.cancel();
    }
}

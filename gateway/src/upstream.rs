//! The services behind the gateway, reached over gRPC with the caller's
//! identity forwarded signed (never a bare header).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::telemetry::client::{self, TracedChannel};
use archive_common::{IdentityKey, Principal};
use archive_proto::v1::{self as pb, call_service_server::CallService};
use archive_proto::v1::{
    audit_service_client::AuditServiceClient, authz_service_client::AuthzServiceClient,
    call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

/// Where each upstream service listens.
#[derive(Debug, Clone)]
pub struct UpstreamUrls {
    pub archive: String,
    pub media: String,
    pub authz: String,
    pub audit: String,
}

/// How the gateway reaches each service: connections to their addresses
/// ([`Channels::connect`]), or in embedded mode the services' own gRPC stacks
/// in this process (`Host::in_process`).
#[derive(Clone)]
pub struct Channels {
    pub archive: TracedChannel,
    pub media: TracedChannel,
    pub authz: TracedChannel,
    pub audit: TracedChannel,
    /// Appends wait less than reads: an action waits on its audit record.
    pub audit_append: TracedChannel,
    /// In embedded mode, archive-svc's service itself, for the calls that
    /// feed result pages ([`Upstreams::search_calls`] and the like): called
    /// directly, the page's calls are never encoded and decoded in between.
    pub archive_calls: Option<Arc<dyn CallService>>,
}

/// Per-call timeout on every channel but `audit_append`'s.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Channels {
    /// Channels connect lazily, so the gateway starts before its upstreams.
    pub fn connect(urls: &UpstreamUrls) -> Result<Self, tonic::transport::Error> {
        let channel =
            |url: &str| client::channel(url, std::time::Duration::from_secs(5), CALL_TIMEOUT);
        Ok(Self {
            archive: channel(&urls.archive)?,
            media: channel(&urls.media)?,
            authz: channel(&urls.authz)?,
            audit: channel(&urls.audit)?,
            audit_append: client::channel(
                &urls.audit,
                std::time::Duration::from_secs(5),
                audit_svc::client::DEFAULT_TIMEOUT,
            )?,
            archive_calls: None,
        })
    }
}

#[derive(Clone)]
pub struct Upstreams {
    pub archive: CallServiceClient<TracedChannel>,
    pub media: MediaServiceClient<TracedChannel>,
    pub authz: AuthzServiceClient<TracedChannel>,
    pub audit: AuditServiceClient<TracedChannel>,
    archive_calls: Option<Arc<dyn CallService>>,
    identity: IdentityKey,
    time_zones: Arc<Mutex<HashMap<String, (chrono_tz::Tz, std::time::Instant)>>>,
}

const TIME_ZONE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl Upstreams {
    pub fn new(channels: Channels, identity: IdentityKey) -> Self {
        Self {
            archive: CallServiceClient::new(channels.archive),
            media: MediaServiceClient::new(channels.media),
            authz: AuthzServiceClient::new(channels.authz),
            audit: AuditServiceClient::new(channels.audit),
            archive_calls: channels.archive_calls,
            identity,
            time_zones: Arc::default(),
        }
    }

    /// The tenant's time zone (archive-svc's tenant settings), remembered for
    /// a minute: it changes rarely and every result page needs it.
    pub async fn time_zone(&self, who: &Principal) -> Result<chrono_tz::Tz, crate::Error> {
        if let Some((tz, at)) = self.time_zones.lock().expect("lock").get(&who.tenant)
            && at.elapsed() < TIME_ZONE_TTL
        {
            return Ok(*tz);
        }
        let settings = self
            .archive
            .clone()
            .get_tenant_settings(
                self.on_behalf(who, archive_proto::v1::GetTenantSettingsRequest {}),
            )
            .await
            .map_err(crate::Error::upstream("archive-svc"))?
            .into_inner();
        let tz = settings
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Europe::Oslo);
        self.time_zones
            .lock()
            .expect("lock")
            .insert(who.tenant.clone(), (tz, std::time::Instant::now()));
        Ok(tz)
    }

    /// A page of archive-svc's calls: the call behind every search page.
    pub async fn search_calls(
        &self,
        who: &Principal,
        request: pb::SearchCallsRequest,
    ) -> Result<pb::SearchCallsResponse, crate::Error> {
        self.archive_read(
            who,
            request,
            "SearchCalls",
            |calls, r| async move { calls.search_calls(r).await },
            |mut client, r| async move { client.search_calls(r).await },
        )
        .await
    }

    /// A page of an agent's own calls ("My call recordings").
    pub async fn list_agent_recordings(
        &self,
        who: &Principal,
        request: pb::ListAgentRecordingsRequest,
    ) -> Result<pb::ListAgentRecordingsResponse, crate::Error> {
        self.archive_read(
            who,
            request,
            "ListAgentRecordings",
            |calls, r| async move { calls.list_agent_recordings(r).await },
            |mut client, r| async move { client.list_agent_recordings(r).await },
        )
        .await
    }

    /// One call, for its row.
    pub async fn get_call(
        &self,
        who: &Principal,
        request: pb::GetCallRequest,
    ) -> Result<pb::GetCallResponse, crate::Error> {
        self.archive_read(
            who,
            request,
            "GetCall",
            |calls, r| async move { calls.get_call(r).await },
            |mut client, r| async move { client.get_call(r).await },
        )
        .await
    }

    /// A read from archive-svc: its service called directly when it runs in
    /// this process, else its gRPC client with the identity signed.
    async fn archive_read<Req, Res, Direct, Remote>(
        &self,
        who: &Principal,
        request: Req,
        method: &'static str,
        direct: impl FnOnce(Arc<dyn CallService>, Request<Req>) -> Direct,
        remote: impl FnOnce(CallServiceClient<TracedChannel>, Request<Req>) -> Remote,
    ) -> Result<Res, crate::Error>
    where
        Direct: Future<Output = Result<Response<Res>, Status>>,
        Remote: Future<Output = Result<Response<Res>, Status>>,
    {
        let answer = match &self.archive_calls {
            Some(calls) => {
                // No gRPC client or server span here (no transport): this one
                // keeps the step, and which service took it, in the trace.
                let span = tracing::info_span!(
                    "archive.in_process",
                    otel.name = %format_args!("archive.v1.CallService/{method}"),
                    otel.kind = "internal",
                    rpc.service = "archive.v1.CallService",
                    rpc.method = method,
                );
                direct(calls.clone(), who.on(request))
                    .instrument(span)
                    .await
            }
            None => remote(self.archive.clone(), self.on_behalf(who, request)).await,
        };
        answer
            .map(Response::into_inner)
            .map_err(crate::Error::upstream("archive-svc"))
    }

    /// A request to an upstream on behalf of `principal`.
    pub fn on_behalf<T>(&self, principal: &Principal, message: T) -> Request<T> {
        self.identity.request(message, principal)
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

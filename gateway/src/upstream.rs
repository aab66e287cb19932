//! The services behind the gateway: reached over gRPC with the caller's
//! identity forwarded signed (never a bare header), or in embedded mode
//! through their gRPC stacks in this process, and for the reads every result
//! page makes, through the services themselves ([`Direct`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::telemetry::client::{self, TracedChannel};
use archive_common::{Clock, IdentityKey, Principal};
use archive_proto::v1::{
    self as pb, audit_service_client::AuditServiceClient, authz_service_client::AuthzServiceClient,
    authz_service_server::AuthzService, call_service_client::CallServiceClient,
    call_service_server::CallService, media_service_client::MediaServiceClient,
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
    /// In embedded mode, the services themselves for the calls every result
    /// page makes ([`Upstreams::search_calls`] and the like).
    pub direct: Option<Direct>,
}

/// Services in this process, called directly: a result page's calls and
/// verdicts are never encoded and decoded in between. The gateway has
/// verified the user, so the request carries the principal as the services'
/// identity check would have left it.
#[derive(Clone)]
pub struct Direct {
    pub archive: Arc<dyn CallService>,
    pub authz: Arc<dyn AuthzService>,
}

/// A service the gateway calls: its name in errors, its gRPC name in traces.
struct Service {
    name: &'static str,
    grpc: &'static str,
}

const ARCHIVE: Service = Service {
    name: "archive-svc",
    grpc: "archive.v1.CallService",
};
const AUTHZ: Service = Service {
    name: "authz-svc",
    grpc: "archive.v1.AuthzService",
};

/// Per-call timeout on every channel but `audit_append`'s in embedded mode,
/// and the default of `--upstream-timeout-secs`.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a channel to a URL may take to connect.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Channels {
    /// Channels connect lazily, so the gateway starts before its upstreams.
    /// A call waits `timeout` for its answer (appends: audit-svc's own bound),
    /// then fails DEADLINE_EXCEEDED; a call that gets no answer at all fails
    /// UNAVAILABLE, a read only after a second try (`archive_common::call_errors`).
    pub fn connect(
        urls: &UpstreamUrls,
        timeout: std::time::Duration,
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
            direct: None,
        })
    }
}

#[derive(Clone)]
pub struct Upstreams {
    pub archive: CallServiceClient<TracedChannel>,
    pub media: MediaServiceClient<TracedChannel>,
    pub authz: AuthzServiceClient<TracedChannel>,
    pub audit: AuditServiceClient<TracedChannel>,
    direct: Option<Direct>,
    identity: IdentityKey,
    tenants: Arc<Mutex<HashMap<String, Remembered>>>,
    clock: Arc<dyn Clock>,
}

/// A tenant's settings and when they were read.
type Remembered = (Arc<Tenant>, chrono::DateTime<chrono::Utc>);

/// What the flows need of a tenant's settings, remembered for a minute.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub time_zone: chrono_tz::Tz,
    /// The reasons users pick from; empty: free text only.
    pub reason_codes: Vec<pb::ReasonCode>,
    /// Searches are recorded in the audit trail unless the tenant turned it off.
    pub search_audit: bool,
}

const TENANT_TTL: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The reads behind every result page, each called directly when the
/// service runs in this process ([`Direct`]), else over gRPC
/// ([`Upstreams::call`]): `field/SERVICE: method(Request) -> Response = "Method";`.
macro_rules! page_reads {
    ($($(#[$doc:meta])* $field:ident/$service:ident: $name:ident($request:ty) -> $response:ty = $method:literal;)*) => {
        impl Upstreams {
            $(
                $(#[$doc])*
                pub async fn $name(
                    &self,
                    who: &Principal,
                    request: $request,
                ) -> Result<$response, crate::Error> {
                    let direct = self.direct.as_ref().map(|d| &d.$field);
                    self.call(
                        (&$service, $method, direct),
                        who,
                        request,
                        |service, r| async move { service.$name(r).await },
                        |r| async move { self.$field.clone().$name(r).await },
                    )
                    .await
                }
            )*
        }
    };
}

page_reads! {
    /// A page of archive-svc's calls: the call behind every search page.
    archive/ARCHIVE: search_calls(pb::SearchCallsRequest) -> pb::SearchCallsResponse = "SearchCalls";
    /// A page of an agent's own calls ("My call recordings").
    archive/ARCHIVE: list_agent_recordings(pb::ListAgentRecordingsRequest) -> pb::ListAgentRecordingsResponse = "ListAgentRecordings";
    /// One call, for its row.
    archive/ARCHIVE: get_call(pb::GetCallRequest) -> pb::GetCallResponse = "GetCall";
    /// The tenant's settings (its time zone).
    archive/ARCHIVE: get_tenant_settings(pb::GetTenantSettingsRequest) -> pb::TenantSettings = "GetTenantSettings";
    /// authz-svc's decisions for `who`, in the order asked.
    authz/AUTHZ: batch_decide(pb::BatchDecideRequest) -> pb::BatchDecideResponse = "BatchDecide";
    /// The user's own permissions (and linked agent).
    authz/AUTHZ: get_my_permissions(pb::GetMyPermissionsRequest) -> pb::User = "GetMyPermissions";
}

impl Upstreams {
    pub fn new(channels: Channels, identity: IdentityKey, clock: Arc<dyn Clock>) -> Self {
        Self {
            archive: CallServiceClient::new(channels.archive),
            media: MediaServiceClient::new(channels.media),
            authz: AuthzServiceClient::new(channels.authz),
            audit: AuditServiceClient::new(channels.audit),
            direct: channels.direct,
            identity,
            tenants: Arc::default(),
            clock,
        }
    }

    /// The tenant's settings as the flows use them (archive-svc's tenant
    /// settings), remembered for a minute: they change rarely and every
    /// result page needs the time zone.
    pub async fn tenant(&self, who: &Principal) -> Result<Arc<Tenant>, crate::Error> {
        if let Some((tenant, at)) = self.tenants.lock().expect("lock").get(&who.tenant)
            && self.clock.now() - *at < TENANT_TTL
        {
            return Ok(tenant.clone());
        }
        let settings = self
            .get_tenant_settings(who, pb::GetTenantSettingsRequest {})
            .await?;
        let tenant = Arc::new(Tenant {
            time_zone: settings
                .time_zone
                .parse()
                .unwrap_or(chrono_tz::Europe::Oslo),
            reason_codes: settings.reason_codes,
            search_audit: !settings.search_audit_disabled,
        });
        let read_at = self.clock.now();
        let remembered = (tenant.clone(), read_at);
        self.tenants
            .lock()
            .expect("lock")
            .insert(who.tenant.clone(), remembered);
        Ok(tenant)
    }

    /// The tenant's time zone (see [`Upstreams::tenant`]).
    pub async fn time_zone(&self, who: &Principal) -> Result<chrono_tz::Tz, crate::Error> {
        Ok(self.tenant(who).await?.time_zone)
    }

    /// `method` of a service: called directly when it runs in this process,
    /// else through its gRPC client with the identity signed.
    async fn call<S: ?Sized, Req, Res, Direct, Remote>(
        &self,
        (service, method, direct): (&Service, &'static str, Option<&Arc<S>>),
        who: &Principal,
        request: Req,
        call_direct: impl FnOnce(Arc<S>, Request<Req>) -> Direct,
        call_remote: impl FnOnce(Request<Req>) -> Remote,
    ) -> Result<Res, crate::Error>
    where
        Direct: Future<Output = Result<Response<Res>, Status>>,
        Remote: Future<Output = Result<Response<Res>, Status>>,
    {
        let answer = match direct {
            Some(direct) => {
                // No gRPC client or server span here (no transport): this one
                // keeps the step, and which service took it, in the trace.
                let span = tracing::info_span!(
                    "in_process",
                    otel.name = %format_args!("{}/{method}", service.grpc),
                    otel.kind = "internal",
                    rpc.service = service.grpc,
                    rpc.method = method,
                );
                call_direct(direct.clone(), who.on(request))
                    .instrument(span)
                    .await
            }
            None => call_remote(self.on_behalf(who, request)).await,
        };
        answer
            .map(Response::into_inner)
            .map_err(crate::Error::upstream(service.name))
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

//! The services behind the gateway, reached over gRPC with the caller's
//! identity forwarded signed (never a bare header).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::telemetry::client::{self, TracedChannel};
use archive_common::{IdentityKey, Principal};
use archive_proto::v1::{
    audit_service_client::AuditServiceClient, authz_service_client::AuthzServiceClient,
    call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use tonic::Request;

/// Where each upstream service listens.
#[derive(Debug, Clone)]
pub struct UpstreamUrls {
    pub archive: String,
    pub media: String,
    pub authz: String,
    pub audit: String,
}

#[derive(Clone)]
pub struct Upstreams {
    pub archive: CallServiceClient<TracedChannel>,
    pub media: MediaServiceClient<TracedChannel>,
    pub authz: AuthzServiceClient<TracedChannel>,
    pub audit: AuditServiceClient<TracedChannel>,
    identity: IdentityKey,
    time_zones: Arc<Mutex<HashMap<String, (chrono_tz::Tz, std::time::Instant)>>>,
}

const TIME_ZONE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

fn channel(url: &str) -> Result<TracedChannel, tonic::transport::Error> {
    client::channel(
        url,
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(30),
    )
}

impl Upstreams {
    /// Channels connect lazily, so the gateway starts before its upstreams.
    pub fn new(
        urls: &UpstreamUrls,
        identity: IdentityKey,
    ) -> Result<Self, tonic::transport::Error> {
        Ok(Self {
            archive: CallServiceClient::new(channel(&urls.archive)?),
            media: MediaServiceClient::new(channel(&urls.media)?),
            authz: AuthzServiceClient::new(channel(&urls.authz)?),
            audit: AuditServiceClient::new(channel(&urls.audit)?),
            identity,
            time_zones: Arc::default(),
        })
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

//! The services behind the gateway, as their domain traits: in embedded
//! mode the cores themselves (called as the gateway in this process;
//! audit-svc's with the caller's token, [`audit`]), else over gRPC with the
//! caller's identity forwarded signed ([`remote`]).

pub mod audit;
pub mod remote;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::{Clock, Principal, identity::Caller};
use archive_proto::v1 as pb;
use archive_svc::Archive;
use audit_svc::{
    AuditTrail,
    client::{COMMIT_BOUND, DEFAULT_TIMEOUT, append_failed},
};
use authz_svc::Authz;
use chrono::{DateTime, Utc};
use media_svc::Media;
use tonic::Status;
use tracing::Instrument as _;

pub use remote::{CALL_TIMEOUT, Channels, UpstreamUrls, check_all};

/// A service the gateway calls: its name in errors, its gRPC name in traces.
pub struct Service {
    name: &'static str,
    grpc: &'static str,
}

impl Service {
    const fn new(name: &'static str, grpc: &'static str) -> Self {
        Self { name, grpc }
    }
}

pub const ARCHIVE: Service = Service::new("archive-svc", "archive.v1.CallService");
pub const AUTHZ: Service = Service::new("authz-svc", "archive.v1.AuthzService");
pub const MEDIA: Service = Service::new("media-svc", "archive.v1.MediaService");
pub const AUDIT: Service = Service::new("audit-svc", "archive.v1.AuditService");

#[derive(Clone)]
pub struct Upstreams {
    pub archive: Arc<dyn Archive>,
    pub authz: Arc<dyn Authz>,
    pub media: Arc<dyn Media>,
    pub audit: Arc<dyn AuditTrail>,
    /// The services run in this process: no transport bounds a call or
    /// traces it, so [`Upstreams::traced`] does.
    in_process: bool,
    tenants: Arc<Mutex<HashMap<String, Remembered>>>,
    clock: Arc<dyn Clock>,
}

/// A tenant's settings and when they were read.
type Remembered = (Arc<Tenant>, DateTime<Utc>);

/// What the flows need of a tenant's settings, remembered for a minute.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub time_zone: chrono_tz::Tz,
    /// The reasons users pick from; empty: free text only.
    pub reason_codes: Vec<pb::ReasonCode>,
    /// Searches are recorded in the audit trail unless the tenant turned it off.
    pub search_audit: bool,
    /// The actions a user who must give reasons gives one for.
    pub reason_actions: pb::ReasonActions,
}

impl Tenant {
    /// Whether a reason authz-svc asks for is needed for `action` here.
    pub fn asks_reason_for(&self, action: pb::Action) -> bool {
        let a = &self.reason_actions;
        match action {
            pb::Action::Play => a.play,
            pb::Action::Download => a.download,
            pb::Action::Delete => a.delete,
            _ => true,
        }
    }
}

const TENANT_TTL: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl Upstreams {
    /// The services in this process: their cores, called with nothing
    /// encoded (audit-svc's with the caller's token, see [`audit`]).
    pub fn in_process(
        archive: Arc<dyn Archive>,
        authz: Arc<dyn Authz>,
        media: Arc<dyn Media>,
        audit: Arc<dyn AuditTrail>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            archive,
            authz,
            media,
            audit,
            in_process: true,
            tenants: Arc::default(),
            clock,
        }
    }

    /// `who` as the services see the gateway acting for them (the verified
    /// user, or a `system:` principal of the gateway's own).
    pub fn caller(who: &Principal) -> Caller {
        Caller::in_process_gateway(who.clone())
    }

    /// `answer`, the service's answer to `method`, as the gateway's: its
    /// error passed on as the service's gRPC status would say it.
    pub async fn call<T, E>(
        &self,
        service: &Service,
        method: &'static str,
        answer: impl Future<Output = Result<T, E>>,
    ) -> Result<T, crate::Error>
    where
        Status: From<E>,
    {
        self.traced(service, method, answer)
            .await
            .map_err(|e| crate::Error::upstream(service.name)(e))
    }

    /// In embedded mode, `answer` bounded by [`CALL_TIMEOUT`] in the spans a
    /// gRPC hop has (the caller's client span, the service's server span
    /// under it): with no transport to make them, the trace still shows
    /// which service took the step.
    async fn traced<T, E>(
        &self,
        service: &Service,
        method: &'static str,
        answer: impl Future<Output = Result<T, E>>,
    ) -> Result<T, Status>
    where
        Status: From<E>,
    {
        if !self.in_process {
            return answer.await.map_err(Status::from);
        }
        let side = |kind: &'static str, parent: Option<&tracing::Span>| {
            tracing::info_span!(
                parent: parent.map_or_else(tracing::Span::current, Clone::clone),
                "in_process",
                otel.name = %format_args!("{}/{method}", service.grpc),
                otel.kind = kind,
                rpc.service = service.grpc,
                rpc.method = method,
            )
        };
        let client = side("client", None);
        let server = side("server", Some(&client));
        let answer = tokio::time::timeout(CALL_TIMEOUT, answer.instrument(server));
        match answer.instrument(client).await {
            Ok(answer) => answer.map_err(Status::from),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{} did not answer in time",
                service.name
            ))),
        }
    }

    /// Records `event` as done by `actor`; Ok only once it is durable (as
    /// `audit_svc::client::AuditClient::append`).
    pub async fn append(
        &self,
        actor: &Principal,
        event: pb::AuditEvent,
    ) -> Result<pb::AppendEventResponse, Status> {
        let request = pb::AppendEventRequest {
            event: Some(event),
            commit_deadline: None,
        };
        let caller = Self::caller(actor);
        let answer = self.audit.append_event(&caller, request);
        bounded(DEFAULT_TIMEOUT, self.traced(&AUDIT, "AppendEvent", answer)).await
    }

    /// Appends `events` of `caller`'s tenant all or none; with `deadline`,
    /// committed by then or not at all, and waited for until `deadline +
    /// COMMIT_BOUND`, so a failure means they are not in the trail (as
    /// `audit_svc::client::AuditClient::append_events`).
    pub async fn append_events(
        &self,
        caller: &Principal,
        events: Vec<pb::AuditEvent>,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Vec<pb::AppendEventResponse>, Status> {
        let wait = match deadline {
            Some(deadline) => {
                (deadline - self.clock.now()).to_std().unwrap_or_default() + COMMIT_BOUND
            }
            None => DEFAULT_TIMEOUT,
        };
        let request = pb::AppendEventsRequest {
            events,
            commit_deadline: deadline.map(archive_common::convert::timestamp),
        };
        let caller = Self::caller(caller);
        let answer = self.audit.append_events(&caller, request);
        let appended = self.traced(&AUDIT, "AppendEvents", answer);
        Ok(bounded(wait, appended).await?.receipts)
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
        let request = pb::GetTenantSettingsRequest {};
        let caller = Self::caller(who);
        let answer = self.archive.get_tenant_settings(&caller, request);
        let settings = self.call(&ARCHIVE, "GetTenantSettings", answer).await?;
        let tenant = Arc::new(Tenant {
            time_zone: settings
                .time_zone
                .parse()
                .unwrap_or(chrono_tz::Europe::Oslo),
            reason_codes: settings.reason_codes,
            search_audit: !settings.search_audit_disabled,
            // Unset (an archive-svc from before the setting): all three.
            reason_actions: settings.reason_actions.unwrap_or(pb::ReasonActions {
                play: true,
                download: true,
                delete: true,
            }),
        });
        let remembered = (tenant.clone(), self.clock.now());
        self.tenants
            .lock()
            .expect("lock")
            .insert(who.tenant.clone(), remembered);
        Ok(tenant)
    }

    /// Drops the remembered settings of `who`'s tenant, so the next flow
    /// reads the ones an admin just saved.
    pub fn forget_tenant(&self, who: &Principal) {
        self.tenants.lock().expect("lock").remove(&who.tenant);
    }

    /// The tenant's time zone (see [`Upstreams::tenant`]).
    pub async fn time_zone(&self, who: &Principal) -> Result<chrono_tz::Tz, crate::Error> {
        Ok(self.tenant(who).await?.time_zone)
    }
}

/// An append waited for at most `wait`: a trail that does not answer by
/// then has not recorded it (UNAVAILABLE, with a retry hint), its own
/// refusals pass as they are.
async fn bounded<T>(
    wait: std::time::Duration,
    append: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match tokio::time::timeout(wait, append).await {
        Ok(answer) => answer.map_err(append_failed),
        Err(_) => Err(append_failed(Status::deadline_exceeded(
            "the audit trail did not answer in time",
        ))),
    }
}

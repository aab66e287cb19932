//! Embedded mode: the whole suite in one process. Each service runs its own
//! gRPC server on its own loopback port, and the services talk gRPC to each
//! other over those ports exactly as they would as separate pods. The gateway,
//! which composes them on every request, calls their cores in this process
//! with nothing encoded ([`Upstreams::in_process`]), audit-svc through its
//! gRPC stack in-process (`Host::in_process`: no HTTP/2 in between).

use std::{net::SocketAddr, path::Path, time::Duration};

use archive_common::{
    identity::{KeySet, PlatformCredential},
    shutdown::CancellationToken,
};
use archive_proto::v1::{
    call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use tokio::{net::TcpListener, task::JoinSet};

use crate::{
    Error, GatewayConfig,
    auth::Authenticate,
    config::SuiteConfig,
    demo,
    secrets::Secrets,
    seed,
    upstream::{self, CALL_TIMEOUT, Upstreams},
};

/// Bumped when the demo data changes, so an old data directory is topped up.
const SEED_VERSION: &str = "2";

/// Where the running suite listens.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub gateway: SocketAddr,
    pub archive: SocketAddr,
    pub media: SocketAddr,
    pub media_http: SocketAddr,
    pub gateway_http: SocketAddr,
    pub authz: SocketAddr,
    pub audit: SocketAddr,
    /// Prometheus metrics of every service in the process (one registry).
    pub metrics: SocketAddr,
}

impl Endpoints {
    pub fn services(&self) -> [(&'static str, SocketAddr); 5] {
        [
            ("gateway", self.gateway),
            ("archive-svc", self.archive),
            ("media-svc", self.media),
            ("authz-svc", self.authz),
            ("audit-svc", self.audit),
        ]
    }
}

/// A running suite.
pub struct Suite {
    pub endpoints: Endpoints,
    pub secrets: Secrets,
    /// The suite's keys (`DATA_DIR/keys`): each process's own and the trust file.
    pub keys: KeySet,
    /// The demo tenant's recording-platform credential (also in
    /// `DATA_DIR/keys/recording-platform.credential`).
    pub platform: PlatformCredential,
    pub seeded: Option<seed::SeedReport>,
    tasks: JoinSet<Result<(), String>>,
    shutdown: CancellationToken,
}

fn identity_error(e: archive_common::IdentityError) -> Error {
    Error::Config(e.to_string())
}

/// The demo tenant's recording platform: a credential issued at each start
/// (valid a year) with the authority key of the data directory, and written
/// beside the keys (owner-only) for an operator to hand over.
fn platform_credential(keys: &KeySet) -> Result<PlatformCredential, archive_common::IdentityError> {
    let trust = archive_common::identity::Trust::load(&keys.trust_file())?;
    let authority = archive_common::identity::load_key_file(&keys.key_file("authority"))?;
    let credential = archive_common::IdentityKey::load(&authority, &trust)?.issue_platform(
        "recording-platform",
        &[demo::TENANT.to_owned()],
        chrono::Duration::days(365),
    );
    let path = keys.dir.join("recording-platform.credential");
    let write = || -> std::io::Result<()> {
        std::fs::write(&path, credential.token())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    };
    write().map_err(|e| archive_common::IdentityError::Keys(format!("{}: {e}", path.display())))?;
    Ok(credential)
}

async fn bind(port: u16, offset: u16) -> std::io::Result<TcpListener> {
    let port = if port == 0 { 0 } else { port + offset };
    TcpListener::bind(("127.0.0.1", port)).await
}

/// `sqlite://data/NAME.db`, or the service's own PostgreSQL database (created if missing).
async fn database_url(config: &SuiteConfig, name: &str) -> Result<String, Error> {
    match &config.postgres_url {
        None => Ok(format!(
            "sqlite://{}",
            config.data_dir.join(format!("{name}.db")).display()
        )),
        Some(server) => {
            let database = format!("archive_{name}");
            crate::postgres::ensure_database(server, &database)
                .await
                .map_err(|e| Error::Config(format!("PostgreSQL at {server}: {e}")))
        }
    }
}

impl Suite {
    /// Starts every service, waits until each reports SERVING, seeds the demo
    /// tenant (once per data directory) and starts the gateway.
    pub async fn start(config: SuiteConfig, shutdown: CancellationToken) -> Result<Self, Error> {
        let started = Self::start_all(config, shutdown.clone()).await;
        if started.is_err() {
            // What did start (readiness watchers, retention) stops with it.
            shutdown.cancel();
        }
        started
    }

    async fn start_all(config: SuiteConfig, shutdown: CancellationToken) -> Result<Self, Error> {
        std::fs::create_dir_all(&config.data_dir)?;
        let secrets = Secrets::load_or_create(&config.data_dir)?;
        crate::operator::OperatorCredential::load_or_create(&config.data_dir)?;
        let keys = KeySet::new(config.data_dir.join("keys"));
        keys.ensure_suite().map_err(identity_error)?;
        let platform = platform_credential(&keys).map_err(identity_error)?;
        let port = config.base_port;
        let (
            gateway_l,
            archive_l,
            media_l,
            authz_l,
            audit_l,
            media_http_l,
            gateway_http_l,
            metrics_l,
        ) = (
            bind(port, 0).await?,
            bind(port, 1).await?,
            bind(port, 2).await?,
            bind(port, 3).await?,
            bind(port, 4).await?,
            bind(port, 5).await?,
            bind(port, 6).await?,
            bind(port, 7).await?,
        );
        let endpoints = Endpoints {
            gateway: gateway_l.local_addr()?,
            archive: archive_l.local_addr()?,
            media: media_l.local_addr()?,
            media_http: media_http_l.local_addr()?,
            gateway_http: gateway_http_l.local_addr()?,
            authz: authz_l.local_addr()?,
            audit: audit_l.local_addr()?,
            metrics: metrics_l.local_addr()?,
        };
        let url = |addr: SocketAddr| format!("http://{addr}");
        let mut tasks = JoinSet::new();
        tasks.spawn(supervise(
            "metrics",
            archive_common::metrics::serve(metrics_l, shutdown.child_token()),
        ));

        // Each service opens its store and starts its background work first (a
        // failure ends the start at once, saying which service and why), then
        // serves its port; the gateway calls them in-process (below).
        let archive_token = shutdown.child_token();
        let mut archive = archive_svc::Config::new(
            database_url(&config, "calls").await?,
            keys.config("archive-svc"),
        );
        archive.media_url = Some(url(endpoints.media));
        // Its audit outbox is delivered to audit-svc (started below; the relay retries until then).
        archive.audit_url = Some(url(endpoints.audit));
        let archive = archive_svc::start(archive, archive_token.clone())
            .await
            .map_err(could_not_start("archive-svc"))?;

        let mut media = media_svc::Config::new(
            config.data_dir.join("media"),
            keys.config("media-svc"),
            &secrets.playback_key,
        );
        media.cors_origin = None;
        media.audit_url = Some(url(endpoints.audit));
        // archive-svc (its port is served before the demo is seeded; media-svc
        // asks until it answers): media-svc serves no recording until it has
        // read the deletions queued there, and reports each stored upload
        // there before answering it.
        media.archive_url = Some(url(endpoints.archive));
        media.store = config.media_store;
        media.s3 = config.s3.clone();
        let media = media_svc::MediaServer::start(media, shutdown.child_token())
            .await
            .map_err(could_not_start("media-svc"))?;

        let audit_token = shutdown.child_token();
        let mut audit = audit_svc::Config::new(
            database_url(&config, "audit").await?,
            keys.config("audit-svc"),
        );
        audit.listen = endpoints.audit;
        // Checkpoints signed with a key of the data directory (created on the
        // first start, readable by this user only) into a directory beside it.
        let checkpoint_key = config.data_dir.join("audit-checkpoint.pem");
        audit_svc::checkpoint::ensure_key_file(&checkpoint_key)
            .map_err(could_not_start("audit-svc"))?;
        audit.checkpoints = audit_svc::checkpoint::CheckpointConfig::local(
            checkpoint_key,
            config.data_dir.join("audit-checkpoints"),
        );
        // Only users allowed to view the Archive Audit log may read it, checked by audit-svc too.
        audit.authz_url = Some(url(endpoints.authz));
        let audit = audit_svc::start_trail(audit, audit_token.clone())
            .await
            .map_err(could_not_start("audit-svc"))?;

        let authz_token = shutdown.child_token();
        let mut authz = authz_svc::Config::new(
            database_url(&config, "authz").await?,
            keys.config("authz-svc"),
        );
        let admin = demo::user(demo::ADMIN).expect("admin is a demo user");
        authz.bootstrap_admins = vec![format!(
            "{}:{}:{}",
            demo::TENANT,
            admin.user_id,
            admin.display_name
        )];
        authz.audit_url = Some(url(endpoints.audit));
        let authz = authz_svc::start(authz, authz_token.clone())
            .await
            .map_err(could_not_start("authz-svc"))?;

        // In one process the gateway calls the services' cores, nothing
        // encoded (their calls to each other stay on their ports, as in a
        // cluster; audit-svc's core gets each caller's token to pass on, see
        // `upstream::audit`). The demo seed's recording platform, which is no
        // user the gateway vouches for, calls archive-svc and media-svc's
        // gRPC stacks in-process.
        let gateway_key = keys.config("gateway").load().map_err(identity_error)?.key;
        let upstreams = Upstreams::in_process(
            archive.archive,
            authz.authz,
            media.media.clone(),
            upstream::audit::in_process(audit.trail.clone(), gateway_key),
            std::sync::Arc::new(archive_common::SystemClock),
        );
        let seeder = seed::Platform {
            credential: platform.clone(),
            archive: CallServiceClient::new(archive.host.in_process(CALL_TIMEOUT)),
            media: MediaServiceClient::new(media.in_process(CALL_TIMEOUT)),
        };
        tasks.spawn(supervise(
            "archive-svc",
            archive.host.serve(archive_l, archive_token),
        ));
        tasks.spawn(supervise("media-svc", media.serve(media_l, media_http_l)));
        tasks.spawn(supervise(
            "audit-svc",
            audit.host.serve(audit_l, audit_token),
        ));
        tasks.spawn(supervise(
            "authz-svc",
            authz.host.serve(authz_l, authz_token),
        ));

        let services_ready = async {
            for (name, addr) in endpoints.services().into_iter().skip(1) {
                wait_serving(name, addr).await?;
            }
            Ok(())
        };
        unless_one_fails(&mut tasks, services_ready).await?;

        let gateway = GatewayConfig {
            listen: endpoints.gateway,
            metrics_listen: endpoints.metrics,
            jwt_secret: secrets.jwt_secret.clone(),
            identity: keys.config("gateway"),
            archive_url: url(endpoints.archive),
            media_url: url(endpoints.media),
            authz_url: url(endpoints.authz),
            audit_url: url(endpoints.audit),
            http_listen: endpoints.gateway_http,
            public_url: url(endpoints.gateway_http),
            media_public_url: url(endpoints.media_http),
            playback_key: secrets.playback_key.clone(),
            playback_ttl_minutes: 60,
            playback_link_ttl_secs: config.playback_link_ttl_secs,
            export_ttl_minutes: 60,
            demo_sign_in: true,
            oidc: config.oidc.clone(),
            jwks_file: None,
            trusted_proxies: String::new(),
            upstream_timeout_secs: CALL_TIMEOUT.as_secs(),
            operator_token_file: Some(config.data_dir.join(crate::operator::credential::FILE_NAME)),
        };
        let seeded = if config.no_seed || already_seeded(&config.data_dir) {
            None
        } else {
            let report = seed::run(&upstreams, &seeder, chrono::Utc::now()).await?;
            std::fs::write(config.data_dir.join("seeded"), SEED_VERSION)?;
            Some(report)
        };
        tasks.spawn(supervise(
            "gateway",
            crate::run_with(
                gateway,
                upstreams,
                gateway_l,
                gateway_http_l,
                shutdown.child_token(),
            ),
        ));
        unless_one_fails(&mut tasks, wait_serving("gateway", endpoints.gateway)).await?;
        // Where `gateway tenant …` finds this suite.
        std::fs::write(
            config.data_dir.join(crate::operator::cli::URL_FILE),
            url(endpoints.gateway),
        )?;

        Ok(Self {
            endpoints,
            secrets,
            keys,
            platform,
            seeded,
            tasks,
            shutdown,
        })
    }

    /// A bearer token for a demo user.
    pub fn token(&self, user_id: &str, ttl_seconds: i64) -> Option<String> {
        let user = demo::user(user_id)?;
        Some(
            Authenticate::hs256(self.secrets.jwt_secret.as_bytes())
                .issue(&user.principal(), ttl_seconds),
        )
    }

    /// Stops every service and waits for them; the first failure, if any.
    pub async fn stop(self) -> Result<(), Error> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until every service has stopped (after shutdown, or when one fails,
    /// which stops the others).
    pub async fn wait(mut self) -> Result<(), Error> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.map_err(|e| e.to_string()).and_then(|r| r);
            if let Err(e) = result {
                // One service down means the suite is down: stop the rest.
                self.shutdown.cancel();
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(Error::Config(e)),
            None => Ok(()),
        }
    }
}

fn already_seeded(data_dir: &Path) -> bool {
    std::fs::read_to_string(data_dir.join("seeded")).is_ok_and(|v| v.trim() == SEED_VERSION)
}

/// A service that could not start, in its own words.
fn could_not_start<E: std::fmt::Display>(name: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Config(format!("{name}: {e}"))
}

async fn supervise<E: std::fmt::Display>(
    name: &'static str,
    service: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), String> {
    let result = service.await.map_err(|e| format!("{name}: {e}"));
    match &result {
        Ok(()) => tracing::info!(service = name, "stopped"),
        Err(e) => tracing::error!(service = name, error = %e, "failed"),
    }
    result
}

/// `ready`, unless a service fails first: then its own words (a missing
/// setting, a port taken) are the answer, at once, not a health check's
/// timeout 30 s later.
async fn unless_one_fails(
    tasks: &mut JoinSet<Result<(), String>>,
    ready: impl std::future::Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    tokio::select! {
        result = ready => result,
        Some(joined) = tasks.join_next() => Err(Error::Config(match joined {
            Ok(Err(e)) => e,
            Ok(Ok(())) => "a service stopped while the suite was starting".into(),
            Err(e) => e.to_string(),
        })),
    }
}

/// Waits until the server at `addr` answers SERVING (30 s at most).
pub async fn wait_serving(name: &str, addr: SocketAddr) -> Result<(), Error> {
    archive_common::host::wait_serving(&format!("http://{addr}"), Duration::from_secs(30))
        .await
        .map_err(|e| Error::Config(format!("{name}: {e}")))
}

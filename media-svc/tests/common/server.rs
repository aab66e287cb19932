//! A real media-svc on ephemeral loopback ports, over a store the test can
//! inspect, and its callers: the recording platform uploads, users (through
//! the gateway) read, archive-svc deletes.

use std::{
    net::SocketAddr,
    sync::{Arc, LazyLock},
    time::Duration,
};

use archive_common::{
    Principal,
    identity::{IdentityConfig, IdentityKey, PlatformCredential, testing::TestKeys},
    shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, media_service_client::MediaServiceClient};
use media_svc::{Config, PlaybackToken};
use object_store::{ObjectStore, memory::InMemory};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{Request, transport::Channel};

pub const PLAYBACK_KEY: &str = "test playback key";

/// The tenants the tests' recording platform uploads for.
pub const PLATFORM_TENANTS: [&str; 2] = ["10009", "10010"];

/// Kept for the whole test binary: the servers read these files.
static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::new);
/// Loaded once each, so they reuse their tokens as the real callers do.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.gateway());
static ARCHIVE: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.signer("archive-svc"));
static PLATFORM: LazyLock<PlatformCredential> =
    LazyLock::new(|| KEYS.platform("recording-platform", &PLATFORM_TENANTS));

pub fn keys() -> &'static TestKeys {
    &KEYS
}

/// media-svc's key and the trust file.
pub fn identity() -> IdentityConfig {
    KEYS.config("media-svc")
}

/// `who`, a user through the gateway (reads and media info).
pub fn as_user<T>(message: T, who: &Principal) -> Request<T> {
    GATEWAY.request(message, who)
}

/// The recording platform acting for `tenant` (uploads).
pub fn as_platform<T>(message: T, tenant: &str) -> Request<T> {
    PLATFORM.request(message, tenant)
}

/// archive-svc's retention (its deletion outbox) in `tenant`: the only
/// caller that may delete media.
pub fn as_archive<T>(message: T, tenant: &str) -> Request<T> {
    ARCHIVE.request(message, &Principal::system(tenant, "retention"))
}

/// The user the tests read as.
pub fn paal() -> Principal {
    Principal::new("10009", "paal", "Paal Admin")
}

pub struct Server {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub objects: Arc<dyn ObjectStore>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), media_svc::Error>>,
}

pub fn config() -> Config {
    Config::new("./unused", identity(), PLAYBACK_KEY)
}

impl Server {
    /// Serves over a fresh in-memory store.
    pub async fn start(config: Config) -> Self {
        Self::start_with(config, Arc::new(InMemory::new())).await
    }

    pub async fn start_with(config: Config, objects: Arc<dyn ObjectStore>) -> Self {
        let grpc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = grpc_listener.local_addr().unwrap();
        let http = http_listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(media_svc::run_with_store(
            config,
            objects.clone(),
            grpc_listener,
            http_listener,
            shutdown.clone(),
        ));
        Self {
            grpc,
            http,
            objects,
            shutdown,
            task,
        }
    }

    pub async fn client(&self) -> MediaServiceClient<Channel> {
        let url = format!("http://{}", self.grpc);
        for _ in 0..100 {
            if let Ok(channel) = Channel::from_shared(url.clone()).unwrap().connect().await {
                return MediaServiceClient::new(channel);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("media-svc did not come up at {url}");
    }

    /// A playback URL path for `recording_id` as the gateway would mint it.
    pub fn playback_path(&self, tenant: &str, recording_id: &str, ttl: chrono::Duration) -> String {
        let token = PlaybackToken {
            tenant: tenant.into(),
            recording_id: recording_id.into(),
            user_id: "paal".into(),
            expires_at: chrono::Utc::now() + ttl,
            renewable_until: None,
        }
        .sign(PLAYBACK_KEY.as_bytes());
        format!("/media/{recording_id}?token={token}")
    }

    /// Uploads `bytes` as a new recording of `tenant`, as the recording platform; its id.
    pub async fn upload(&self, tenant: &str, bytes: &[u8]) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let messages = pb::UploadRecordingRequest::stream_of(&id, bytes, 256 * 1024);
        let response = self
            .client()
            .await
            .upload_recording(as_platform(futures::stream::iter(messages), tenant))
            .await
            .unwrap()
            .into_inner();
        assert!(response.created);
        id
    }

    /// Deletes recording `id` of tenant 10009, as archive-svc: whether there was anything.
    pub async fn delete(&self, id: &str) -> Result<bool, tonic::Status> {
        let request = pb::DeleteRecordingMediaRequest {
            recording_id: id.to_owned(),
        };
        let response = self
            .client()
            .await
            .delete_recording_media(as_archive(request, "10009"))
            .await?;
        Ok(response.into_inner().deleted)
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("media-svc stops on shutdown")
            .unwrap()
            .unwrap();
    }
}

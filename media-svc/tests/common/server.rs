//! A real media-svc on ephemeral loopback ports, over a store the test can inspect.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use archive_common::{IdentityKey, Principal, shutdown::CancellationToken};
use archive_proto::v1::media_service_client::MediaServiceClient;
use media_svc::{Config, PlaybackToken};
use object_store::{ObjectStore, memory::InMemory};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::transport::Channel;

pub const IDENTITY_SECRET: &str = "test identity secret";
pub const PLAYBACK_KEY: &str = "test playback key";

pub struct Server {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub objects: Arc<dyn ObjectStore>,
    pub identity: IdentityKey,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), media_svc::Error>>,
}

pub fn config() -> Config {
    Config::new("./unused", IDENTITY_SECRET, PLAYBACK_KEY)
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
            identity: IdentityKey::internal(IDENTITY_SECRET.as_bytes()),
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

    pub fn request<T>(&self, message: T, principal: &Principal) -> tonic::Request<T> {
        self.identity.request(message, principal)
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

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("media-svc stops on shutdown")
            .unwrap()
            .unwrap();
    }
}

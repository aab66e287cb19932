//! Putting the data set in place: every recording is generated once, written
//! to nginx's document root and uploaded through media-svc's gRPC
//! `UploadRecording` to each media-svc (so each stores it in its own layout:
//! the filesystem store, or S3 objects). Uploads run a few at a time.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use archive_common::identity::PlatformCredential;
use archive_proto::v1::{UploadRecordingRequest, media_service_client::MediaServiceClient};
use futures::StreamExt;
use tonic::transport::Channel;

use crate::{dataset::FrameSource, load::Rng};

/// Size of the messages of one upload stream.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Uploads in flight at once (per media-svc).
const UPLOADS_AT_ONCE: usize = 4;

/// One recording of the data set.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    pub(crate) id: String,
    pub(crate) size: u64,
    pub(crate) fixture: &'static str,
}

pub(crate) async fn grpc_client(addr: SocketAddr) -> MediaServiceClient<Channel> {
    let url = format!("http://{addr}");
    for _ in 0..300 {
        if let Ok(channel) = Channel::from_shared(url.clone())
            .expect("url")
            .connect()
            .await
        {
            return MediaServiceClient::new(channel).max_decoding_message_size(16 << 20);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no media-svc gRPC at {url} after 30 s");
}

async fn upload(
    client: &mut MediaServiceClient<Channel>,
    platform: &PlatformCredential,
    tenant: &str,
    id: &str,
    bytes: &[u8],
) {
    let messages = UploadRecordingRequest::stream_of(id, bytes, UPLOAD_CHUNK);
    let response = client
        .upload_recording(platform.request(futures::stream::iter(messages), tenant))
        .await
        .unwrap_or_else(|e| panic!("upload {id}: {e}"))
        .into_inner();
    let media = response.media.expect("media info");
    assert_eq!(media.size_bytes, bytes.len() as u64, "stored size of {id}");
}

/// Generates `count` recordings of `min..max` bytes, writes them under
/// `nginx_dir` as `{id}.mp3` and uploads each to every media-svc in `grpc`,
/// as the recording platform of `platform` for `tenant`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn populate(
    fixtures: &Path,
    nginx_dir: &Path,
    count: usize,
    (min, max): (usize, usize),
    seed: u64,
    grpc: &[SocketAddr],
    platform: &PlatformCredential,
    tenant: &str,
) -> Vec<Recording> {
    let sources = Arc::new(FrameSource::all(fixtures));
    std::fs::create_dir_all(nginx_dir).expect("nginx document root");
    let mut clients = Vec::new();
    for addr in grpc {
        clients.push(grpc_client(*addr).await);
    }
    let mut rng = Rng::new(seed);
    let plan: Vec<(usize, usize)> = (0..count)
        .map(|i| {
            (
                i % sources.len(),
                min + rng.below((max - min).max(1) as u64) as usize,
            )
        })
        .collect();
    let clients = &clients;
    futures::stream::iter(plan)
        .map(|(source, target)| {
            let sources = sources.clone();
            async move {
                let id = uuid::Uuid::new_v4().to_string();
                let (bytes, fixture) = tokio::task::spawn_blocking(move || {
                    let source = &sources[source];
                    (source.build(target), source.name)
                })
                .await
                .expect("build");
                tokio::fs::write(nginx_dir.join(format!("{id}.mp3")), &bytes)
                    .await
                    .expect("write nginx copy");
                for client in clients {
                    upload(&mut client.clone(), platform, tenant, &id, &bytes).await;
                }
                Recording {
                    id,
                    size: bytes.len() as u64,
                    fixture,
                }
            }
        })
        .buffered(UPLOADS_AT_ONCE)
        .collect()
        .await
}

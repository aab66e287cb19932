//! Deletion is final at media-svc: from the moment DeleteRecordingMedia
//! starts, no byte of the recording is served — not to a new request, not
//! on a body already on its way (HTTP with `sendfile(2)` or streamed, gRPC
//! ReadRecording) — and a store that fails the deletion leaves the
//! recording unservable (and the call failed, so the caller retries). A
//! body also stops when the link it goes out under expires.

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration as StdDuration,
};

use archive_proto::v1 as pb;
use async_trait::async_trait;
use chrono::Duration;
use common::{
    Backend, fixture,
    http_client::send,
    server::{Server, as_platform, as_user, config, paal},
};
use futures::stream::BoxStream;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result as StoreResult,
    memory::InMemory, path::Path,
};
use test_support::http::{PausedRead, get_with_a_pause};
use tonic::Code;

/// A valid MP3 of about 18 MB: far more than loopback socket buffers hold.
fn big_recording() -> Vec<u8> {
    fixture("tel-8k-cbr16-mono.mp3").repeat(1000)
}

async fn a_body_on_its_way_stops_when_the_recording_is_deleted(server: Server) {
    let bytes = big_recording();
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(600));
    let url = format!("http://{}{path}", server.http);
    let PausedRead {
        status,
        length,
        received,
    } = get_with_a_pause(&url, 64 * 1024, async {
        assert!(server.delete(&id).await.unwrap());
    })
    .await;
    assert_eq!((status, length), (200, bytes.len() as u64));
    assert!(
        received < bytes.len() as u64 / 2,
        "{received} of {} bytes went out after the deletion started",
        bytes.len()
    );
    // And the same link, with or without a range, finds nothing now.
    for range in [None, Some("bytes=1000000-")] {
        let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
        let r = send(server.http, "GET", &path, &headers).await;
        assert!(
            r.status == 404 || r.status == 410,
            "{range:?}: {}",
            r.status
        );
        assert_ne!(r.header("content-type"), Some("audio/mpeg"));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_file_sent_with_sendfile_stops_when_the_recording_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::local(dir.path());
    a_body_on_its_way_stops_when_the_recording_is_deleted(
        Server::start_with(config(), backend.objects).await,
    )
    .await;
}

#[tokio::test]
async fn a_streamed_body_stops_when_the_recording_is_deleted() {
    a_body_on_its_way_stops_when_the_recording_is_deleted(Server::start(config()).await).await;
}

#[tokio::test]
async fn a_body_stops_when_its_link_expires() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(config(), Backend::local(dir.path()).objects).await;
    let bytes = big_recording();
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, Duration::seconds(2));
    let url = format!("http://{}{path}", server.http);
    let PausedRead {
        status, received, ..
    } = get_with_a_pause(&url, 64 * 1024, async {
        tokio::time::sleep(StdDuration::from_millis(2500)).await;
    })
    .await;
    assert_eq!(status, 200);
    assert!(
        received < bytes.len() as u64 / 2,
        "{received} of {} bytes went out after the link expired",
        bytes.len()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_grpc_read_stops_when_the_recording_is_deleted() {
    let server = Server::start(config()).await;
    let bytes = big_recording();
    let id = server.upload("10009", &bytes).await;
    let mut chunks = server
        .client()
        .await
        .read_recording(as_user(
            pb::ReadRecordingRequest {
                recording_id: id.clone(),
                offset: 0,
                length: 0,
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner();
    let mut received = chunks.message().await.unwrap().unwrap().chunk.len();
    assert!(server.delete(&id).await.unwrap());
    let end = loop {
        match chunks.message().await {
            Ok(Some(m)) => received += m.chunk.len(),
            Ok(None) => break None,
            Err(status) => break Some(status),
        }
    };
    let status = end.expect("the read ends with an error, not as if complete");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(
        received < bytes.len() / 2,
        "{received} of {} bytes read after the deletion started",
        bytes.len()
    );
    server.stop().await;
}

/// An in-memory store whose deletes fail while `failing` is set (an S3
/// that is down for them).
#[derive(Debug, Default)]
struct FailingDeletes {
    inner: InMemory,
    failing: AtomicBool,
}

impl fmt::Display for FailingDeletes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingDeletes")
    }
}

#[async_trait]
impl ObjectStore for FailingDeletes {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> StoreResult<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> StoreResult<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> StoreResult<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> StoreResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "FailingDeletes",
                source: "the store is down".into(),
            });
        }
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, StoreResult<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> StoreResult<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> StoreResult<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> StoreResult<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

#[tokio::test]
async fn a_deletion_the_store_fails_leaves_the_recording_unservable() {
    let objects = Arc::new(FailingDeletes::default());
    let server = Server::start_with(config(), objects.clone()).await;
    let bytes = fixture("tel-8k-cbr16-mono.mp3").repeat(20);
    let id = server.upload("10009", &bytes).await;
    let other = server.upload("10009", &bytes[..bytes.len() / 2]).await;
    let path = server.playback_path("10009", &id, Duration::seconds(600));
    assert_eq!(send(server.http, "GET", &path, &[]).await.status, 200);

    objects.failing.store(true, Ordering::SeqCst);
    let failed = server.delete(&id).await.unwrap_err();
    assert_eq!(failed.code(), Code::Unavailable, "the caller retries");
    // The files are still in the store, and none of it is served.
    let r = send(server.http, "GET", &path, &[("Range", "bytes=100-")]).await;
    assert_eq!(r.status, 410);
    assert_ne!(r.header("content-type"), Some("audio/mpeg"));
    let mut client = server.client().await;
    let info = client
        .get_media_info(as_user(
            pb::GetMediaInfoRequest {
                recording_id: id.clone(),
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(info.code(), Code::NotFound);
    let read = client
        .read_recording(as_user(
            pb::ReadRecordingRequest {
                recording_id: id.clone(),
                offset: 0,
                length: 0,
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::NotFound);
    let batch = client
        .batch_get_media_info(as_user(
            pb::BatchGetMediaInfoRequest {
                recording_ids: vec![id.clone(), other.clone()],
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner()
        .media;
    let listed: Vec<_> = batch.iter().map(|m| m.recording_id.as_str()).collect();
    assert_eq!(
        listed,
        [other.as_str()],
        "only the recording not being deleted"
    );
    // An upload does not bring it back meanwhile.
    let messages = pb::UploadRecordingRequest::stream_of(&id, &bytes, 1 << 20);
    let again = client
        .upload_recording(as_platform(futures::stream::iter(messages), "10009"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    // The other recording plays on.
    let other_path = server.playback_path("10009", &other, Duration::seconds(600));
    assert_eq!(send(server.http, "GET", &other_path, &[]).await.status, 200);

    // The store is back: the retry deletes it, and the store says 404.
    objects.failing.store(false, Ordering::SeqCst);
    assert!(server.delete(&id).await.unwrap());
    assert_eq!(send(server.http, "GET", &path, &[]).await.status, 404);
    server.stop().await;
}

//! One conformance suite for the recording store over every object-store
//! backend: in-memory, the local filesystem (a temp dir) and — when an
//! S3-compatible server is reachable — S3 (see `common/s3.rs`). Each scenario
//! uses its own tenant, so "nothing stored" can be checked by listing it,
//! and runs as a test of its own on each backend.

#![allow(unused_crate_dependencies)]

mod common;

use std::{sync::Arc, time::Duration};

use futures::TryStreamExt;
use media_svc::{
    Error,
    keys::{RecordingId, RecordingKeys},
    storage::{MediaStore, UploadLimits},
};
use object_store::{ObjectStore, PutPayload, memory::InMemory, path::Path};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use common::{Backend, fixture};

/// Small parts where the backend allows, so even the fixtures go up in several.
fn limits_for(backend: &Backend) -> UploadLimits {
    UploadLimits {
        max_upload_bytes: 16 * 1024 * 1024,
        part_bytes: backend.part_bytes,
        stale_after: Duration::from_secs(300),
    }
}

fn fresh_keys(tenant: &str) -> RecordingKeys {
    let id = RecordingId::parse(&Uuid::new_v4().to_string(), "recording_id").unwrap();
    RecordingKeys::new(tenant, id)
}

fn tenant(name: &str) -> String {
    format!("{name}-{}", Uuid::new_v4().simple())
}

async fn upload(
    store: &MediaStore,
    keys: &RecordingKeys,
    bytes: &[u8],
    chunk: usize,
) -> Result<media_svc::storage::Uploaded, Error> {
    let mut upload = store.begin_upload(keys.clone()).await?;
    for piece in bytes.chunks(chunk) {
        if let Err(e) = upload.write(piece).await {
            upload.abort().await;
            return Err(e);
        }
    }
    upload.finish().await
}

async fn read_all(
    store: &MediaStore,
    keys: &RecordingKeys,
    range: std::ops::Range<u64>,
) -> Vec<u8> {
    let chunks: Vec<_> = store
        .read(keys, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

/// Every object under `tenants/{tenant}` and `staging/{tenant}`.
async fn objects_of(objects: &Arc<dyn ObjectStore>, tenant: &str) -> Vec<String> {
    let mut found = Vec::new();
    for root in ["tenants", "staging"] {
        let prefix = Path::from_iter([root, tenant]);
        let listed: Vec<_> = objects.list(Some(&prefix)).try_collect().await.unwrap();
        found.extend(listed.into_iter().map(|m| m.location.to_string()));
    }
    found.sort();
    found
}

async fn assert_nothing_stored(backend: &Backend, tenant: &str) {
    assert_eq!(
        objects_of(&backend.objects, tenant).await,
        Vec::<String>::new(),
        "{}",
        backend.name
    );
    let raw = (backend.raw_files)();
    assert!(
        raw.iter().all(|f| !f.contains(tenant)),
        "{}: files left behind: {raw:?}",
        backend.name
    );
}

async fn stores_a_valid_upload(backend: &Backend) {
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    let t = tenant("valid");
    let keys = fresh_keys(&t);
    let bytes = fixture("cbr128-44k.mp3");
    let done = upload(&store, &keys, &bytes, 10_000).await.unwrap();
    assert!(done.created);
    let info = done.info;
    assert_eq!(info.recording_id, keys.id().to_string());
    assert_eq!(info.size_bytes, bytes.len() as u64);
    assert_eq!(info.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(info.crc32, crc32fast::hash(&bytes));
    assert_eq!(info.duration_micros, 8_855_510);
    assert_eq!(
        (info.sample_rate_hz, info.bitrate_kbps, info.channels),
        (44_100, 128, 1)
    );
    assert_eq!(store.info(&keys).await.unwrap(), Some(info.clone()));
    assert_eq!(
        objects_of(&backend.objects, &t).await,
        vec![
            format!("tenants/{t}/recordings/{}.json", keys.id()),
            format!("tenants/{t}/recordings/{}.mp3", keys.id())
        ]
    );
    assert_eq!(read_all(&store, &keys, 0..info.size_bytes).await, bytes);
    assert_eq!(
        read_all(&store, &keys, 1000..1010).await,
        &bytes[1000..1010]
    );
    let raw = (backend.raw_files)();
    assert!(
        raw.iter()
            .all(|f| !f.contains("staging") && !f.contains('#')),
        "{}: {raw:?}",
        backend.name
    );

    // Another tenant does not see it.
    let other = RecordingKeys::new(&tenant("other"), keys.id());
    assert_eq!(store.info(&other).await.unwrap(), None);
    assert!(matches!(
        store.read(&other, 0..10).await,
        Err(Error::NotFound(_))
    ));
}

async fn reupload_is_idempotent_or_conflicts(backend: &Backend) {
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    let t = tenant("again");
    let keys = fresh_keys(&t);
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    let first = upload(&store, &keys, &bytes, 4096).await.unwrap();
    let again = upload(&store, &keys, &bytes, 777).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.info, first.info);

    for other in [
        fixture("tel-8k-cbr32-mono.mp3"),
        bytes[..bytes.len() - 144].to_vec(),
    ] {
        let err = upload(&store, &keys, &other, 4096).await.unwrap_err();
        assert!(
            matches!(err, Error::AlreadyExists(_)),
            "{}: {err}",
            backend.name
        );
    }
    // Same length, one byte different.
    let mut flipped = bytes.clone();
    flipped[5000] ^= 1;
    assert!(matches!(
        upload(&store, &keys, &flipped, 4096).await,
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(store.info(&keys).await.unwrap(), Some(first.info));
    assert_eq!(read_all(&store, &keys, 0..bytes.len() as u64).await, bytes);
    assert_eq!(objects_of(&backend.objects, &t).await.len(), 2);
}

async fn invalid_uploads_store_nothing(backend: &Backend) {
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    let t = tenant("invalid");
    let wav = fixture("tiny-8k.wav");
    let mp3 = fixture("tel-8k-cbr16-mono.mp3");
    let truncated = mp3[..mp3.len() - 10].to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("wav", wav),
        ("flac", fixture("tiny-8k.flac")),
        ("text", b"just some text, not audio".repeat(100)),
        ("truncated", truncated),
    ];
    for (name, bytes) in cases {
        let keys = fresh_keys(&t);
        let err = upload(&store, &keys, &bytes, 1000).await.unwrap_err();
        assert!(
            matches!(err, Error::NotMp3(_)),
            "{} {name}: {err}",
            backend.name
        );
        assert_eq!(store.info(&keys).await.unwrap(), None);
    }
    assert_nothing_stored(backend, &t).await;
}

async fn oversized_uploads_store_nothing(backend: &Backend) {
    let store = MediaStore::new(
        backend.objects.clone(),
        UploadLimits {
            max_upload_bytes: 10_000,
            ..limits_for(backend)
        },
    );
    let t = tenant("big");
    let keys = fresh_keys(&t);
    let err = upload(&store, &keys, &fixture("tel-8k-cbr16-mono.mp3"), 4096)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 10_000 }), "{err}");
    assert_nothing_stored(backend, &t).await;
}

async fn an_upload_that_stops_half_way_leaves_nothing(backend: &Backend) {
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    let t = tenant("halfway");
    let bytes = fixture("cbr128-44k.mp3");

    // Explicitly abandoned.
    let keys = fresh_keys(&t);
    let mut up = store.begin_upload(keys.clone()).await.unwrap();
    up.write(&bytes[..70_000]).await.unwrap();
    up.abort().await;
    assert_eq!(store.info(&keys).await.unwrap(), None);

    // Dropped (the client went away): cleaned up in the background.
    let keys = fresh_keys(&t);
    let mut up = store.begin_upload(keys.clone()).await.unwrap();
    up.write(&bytes[..50_000]).await.unwrap();
    drop(up);
    assert_eq!(store.info(&keys).await.unwrap(), None);
    for _ in 0..50 {
        if objects_of(&backend.objects, &t).await.is_empty()
            && (backend.raw_files)().iter().all(|f| !f.contains(&t))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_nothing_stored(backend, &t).await;
    // And the id is free for a complete upload afterwards.
    assert!(upload(&store, &keys, &bytes, 65_536).await.unwrap().created);
}

async fn delete_is_idempotent(backend: &Backend) {
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    let t = tenant("delete");
    let keys = fresh_keys(&t);
    upload(&store, &keys, &fixture("tel-8k-cbr32-mono.mp3"), 8192)
        .await
        .unwrap();
    // Another tenant cannot delete it.
    assert!(
        !store
            .delete(&RecordingKeys::new(&tenant("other"), keys.id()))
            .await
            .unwrap()
    );
    assert!(store.info(&keys).await.unwrap().is_some());
    assert!(store.delete(&keys).await.unwrap());
    assert!(!store.delete(&keys).await.unwrap());
    assert_eq!(store.info(&keys).await.unwrap(), None);
    assert!(matches!(
        store.read(&keys, 0..10).await,
        Err(Error::NotFound(_))
    ));
    assert_nothing_stored(backend, &t).await;
}

async fn leftover_of_a_crashed_upload(backend: &Backend) {
    let t = tenant("crash");
    let keys = fresh_keys(&t);
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    // A crash between copying the file and writing its metadata leaves this.
    backend
        .objects
        .put(&keys.audio, PutPayload::from(b"partial garbage".to_vec()))
        .await
        .unwrap();
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    assert_eq!(
        store.info(&keys).await.unwrap(),
        None,
        "invisible without metadata"
    );
    // Fresh: it might be an upload committing right now.
    let err = upload(&store, &keys, &bytes, 4096).await.unwrap_err();
    assert!(matches!(err, Error::UploadInProgress(_)), "{err}");
    // Old enough: it is replaced.
    let patient = MediaStore::new(
        backend.objects.clone(),
        UploadLimits {
            stale_after: Duration::ZERO,
            ..limits_for(backend)
        },
    );
    assert!(upload(&patient, &keys, &bytes, 4096).await.unwrap().created);
    assert_eq!(read_all(&store, &keys, 0..bytes.len() as u64).await, bytes);
    // Delete clears a file without metadata too.
    backend.objects.delete(&keys.sidecar).await.unwrap();
    assert!(store.delete(&keys).await.unwrap());
    assert_nothing_stored(backend, &t).await;
}

async fn concurrent_uploads_of_one_recording(backend: &Backend) {
    let store = MediaStore::new(backend.objects.clone(), limits_for(backend));
    let t = tenant("race");
    let keys = fresh_keys(&t);
    let bytes = fixture("vbr-mpeg2-16k-id3.mp3");
    let results =
        futures::future::join_all((0..4).map(|_| upload(&store, &keys, &bytes, 4096))).await;
    let created = results
        .iter()
        .filter(|r| matches!(r, Ok(u) if u.created))
        .count();
    assert_eq!(created, 1, "{}: {results:?}", backend.name);
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(Error::UploadInProgress(_))),
            "{}: {r:?}",
            backend.name
        );
    }
    assert_eq!(read_all(&store, &keys, 0..bytes.len() as u64).await, bytes);
    assert_eq!(objects_of(&backend.objects, &t).await.len(), 2);
}

fn in_memory() -> Backend {
    Backend {
        name: "memory".into(),
        objects: Arc::new(InMemory::new()),
        raw_files: Box::new(Vec::new),
        part_bytes: 16 * 1024,
    }
}

/// One `#[tokio::test]` per scenario and backend (`s3::delete_is_idempotent`
/// fails or is skipped on its own); S3 runs when a server can be had (see
/// `common::s3`).
macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(&super::in_memory()).await;
            })*
        }
        mod local_filesystem {
            $(#[tokio::test]
            async fn $scenario() {
                let dir = tempfile::tempdir().unwrap();
                super::$scenario(&super::common::Backend::local(dir.path())).await;
            })*
        }
        mod s3 {
            $(#[tokio::test]
            async fn $scenario() {
                let Some(server) = super::common::s3::S3Server::start_or_skip().await else {
                    return;
                };
                super::$scenario(&server.backend()).await;
            })*
        }
    };
}

conformance!(
    stores_a_valid_upload,
    reupload_is_idempotent_or_conflicts,
    invalid_uploads_store_nothing,
    oversized_uploads_store_nothing,
    an_upload_that_stops_half_way_leaves_nothing,
    delete_is_idempotent,
    leftover_of_a_crashed_upload,
    concurrent_uploads_of_one_recording,
);

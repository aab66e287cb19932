//! Remembered playback metadata against a real (in-memory) object store:
//! it saves the metadata read, and a recording deleted or replaced behind
//! this server's back (by another replica) is never served from it.

use std::{sync::Arc, time::Duration};

use futures::TryStreamExt;
use object_store::{ObjectStore, memory::InMemory};

use super::*;
use crate::keys::RecordingId;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn store(objects: Arc<dyn ObjectStore>) -> MediaStore {
    MediaStore::new(
        objects,
        UploadLimits {
            max_upload_bytes: 1 << 20,
            part_bytes: 64 * 1024,
            stale_after: Duration::from_secs(300),
        },
    )
}

async fn upload(store: &MediaStore, keys: &RecordingKeys, bytes: &[u8]) {
    let mut upload = store.begin_upload(keys.clone()).await.unwrap();
    upload.write(bytes).await.unwrap();
    assert!(upload.finish().await.unwrap().created);
}

async fn read(store: &MediaStore, keys: &RecordingKeys, p: &PlaybackInfo) -> Option<Vec<u8>> {
    match store.read_playback(keys, p, 0..100).await.unwrap() {
        PlaybackBytes::Bytes(s) => {
            let pieces: Vec<bytes::Bytes> = s.try_collect().await.unwrap();
            Some(pieces.concat())
        }
        PlaybackBytes::File(f) => {
            let pieces: Vec<bytes::Bytes> = f.stream().try_collect().await.unwrap();
            Some(pieces.concat())
        }
        PlaybackBytes::Changed => None,
    }
}

#[tokio::test]
async fn remembered_metadata_never_serves_a_deleted_or_replaced_recording() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    // Two replicas over one store.
    let (here, elsewhere) = (store(objects.clone()), store(objects));
    let id = RecordingId::parse("0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f", "r").unwrap();
    let keys = RecordingKeys::new("10009", id);
    let first = fixture("tel-8k-cbr16-mono.mp3");
    upload(&elsewhere, &keys, &first).await;

    let fresh = here.playback_info(&keys, true).await.unwrap().unwrap();
    assert!(!fresh.is_remembered());
    assert_eq!(read(&here, &keys, &fresh).await.unwrap(), first[..100]);
    let remembered = here.playback_info(&keys, true).await.unwrap().unwrap();
    assert!(remembered.is_remembered());
    assert_eq!(remembered.info, fresh.info);
    assert!(
        !here
            .playback_info(&keys, false)
            .await
            .unwrap()
            .unwrap()
            .is_remembered()
    );
    assert_eq!(read(&here, &keys, &remembered).await.unwrap(), first[..100]);

    // Deleted elsewhere: the remembered read finds nothing.
    assert!(elsewhere.delete(&keys).await.unwrap());
    assert!(matches!(
        here.read_playback(&keys, &remembered, 0..100).await,
        Err(Error::NotFound(_))
    ));
    assert!(
        !here
            .playback_info(&keys, true)
            .await
            .unwrap()
            .is_some_and(|p| p.is_remembered())
    );

    // Remembered again, then replaced elsewhere by other bytes under the same id.
    upload(&elsewhere, &keys, &first).await;
    let fresh = here.playback_info(&keys, true).await.unwrap().unwrap();
    read(&here, &keys, &fresh).await.unwrap();
    let stale = here.playback_info(&keys, true).await.unwrap().unwrap();
    assert!(stale.is_remembered());
    assert!(elsewhere.delete(&keys).await.unwrap());
    let second = fixture("tel-8k-cbr32-mono.mp3");
    upload(&elsewhere, &keys, &second).await;
    assert!(
        read(&here, &keys, &stale).await.is_none(),
        "the old version is refused"
    );
    let fresh = here.playback_info(&keys, true).await.unwrap().unwrap();
    assert!(!fresh.is_remembered(), "a refused version is forgotten");
    assert_eq!(fresh.info.size_bytes, second.len() as u64);
    assert_eq!(read(&here, &keys, &fresh).await.unwrap(), second[..100]);
}

#[tokio::test]
async fn deleting_here_forgets_at_once() {
    let s = store(Arc::new(InMemory::new()));
    let id = RecordingId::parse("1b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f", "r").unwrap();
    let keys = RecordingKeys::new("10009", id);
    upload(&s, &keys, &fixture("tel-8k-cbr16-mono.mp3")).await;
    let fresh = s.playback_info(&keys, true).await.unwrap().unwrap();
    read(&s, &keys, &fresh).await.unwrap();
    assert!(s.delete(&keys).await.unwrap());
    assert!(s.playback_info(&keys, true).await.unwrap().is_none());
}

#[tokio::test]
async fn a_body_on_its_way_stops_when_another_replica_deletes_its_recording() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let every = Duration::from_millis(40);
    let (here, elsewhere) = (
        store(objects.clone()).with_recheck(every),
        store(objects).with_recheck(every),
    );
    let id = RecordingId::parse("0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f", "r").unwrap();
    let keys = RecordingKeys::new("10009", id);
    upload(&here, &keys, &fixture("tel-8k-cbr16-mono.mp3")).await;
    let stop = archive_common::shutdown::CancellationToken::new();
    here.spawn_recheck(stop.clone());
    let body = here.watch(&keys).unwrap();
    // While the recording is there, its body goes on through the re-checks.
    tokio::time::sleep(every * 3).await;
    assert!(!body.is_revoked());
    // Deleted through the other replica: this one never buried it.
    assert!(elsewhere.delete(&keys).await.unwrap());
    assert_eq!(here.tombstones().check(&keys), Ok(()));
    let mut stopped = false;
    for _ in 0..50 {
        if body.is_revoked() {
            stopped = true;
            break;
        }
        tokio::time::sleep(every / 2).await;
    }
    assert!(
        stopped,
        "the body went on after its recording was deleted elsewhere"
    );
}

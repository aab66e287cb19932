//! Recordings whose file never arrived, over real gRPC: archive-svc from
//! `run` on an ephemeral port and a stand-in media-svc that holds the files
//! a test gives it and records the deletions it is asked for. An ingested
//! recording is pending ("not available yet") until media-svc reports its
//! file; the recording platform lists what it owes; recordings from before
//! the upgrade are looked up at media-svc once.

#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::{Principal, error::violated_field};
use archive_proto::v1 as pb;
use chrono::{Duration as TimeDelta, Utc};
use common::{Harness, as_platform, as_user, keys, media::StandInMedia};
use test_support::calls::recorded_call;
use tonic::{Code, Request, Status};

async fn start() -> Harness {
    Harness::start_in(tempfile::tempdir().unwrap(), StandInMedia::default()).await
}

/// media-svc, reporting a stored file of `tenant`.
fn as_media_svc<T>(tenant: &str, message: T) -> Request<T> {
    keys()
        .signer("media-svc")
        .request(message, &Principal::system(tenant, "media-svc"))
}

/// What media-svc measures of a stored file.
fn info(recording_id: &str, sha_digit: &str) -> pb::MediaInfo {
    pb::MediaInfo {
        recording_id: recording_id.into(),
        size_bytes: 2_636_000,
        duration: Some(prost_types::Duration {
            seconds: 157,
            nanos: 500_000_000,
        }),
        sha256: sha_digit.repeat(64),
        crc32: 0xdead_beef,
        sample_rate_hz: 44_100,
        bitrate_kbps: 128,
    }
}

impl Harness {
    /// A recorded call of an hour ago ingested for `tenant`: its recording.
    async fn ingest_recording(&mut self, tenant: &str, session: &str) -> pb::Recording {
        let start = Utc::now() - TimeDelta::hours(1);
        let call = self.ingest(tenant, recorded_call(session, "95214830", start));
        call.await.recordings.remove(0)
    }

    async fn recording(&mut self, tenant: &str, id: &str) -> pb::Recording {
        let request = pb::BatchGetRecordingsRequest {
            recording_ids: vec![id.to_owned()],
        };
        let found = self.client.batch_get_recordings(as_user(tenant, request));
        let mut found = found.await.unwrap().into_inner().recordings;
        found.remove(0).recording.unwrap()
    }

    async fn report(
        &mut self,
        tenant: &str,
        media: pb::MediaInfo,
    ) -> Result<pb::Recording, Status> {
        let request = pb::MarkRecordingMediaStoredRequest { media: Some(media) };
        let stored = self
            .client
            .mark_recording_media_stored(as_media_svc(tenant, request));
        stored.await.map(|r| r.into_inner().recording.unwrap())
    }

    async fn owed(
        &mut self,
        tenant: &str,
        request: pb::ListPendingRecordingsRequest,
    ) -> Result<pb::ListPendingRecordingsResponse, Status> {
        self.client
            .list_pending_recordings(as_platform(tenant, request))
            .await
            .map(|r| r.into_inner())
    }

    async fn owed_ids(&mut self, tenant: &str) -> Vec<String> {
        let owed = self.owed(tenant, Default::default()).await.unwrap();
        ids_of(&owed.recordings)
    }
}

/// The ids of the owed recordings.
fn ids_of(owed: &[pb::RecordingWithCall]) -> Vec<String> {
    let recordings = owed.iter().map(|r| r.recording.as_ref().unwrap());
    recordings.map(|r| r.recording_id.clone()).collect()
}

fn media_state(r: &pb::Recording) -> pb::MediaState {
    pb::MediaState::try_from(r.media_state).unwrap()
}

#[tokio::test]
async fn an_ingested_recording_is_pending_until_media_svc_reports_its_file() {
    let mut h = start().await;
    let before = Utc::now();
    let ingested = h.ingest_recording("10009", "never-uploaded").await;
    let id = ingested.recording_id.clone();
    // Ingested, no upload yet: pending, since its ingest.
    assert_eq!(media_state(&ingested), pb::MediaState::Pending);
    assert_eq!(ingested.file, None);
    let ingest_time = ingested.ingest_time.unwrap();
    assert!(ingest_time.seconds >= before.timestamp() - 1);
    let read = h.recording("10009", &id).await;
    assert_eq!(
        (media_state(&read), read.ingest_time, read.file),
        (pb::MediaState::Pending, Some(ingest_time), None)
    );

    // The platform finds it, with its call's session to match its own file.
    let owed = h
        .owed("10009", Default::default())
        .await
        .unwrap()
        .recordings;
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].recording.as_ref().unwrap().recording_id, id);
    assert_eq!(owed[0].call.as_ref().unwrap().session_id, "never-uploaded");
    assert!(
        h.owed_ids("20001").await.is_empty(),
        "another tenant's list"
    );

    // Bad reports are refused naming the field; nothing changes.
    let mut bad = info(&id, "a");
    bad.sha256 = "not-hex".into();
    let err = h.report("10009", bad).await.unwrap_err();
    assert_eq!(
        (err.code(), violated_field(&err).as_deref()),
        (Code::InvalidArgument, Some("media.sha256"))
    );
    let mut bad = info(&id, "a");
    bad.duration = None;
    let err = h.report("10009", bad).await.unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("media.duration"));
    // Another tenant's media-svc report, or one for no such recording: NOT_FOUND.
    for (tenant, media) in [
        ("20001", info(&id, "a")),
        ("10009", info(&uuid::Uuid::new_v4().to_string(), "a")),
    ] {
        let err = h.report(tenant, media).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    assert_eq!(
        media_state(&h.recording("10009", &id).await),
        pb::MediaState::Pending
    );

    // The upload reported: stored, with what media-svc measured; owed no more.
    let stored = h.report("10009", info(&id, "a")).await.unwrap();
    assert_eq!(media_state(&stored), pb::MediaState::Stored);
    let file = stored.file.clone().unwrap();
    assert_eq!(
        (file.size_bytes, file.sha256.as_str()),
        (2_636_000, "a".repeat(64).as_str())
    );
    let duration = file.duration.unwrap();
    assert_eq!((duration.seconds, duration.nanos), (157, 500_000_000));
    assert_eq!(stored.ingest_time, Some(ingest_time));
    assert_eq!(h.recording("10009", &id).await, stored);
    assert!(h.owed_ids("10009").await.is_empty());
    // The same upload reported again (the platform retried) changes nothing.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(h.report("10009", info(&id, "a")).await.unwrap(), stored);
}

#[tokio::test]
async fn the_platform_pages_its_owed_files_oldest_first_bounded_by_ingest_time() {
    let mut h = start().await;
    let mut ids = Vec::new();
    let mut ingested_at = Vec::new();
    for i in 0..4 {
        let r = h.ingest_recording("10009", &format!("owed-{i}")).await;
        ingested_at.push(r.ingest_time.unwrap());
        ids.push(r.recording_id);
        // Distinct ingest times.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(h.owed_ids("10009").await, ids, "oldest ingest first");

    // Pages of two with tokens.
    let page = |token: String, before| pb::ListPendingRecordingsRequest {
        ingested_before: before,
        page_size: 2,
        page_token: token,
    };
    let first = h.owed("10009", page(String::new(), None)).await.unwrap();
    assert!(!first.next_page_token.is_empty());
    let second = h.owed("10009", page(first.next_page_token.clone(), None));
    let second = second.await.unwrap();
    assert!(second.next_page_token.is_empty(), "the last page");
    assert_eq!(
        [ids_of(&first.recordings), ids_of(&second.recordings)].concat(),
        ids
    );

    // Only those ingested before a time (e.g. uploads that should be done by now).
    let before = pb::ListPendingRecordingsRequest {
        ingested_before: Some(ingested_at[2]),
        ..Default::default()
    };
    let bounded = h.owed("10009", before).await.unwrap();
    assert_eq!(ids_of(&bounded.recordings), ids[..2]);
    // A token belongs to its query and tenant.
    for (tenant, request) in [
        (
            "10009",
            page(first.next_page_token.clone(), Some(ingested_at[2])),
        ),
        ("20001", page(first.next_page_token.clone(), None)),
    ] {
        let err = h.owed(tenant, request).await.unwrap_err();
        assert_eq!(violated_field(&err).as_deref(), Some("page_token"));
    }
    let too_many = pb::ListPendingRecordingsRequest {
        page_size: 1001,
        ..Default::default()
    };
    let err = h.owed("10009", too_many).await.unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("page_size"));

    // A deleted recording is owed no file; a reported one neither.
    h.delete("10009", &[&ids[0]], None).await.unwrap();
    h.report("10009", info(&ids[1], "b")).await.unwrap();
    assert_eq!(h.owed_ids("10009").await, ids[2..]);
}

#[tokio::test]
async fn a_file_that_arrives_after_its_recording_was_deleted_is_deleted_again() {
    let mut h = start().await;
    let id = h.ingest_recording("10009", "late").await.recording_id;
    h.delete("10009", &[&id], None).await.unwrap();
    wait_for_deletions(&h.media, &id, 1).await;
    // The platform's upload arrives now: recorded, and the file goes again.
    let late = h.report("10009", info(&id, "c")).await.unwrap();
    assert_eq!(
        pb::RecordingState::try_from(late.state).unwrap(),
        pb::RecordingState::Deleted
    );
    wait_for_deletions(&h.media, &id, 2).await;
}

/// Waits (10 s at most) until media-svc was asked `n` times to delete `id`'s file.
async fn wait_for_deletions(media: &StandInMedia, id: &str, n: usize) {
    for _ in 0..400 {
        let deleted = media.deleted.lock().unwrap().clone();
        let asked = deleted.iter().filter(|(t, r)| t == "10009" && r == id);
        if asked.count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("media-svc was not asked to delete {id}'s file {n} times");
}

#[tokio::test]
async fn recordings_from_before_the_upgrade_are_looked_up_at_media_svc_once() {
    // An installation from before media states: one call, three recordings;
    // media-svc has the first's file, not the second's, and describes the
    // third's in a way the archive cannot record (no duration).
    let dir = tempfile::tempdir().unwrap();
    let mut ids: [uuid::Uuid; 3] = std::array::from_fn(|_| uuid::Uuid::new_v4());
    ids.sort();
    let start = Utc::now() - TimeDelta::days(3);
    let call_id =
        common::legacy::old_installation(&common::db_url(&dir), "10009", "upgraded", start, &ids)
            .await;
    let media = StandInMedia::default();
    let stored = info(&ids[0].to_string(), "d");
    let odd = pb::MediaInfo {
        duration: None,
        ..info(&ids[2].to_string(), "e")
    };
    for (id, file) in [(ids[0], stored.clone()), (ids[2], odd)] {
        media
            .files
            .lock()
            .unwrap()
            .insert(("10009".into(), id.to_string()), file);
    }

    // The upgraded service checks them with media-svc by itself.
    let mut h = Harness::start_in(dir, media).await;
    let mut states = Vec::new();
    for _ in 0..400 {
        let call = common::call_of(&mut h.client, call_id.to_string()).await;
        states = call.recordings.iter().map(media_state).collect();
        if !states[..2].contains(&pb::MediaState::Unverified) {
            let file = call.recordings[0].file.clone().unwrap();
            assert_eq!(
                (file.size_bytes, file.sha256),
                (stored.size_bytes, stored.sha256)
            );
            // The missing one is owed since its recording's start.
            assert_eq!(
                call.recordings[1].ingest_time,
                call.recordings[1].start_time
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The third stays unverified: playable as before, not reported missing.
    assert_eq!(
        states,
        [
            pb::MediaState::Stored,
            pb::MediaState::Pending,
            pb::MediaState::Unverified
        ]
    );
    assert_eq!(h.owed_ids("10009").await, [ids[1].to_string()]);
}

//! A call whose recording never arrived: the recording platform ingested it
//! (IngestCall) but its upload to media-svc never happened. Through the whole
//! suite the row says "not available" (gRPC rows and the JSON API), playback
//! and download answer FAILED_PRECONDITION naming the recording (not
//! NOT_FOUND), the platform finds it with ListPendingRecordings, and once the
//! upload arrives it plays. Separately: media-svc answers an upload only once
//! archive-svc recorded it (and, in a rolling upgrade, stores it when
//! archive-svc is still a release without the report), and refuses one for a
//! recording the archive does not have.

#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::{identity::KeySet, shutdown::CancellationToken};
use archive_proto::v1::{
    self as pb, call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use common::{
    authed, client, http::post_json, http::request, play, recordings, rows_from, start_suite,
};
use test_support::principals::paal;
use tokio::net::TcpListener;
use tonic::Code;

/// What reads the archive as a user: the demo admin, through the gateway.
/// The recording ids the tenant's platform owes files for (first page of 1000).
async fn owed(archive_url: &str, keys: &KeySet) -> Vec<(String, String)> {
    let mut archive = CallServiceClient::connect(archive_url.to_owned())
        .await
        .unwrap();
    archive
        .list_pending_recordings(common::keys::platform(keys).request(
            pb::ListPendingRecordingsRequest {
                page_size: 1000,
                ..Default::default()
            },
            "10009",
        ))
        .await
        .unwrap()
        .into_inner()
        .recordings
        .into_iter()
        .map(|r| {
            (
                r.call.unwrap().session_id,
                r.recording.unwrap().recording_id,
            )
        })
        .collect()
}

fn play_state(row: &pb::CallRow) -> pb::PlayState {
    pb::PlayState::try_from(row.recordings[0].play_state).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_whose_upload_never_arrived_is_not_available_until_it_does() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let secret = suite.keys.clone();
    let archive_url = format!("http://{}", suite.endpoints.archive);
    let media_url = format!("http://{}", suite.endpoints.media);
    let id = recordings::ingest_recorded_calls(&archive_url, &secret, "lost", "4798", 1)
        .await
        .remove(0);
    let mut gateway = client(&suite).await;

    // The row: no Play, "not available", also for GetCallRow.
    let rows = rows_from(gateway.clone(), &suite, "paal", "47980000")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].recordings[0].recording_id, id);
    assert_eq!(play_state(&rows[0]), pb::PlayState::NotAvailable);
    let call_id = rows[0].call.as_ref().unwrap().call_id.clone();
    let rows_gateway = gateway.clone();
    let get_row = |user: &'static str| {
        let mut gateway = rows_gateway.clone();
        let request = authed(
            &suite,
            user,
            pb::GetCallRowRequest {
                call_id: call_id.clone(),
            },
        );
        async move {
            gateway
                .get_call_row(request)
                .await
                .unwrap()
                .into_inner()
                .row
                .unwrap()
        }
    };
    assert_eq!(
        play_state(&get_row("paal").await),
        pb::PlayState::NotAvailable
    );
    // A user without play rights is told the same: nobody can play it.
    assert_eq!(
        play_state(&get_row("nils").await),
        pb::PlayState::NotAvailable
    );

    // Playback and download: FAILED_PRECONDITION naming it, not NOT_FOUND.
    let err = play(&suite, "paal", &id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("not available yet"), "{err:?}");
    assert!(err.message().contains(&id), "{err:?}");
    let err = gateway
        .create_export(authed(
            &suite,
            "paal",
            pb::CreateExportRequest {
                recording_ids: vec![id.clone()],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message()
            .contains(&format!("recording {id} is not available yet")),
        "{err:?}"
    );

    // The JSON API says so too (what the page shows).
    let base = format!("http://{}", suite.endpoints.gateway_http);
    let bearer = format!("Bearer {}", suite.token("paal", 600).unwrap());
    let found = request(
        "GET",
        &format!("{base}/api/v1/calls?caller_number=47980000"),
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(found.status, 200);
    let found: serde_json::Value = serde_json::from_slice(&found.body).unwrap();
    assert_eq!(
        found["rows"][0]["recordings"][0]["play_state"],
        "not_available"
    );
    let refused = post_json(
        &format!("{base}/api/v1/recordings/{id}/playback"),
        &[("Authorization", &bearer)],
        "{}",
    )
    .await;
    let body = String::from_utf8_lossy(&refused.body);
    assert_eq!(refused.status, 409, "{body}");
    assert!(body.contains("not available yet"), "{body}");

    // The platform finds what it owes: this one, and the demo's two.
    let owed_now = owed(&archive_url, &secret).await;
    assert!(
        owed_now.contains(&("lost-0".to_owned(), id.clone())),
        "{owed_now:?}"
    );
    let sessions: Vec<&str> = owed_now.iter().map(|(s, _)| s.as_str()).collect();
    assert!(
        sessions.contains(&"seed-noupload-20231127-1412")
            && sessions.contains(&"seed-noupload-20231127-1440"),
        "{sessions:?}"
    );

    // It uploads again: the row plays, and the list no longer names it.
    recordings::upload(&media_url, &secret, &id, &recordings::mp3_of(50_000)).await;
    assert_eq!(play_state(&get_row("paal").await), pb::PlayState::Enabled);
    play(&suite, "paal", &id, "").await.unwrap();
    assert!(
        !owed(&archive_url, &secret)
            .await
            .iter()
            .any(|(_, r)| *r == id)
    );

    // An upload for a recording the archive does not have is refused, and
    // its file not kept.
    let stranger = uuid::Uuid::new_v4().to_string();
    let mut media = MediaServiceClient::connect(media_url.clone())
        .await
        .unwrap();
    let platform = common::keys::platform(&secret);
    let messages =
        pb::UploadRecordingRequest::stream_of(&stranger, &recordings::mp3_of(20_000), 1 << 20);
    let err = media
        .upload_recording(platform.request(tokio_stream::iter(messages), "10009"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains("not in the archive"), "{err:?}");
    let err = recordings::media_info(&media_url, &secret, &stranger)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    suite.stop().await.unwrap();
}

/// archive-svc serving `db` on `listener` until the token is cancelled.
fn serve_archive(db: &str, keys: &KeySet, listener: TcpListener) -> CancellationToken {
    let stop = CancellationToken::new();
    tokio::spawn(archive_svc::run(
        archive_svc::Config::new(db, keys.config("archive-svc")),
        listener,
        stop.clone(),
    ));
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_answered_only_once_archive_svc_recorded_it() {
    let test_keys = archive_common::identity::testing::TestKeys::new();
    let keys = test_keys.set();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let archive_addr = listener.local_addr().unwrap();
    let archive_url = format!("http://{archive_addr}");
    let archive = serve_archive(&db, keys, listener);
    archive_common::host::wait_serving(&archive_url, Duration::from_secs(10))
        .await
        .unwrap();
    let id = recordings::ingest_recorded_calls(&archive_url, keys, "flaky", "4799", 1)
        .await
        .remove(0);

    let mut config = media_svc::Config::new(
        dir.path().join("media"),
        keys.config("media-svc"),
        "playback key",
    );
    config.archive_url = Some(archive_url.clone());
    let media_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let media_url = format!("http://{}", media_listener.local_addr().unwrap());
    let media_stop = CancellationToken::new();
    tokio::spawn(media_svc::run(
        config,
        media_listener,
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        media_stop.clone(),
    ));
    archive_common::host::wait_serving(&media_url, Duration::from_secs(10))
        .await
        .unwrap();

    // archive-svc is down: the file is stored but the upload fails, saying why.
    archive.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bytes = recordings::mp3_of(40_000);
    let platform = common::keys::platform(keys);
    let upload = |media: &mut MediaServiceClient<tonic::transport::Channel>| {
        let messages = pb::UploadRecordingRequest::stream_of(&id, &bytes, 1 << 20);
        let request = platform.request(tokio_stream::iter(messages), "10009");
        let mut media = media.clone();
        async move { media.upload_recording(request).await }
    };
    let mut media = MediaServiceClient::connect(media_url.clone())
        .await
        .unwrap();
    let err = upload(&mut media).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("archive-svc could not record it"),
        "{err:?}"
    );

    // Back up (same port, same database): the platform's retry is recorded.
    let listener = TcpListener::bind(archive_addr).await.unwrap();
    let _archive = serve_archive(&db, keys, listener);
    archive_common::host::wait_serving(&archive_url, Duration::from_secs(10))
        .await
        .unwrap();
    let mut retried = None;
    for _ in 0..50 {
        match upload(&mut media).await {
            Ok(r) => {
                retried = Some(r.into_inner());
                break;
            }
            Err(e) if e.code() == Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    let retried = retried.expect("the retry succeeds once archive-svc is back");
    assert!(
        !retried.created,
        "the same bytes were stored the first time"
    );
    let mut archive = CallServiceClient::connect(archive_url).await.unwrap();
    let recording = archive
        .batch_get_recordings(common::keys::gateway_key(keys).request(
            pb::BatchGetRecordingsRequest {
                recording_ids: vec![id.clone()],
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner()
        .recordings
        .remove(0)
        .recording
        .unwrap();
    assert_eq!(recording.media_state, pb::MediaState::Stored as i32);
    assert_eq!(
        recording.file.unwrap().sha256,
        retried.media.unwrap().sha256
    );
    media_stop.cancel();

    // During a rolling upgrade media-svc may meet an archive-svc of the
    // previous release, which has no MarkRecordingMediaStored (UNIMPLEMENTED;
    // here a server with no CallService at all: media-svc itself). The
    // upload is stored and answered; that archive's recording is unverified,
    // playable as before.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own_url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = media_svc::Config::new(
        dir.path().join("media-2"),
        keys.config("media-svc"),
        "playback key",
    );
    config.archive_url = Some(own_url.clone());
    let stop = CancellationToken::new();
    tokio::spawn(media_svc::run(
        config,
        listener,
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.clone(),
    ));
    archive_common::host::wait_serving(&own_url, Duration::from_secs(10))
        .await
        .unwrap();
    let mut older = MediaServiceClient::connect(own_url).await.unwrap();
    let stored = upload(&mut older).await.unwrap().into_inner();
    assert!(stored.created);
    stop.cancel();
}

//! Playback, download and delete through the gateway, end to end: real
//! services, real HTTP, the zip read back by independent readers (Info-ZIP's
//! `unzip -t` and Python's `zipfile`).

#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::error::{is_reason_required, violated_field};
use archive_proto::v1::{self as pb, media_service_client::MediaServiceClient};
use common::{audit_events, authed, client, http::request, play, rows_from, start_suite};
use gateway::suite::Suite;
use tonic::Code;

async fn rows(suite: &Suite, user: &str, caller: &str) -> Vec<pb::CallRow> {
    rows_from(client(suite).await, suite, user, caller)
        .await
        .unwrap()
}

fn recording_of<'a>(rows: &'a [pb::CallRow], start: &str) -> &'a pb::RecordingRow {
    &rows
        .iter()
        .find(|r| r.start == start)
        .unwrap_or_else(|| panic!("row {start}"))
        .recordings[0]
}

async fn media_info(suite: &Suite, recording_id: &str) -> Result<pb::MediaInfo, tonic::Status> {
    let mut media = MediaServiceClient::connect(format!("http://{}", suite.endpoints.media))
        .await
        .unwrap();
    let key = common::keys::gateway_key(&suite.keys);
    let who = gateway::demo::user("paal").unwrap().principal();
    media
        .get_media_info(key.request(
            pb::GetMediaInfoRequest {
                recording_id: recording_id.into(),
            },
            &who,
        ))
        .await
        .map(|r| r.into_inner().media.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_download_and_delete() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let main = rows(&suite, "paal", "95214830").await;
    let recording = recording_of(&main, "23.11.2023 08:46").recording_id.clone();

    // Play: a signed media-svc URL; the bytes come with Range support.
    let started = play(&suite, "paal", &recording, "").await.unwrap();
    let whole = request("GET", &started.playback_url, &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("audio/mpeg"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let info = media_info(&suite, &recording).await.unwrap();
    assert_eq!(whole.body.len() as u64, info.size_bytes);
    let part = request("GET", &started.playback_url, &[("Range", "bytes=100-199")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, whole.body[100..200]);
    let forged = started.playback_url.replace("token=", "token=x");
    assert_eq!(request("GET", &forged, &[]).await.status, 403);

    // No play permission: refused, and the refusal is in the audit log.
    let err = play(&suite, "nils", &recording, "").await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // A malformed id is refused naming this request's own field.
    let err = client(&suite)
        .await
        .start_playback(authed(
            &suite,
            "paal",
            pb::StartPlaybackRequest {
                recording_id: "not-a-uuid".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(violated_field(&err).as_deref(), Some("recording_id"));

    // A user who must give a reason: asked first, then the reason is stored verbatim.
    let err = play(&suite, "rita", &recording, "  ").await.unwrap_err();
    assert!(is_reason_required(&err), "{err:?}");
    let reason = "Customer complaint, ticket #4711\nasked by the customer";
    client(&suite)
        .await
        .start_playback(authed(
            &suite,
            "rita",
            pb::StartPlaybackRequest {
                reason_code: "COMPLAINT".into(),
                recording_id: recording.clone(),
                reason: reason.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let err = play(&suite, "rita", &recording, &"r".repeat(1001))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("reason"));
    let events = audit_events(client(&suite).await, &suite, &recording).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == pb::AuditEventKind::PlaybackStarted as i32
                && e.actor_id == "rita"
                && e.reason == reason)
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == pb::AuditEventKind::AccessDenied as i32 && e.actor_id == "nils")
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == pb::AuditEventKind::PlaybackStarted as i32 && e.actor_id == "paal")
    );
    // Only users allowed to view the audit log may read it.
    let err = client(&suite)
        .await
        .list_audit_events(authed(&suite, "nils", pb::ListEventsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Download: three recordings of two calls, named by the seed's pattern.
    let transfer = main
        .iter()
        .find(|r| r.agents == "Andreas Wallin, paal-agent")
        .unwrap()
        .recordings[0]
        .recording_id
        .clone();
    let others = rows(&suite, "paal", "957211").await;
    let third = recording_of(&others, "09.02.2021 12:25")
        .recording_id
        .clone();
    let selection = vec![recording.clone(), transfer.clone(), third.clone()];
    let export = client(&suite)
        .await
        .create_export(authed(
            &suite,
            "paal",
            pb::CreateExportRequest {
                recording_ids: selection.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.file_name, format!("{}.zip", export.export_id));
    assert!(uuid_like(&export.export_id));
    assert_eq!(
        export.entry_names[0],
        "Sales_20231123-0846_81511569_95214830_seed-20231123-0846_1.mp3"
    );
    assert_eq!(
        export.entry_names[2],
        "Sales_20210209-1226_81511569_957211_seed-20210209-1225_1.mp3"
    );
    let zip = request("GET", &export.download_url, &[]).await;
    assert_eq!(zip.status, 200);
    assert_eq!(
        zip.header("content-length")
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        export.size_bytes
    );
    assert_eq!(zip.body.len() as u64, export.size_bytes);
    assert_eq!(
        zip.header("content-disposition"),
        Some(format!("attachment; filename=\"{}\"", export.file_name).as_str())
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(&export.file_name);
    std::fs::write(&path, &zip.body).unwrap();
    let unzip = std::process::Command::new("unzip")
        .arg("-t")
        .arg(&path)
        .output()
        .expect("Info-ZIP unzip is installed");
    assert!(
        unzip.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&unzip.stdout)
    );
    let listing = std::process::Command::new("python3")
        .args(["-c", "import hashlib, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist():\n    print(i.filename, i.compress_type, hashlib.sha256(z.read(i)).hexdigest())", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let listing = String::from_utf8(listing.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3);
    for ((line, name), id) in lines.iter().zip(&export.entry_names).zip(&selection) {
        let sha = media_info(&suite, id).await.unwrap().sha256;
        assert_eq!(
            *line,
            format!("{name} 0 {sha}"),
            "stored entry with the recording's exact bytes"
        );
    }
    // A broken download resumes with a range.
    let tail = request("GET", &export.download_url, &[("Range", "bytes=1000-")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, zip.body[1000..]);
    assert_eq!(
        request(
            "GET",
            &export.download_url.replace("token=", "token=x"),
            &[]
        )
        .await
        .status,
        403
    );
    let events = audit_events(client(&suite).await, &suite, &third).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == pb::AuditEventKind::RecordingDownloaded as i32
                && e.detail.contains(&export.export_id))
    );

    // Bad selections: a clear error naming the field, nothing exported.
    for (ids, code, field) in [
        (vec![], Code::InvalidArgument, Some("recording_ids")),
        (
            vec![recording.clone(), recording.clone()],
            Code::InvalidArgument,
            Some("recording_ids[1]"),
        ),
        (
            vec!["not-a-uuid".to_owned()],
            Code::InvalidArgument,
            Some("recording_ids[0]"),
        ),
        (vec![uuid::Uuid::new_v4().to_string()], Code::NotFound, None),
        (
            (0..1001)
                .map(|_| uuid::Uuid::new_v4().to_string())
                .collect(),
            Code::InvalidArgument,
            Some("recording_ids"),
        ),
    ] {
        let err = client(&suite)
            .await
            .create_export(authed(
                &suite,
                "paal",
                pb::CreateExportRequest {
                    recording_ids: ids,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{err:?}");
        assert_eq!(violated_field(&err).as_deref(), field);
    }

    // Delete: permission, confirmation, then the marker everywhere.
    let delete = |user: &'static str, confirmed: bool| {
        let suite = &suite;
        let recording = recording.clone();
        async move {
            client(suite)
                .await
                .delete_recordings(authed(
                    suite,
                    user,
                    pb::DeleteRecordingsRequest {
                        recording_ids: vec![recording],
                        confirmed,
                        ..Default::default()
                    },
                ))
                .await
        }
    };
    assert_eq!(
        delete("sara", true).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let err = delete("paal", false).await.unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("confirmed"));
    let deleted = delete("paal", true).await.unwrap().into_inner();
    assert_eq!(
        deleted.recordings[0].play_state,
        pb::PlayState::Deleted as i32
    );
    let text = deleted.recordings[0].deletion_text.clone();
    assert!(
        text.starts_with(
            "This recording is deleted by customer: 10009, user: Paal Admin(paal), on "
        ),
        "{text}"
    );
    for user in ["paal", "nils", "sara"] {
        let row = rows(&suite, user, "95214830")
            .await
            .into_iter()
            .find(|r| r.start == "23.11.2023 08:46")
            .unwrap();
        assert_eq!(row.deletion_text, text, "{user} sees the deletion");
    }
    // Deleting again keeps the first marker.
    let again = delete("paal", true).await.unwrap().into_inner();
    assert_eq!(again.recordings[0].deletion_text, text);
    // The file goes (archive-svc's outbox asks media-svc), and nothing can play it.
    let mut gone = false;
    for _ in 0..100 {
        if media_info(&suite, &recording)
            .await
            .is_err_and(|s| s.code() == Code::NotFound)
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !gone {
        let out = std::process::Command::new("sqlite3")
            .arg(data.path().join("calls.db"))
            .arg("select hex(recording_id), attempts, last_error from media_deletions")
            .output()
            .unwrap();
        panic!(
            "the recording file is not deleted from media-svc; outbox: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert_eq!(request("GET", &started.playback_url, &[]).await.status, 404);
    let err = play(&suite, "paal", &recording, "").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        audit_events(client(&suite).await, &suite, &recording)
            .await
            .iter()
            .any(|e| e.kind == pb::AuditEventKind::RecordingDeleted as i32)
    );
    suite.stop().await.unwrap();
}

fn uuid_like(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

//! A withdrawn permission stops links already handed out, within a bound:
//! playback links live a minute at most (here two seconds), and the page
//! renews them (RenewPlayback: decided again, not recorded again) until the
//! Play's hour is over; a download link is decided again on every request.

#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use archive_common::{convert::from_timestamp, shutdown::CancellationToken};
use archive_proto::v1::{self as pb, authz_service_client::AuthzServiceClient};
use common::{
    audit_events_where, authed, client_at,
    extra_gateway::{self, Overrides},
    http, recordings, start_suite,
};
use gateway::suite::Suite;
use tonic::Code;

const LINK_TTL_SECS: i64 = 2;

fn renew(suite: &Suite, user: &str, url: &str) -> tonic::Request<pb::RenewPlaybackRequest> {
    authed(
        suite,
        user,
        pb::RenewPlaybackRequest {
            playback_url: url.to_owned(),
        },
    )
}

/// Sets `user`'s permissions at authz-svc, as the admin does.
async fn set_permissions(suite: &Suite, user: &str, permissions: pb::Permissions) {
    let admin = gateway::demo::user("paal").unwrap().principal();
    let demo = gateway::demo::user(user).unwrap();
    let key = common::keys::gateway_key(&suite.keys);
    AuthzServiceClient::connect(format!("http://{}", suite.endpoints.authz))
        .await
        .unwrap()
        .update_user(key.request(
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    user_id: demo.user_id.into(),
                    display_name: demo.display_name.into(),
                    agent_name: demo.agent_name.into(),
                    permissions: Some(permissions),
                    ..Default::default()
                }),
                context: None,
            },
            &admin,
        ))
        .await
        .unwrap();
}

fn kind_count(events: &[pb::AuditEvent], kind: pb::AuditEventKind) -> usize {
    events.iter().filter(|e| e.kind == kind as i32).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_permission_stops_issued_links_within_their_short_life() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let stop = CancellationToken::new();
    let gw = extra_gateway::start_with(
        &suite,
        Overrides {
            playback_link_ttl_secs: Some(LINK_TTL_SECS),
            ..Default::default()
        },
        stop.clone(),
    )
    .await;
    let recording = recordings::recorded_in(&suite, "revoke", "4796", 200_000).await;
    let mut gateway = client_at(gw.grpc).await;

    // Sara plays: a link for two seconds, renewable for the Play's hour.
    let started = gateway
        .start_playback(authed(
            &suite,
            "sara",
            pb::StartPlaybackRequest {
                recording_id: recording.clone(),
                request_id: "revoke-play".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let now = chrono::Utc::now();
    let expires = from_timestamp(started.expire_time.as_ref().unwrap(), "").unwrap();
    let renewable = from_timestamp(started.renewable_until.as_ref().unwrap(), "").unwrap();
    assert!(expires <= now + chrono::Duration::seconds(LINK_TTL_SECS));
    assert!(renewable > now + chrono::Duration::minutes(59));
    assert_eq!(
        http::request("GET", &started.playback_url, &[])
            .await
            .status,
        200
    );

    // The link expires; the page trades it for a fresh one (the JSON API
    // the page calls), which plays; the trail still holds one Play.
    tokio::time::sleep(Duration::from_millis(LINK_TTL_SECS as u64 * 1000 + 100)).await;
    assert_eq!(
        http::request("GET", &started.playback_url, &[])
            .await
            .status,
        403
    );
    let token = suite.token("sara", 600).unwrap();
    let body = format!(r#"{{"playback_url": "{}"}}"#, started.playback_url);
    let renewed = http::post_json(
        &format!("http://{}/api/v1/playback/renew", gw.http),
        &[("Authorization", &format!("Bearer {token}"))],
        &body,
    )
    .await;
    assert_eq!(
        renewed.status,
        200,
        "{}",
        String::from_utf8_lossy(&renewed.body)
    );
    let renewed: serde_json::Value = serde_json::from_slice(&renewed.body).unwrap();
    let fresh = renewed["playback_url"].as_str().unwrap().to_owned();
    assert_ne!(fresh, started.playback_url);
    assert_eq!(
        renewed["renewable_until"],
        serde_json::Value::String(renewable.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "the same Play"
    );
    let seek = http::request("GET", &fresh, &[("Range", "bytes=1000-1999")]).await;
    assert_eq!(seek.status, 206);
    let played =
        |events: &[pb::AuditEvent]| kind_count(events, pb::AuditEventKind::PlaybackStarted);
    let reader = gateway.clone();
    let trail = || {
        audit_events_where(
            reader.clone(),
            &suite,
            pb::ListEventsRequest {
                recording_id: recording.clone(),
                ..Default::default()
            },
        )
    };
    assert_eq!(played(&trail().await), 1, "a renewal is not a second Play");

    // Only the user the link was issued to renews it.
    let stolen = gateway
        .renew_playback(renew(&suite, "paal", &fresh))
        .await
        .unwrap_err();
    assert_eq!(stolen.code(), Code::PermissionDenied);
    let forged = gateway
        .renew_playback(renew(&suite, "sara", &fresh.replace("token=", "token=x")))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::InvalidArgument);

    // Sara may download too, for now.
    let export = gateway
        .create_export(authed(
            &suite,
            "sara",
            pb::CreateExportRequest {
                recording_ids: vec![recording.clone()],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        http::request("HEAD", &export.download_url, &[])
            .await
            .status,
        200
    );

    // The admin withdraws her play and download permissions.
    let link = gateway
        .renew_playback(renew(&suite, "sara", &fresh))
        .await
        .unwrap()
        .into_inner()
        .playback_url;
    let withdrawn = Instant::now();
    set_permissions(
        &suite,
        "sara",
        pb::Permissions {
            view_audit_log: true,
            ..Default::default()
        },
    )
    .await;
    // Her links stop within their life (two seconds here, a minute at
    // most), plus authz-svc's decision cache (a second).
    let mut playback_stopped = None;
    let mut download_stopped = None;
    while withdrawn.elapsed() < Duration::from_secs(10)
        && (playback_stopped.is_none() || download_stopped.is_none())
    {
        if playback_stopped.is_none() && http::request("GET", &link, &[]).await.status == 403 {
            playback_stopped = Some(withdrawn.elapsed());
        }
        if download_stopped.is_none()
            && http::request("GET", &export.download_url, &[]).await.status == 403
        {
            download_stopped = Some(withdrawn.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bound = Duration::from_secs(LINK_TTL_SECS as u64 + 1);
    assert!(
        playback_stopped.is_some_and(|t| t <= bound),
        "the playback link stopped after {playback_stopped:?}"
    );
    assert!(
        download_stopped.is_some_and(|t| t <= Duration::from_secs(2)),
        "the download link stopped after {download_stopped:?}"
    );
    // And the page cannot renew: refused, and recorded as refused.
    let mut refused = None;
    for _ in 0..30 {
        match gateway.renew_playback(renew(&suite, "sara", &link)).await {
            Err(status) => {
                refused = Some(status);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(refused.map(|s| s.code()), Some(Code::PermissionDenied));
    let mut denied = 0;
    for _ in 0..50 {
        denied = kind_count(&trail().await, pb::AuditEventKind::AccessDenied);
        if denied >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        denied >= 2,
        "the refused download and renewal are in the trail ({denied})"
    );
    assert_eq!(played(&trail().await), 1);

    stop.cancel();
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_recording_or_an_ended_play_is_not_renewed() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let recording = recordings::recorded_in(&suite, "renew-deleted", "4797", 50_000).await;
    let mut gateway = client_at(suite.endpoints.gateway).await;
    let url = gateway
        .start_playback(authed(
            &suite,
            "paal",
            pb::StartPlaybackRequest {
                recording_id: recording.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .playback_url;
    gateway
        .delete_recordings(authed(
            &suite,
            "paal",
            pb::DeleteRecordingsRequest {
                recording_ids: vec![recording.clone()],
                confirmed: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let deleted = gateway
        .renew_playback(renew(&suite, "paal", &url))
        .await
        .unwrap_err();
    assert_eq!(deleted.code(), Code::FailedPrecondition, "{deleted:?}");
    assert!(deleted.message().contains("deleted"), "{deleted:?}");

    // A link whose Play is over (signed with the key, renewable until a
    // moment ago) is not renewed: the user presses Play again.
    let ended = media_svc::PlaybackToken {
        tenant: "10009".into(),
        recording_id: recording.clone(),
        user_id: "paal".into(),
        expires_at: chrono::Utc::now() - chrono::Duration::seconds(5),
        renewable_until: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
    }
    .sign(suite.secrets.playback_key.as_bytes());
    let status = gateway
        .renew_playback(renew(
            &suite,
            "paal",
            &format!("http://media/media/{recording}?token={ended}"),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("press Play"), "{status:?}");
    suite.stop().await.unwrap();
}

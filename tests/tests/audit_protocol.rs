//! The audit protocol end to end, on the embedded suite: one event per
//! completed action and none for a refused or repeated one — a retry with the
//! same request id records nothing twice (playback, export, delete, denial);
//! an export's N+1 events share one request id; a deletion's event comes from
//! archive-svc's outbox with the user's reason, code, case id and address;
//! searches are recorded once per request with their filter, unless the
//! tenant turned that off; the client's address is the peer's or, behind a
//! trusted proxy, the first untrusted `X-Forwarded-For` hop.

#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::Principal;
use archive_proto::v1::{self as pb, call_service_client::CallServiceClient};
use common::{
    audit_events_where, authed, client, client_at,
    extra_gateway::{self, Overrides},
    http::post_json,
    rows_from, start_suite,
};
use gateway::suite::Suite;
use tonic::{Code, Request, metadata::MetadataValue};

/// Every event of the demo tenant matching `filter`, newest first.
async fn events(suite: &Suite, filter: pb::ListEventsRequest) -> Vec<pb::AuditEvent> {
    audit_events_where(client(suite).await, suite, filter).await
}

async fn of_request(suite: &Suite, request_id: &str) -> Vec<pb::AuditEvent> {
    events(
        suite,
        pb::ListEventsRequest {
            request_id: request_id.into(),
            ..Default::default()
        },
    )
    .await
}

/// Waits until `filter` matches `n` events (an outbox delivers moments
/// after the change), then a little longer to see that no more arrive.
async fn settled(suite: &Suite, filter: pb::ListEventsRequest, n: usize) -> Vec<pb::AuditEvent> {
    for _ in 0..100 {
        if events(suite, filter.clone()).await.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    events(suite, filter).await
}

/// Recording ids of the demo calls from caller `number` that can be played.
async fn playable(suite: &Suite, user: &str, number: &str) -> Vec<String> {
    rows_from(client(suite).await, suite, user, number)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|r| r.recordings)
        .filter(|r| r.play_state == pb::PlayState::Enabled as i32)
        .map(|r| r.recording_id)
        .collect()
}

fn kinds(events: &[pb::AuditEvent]) -> Vec<pb::AuditEventKind> {
    let mut kinds: Vec<_> = events
        .iter()
        .map(|e| pb::AuditEventKind::try_from(e.kind).unwrap())
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_action_is_recorded_once_and_a_refused_one_once() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let mut gateway = client(&suite).await;
    let recordings = playable(&suite, "paal", "95214830").await;
    assert!(recordings.len() >= 2, "{recordings:?}");

    // Playback: two sends of one click, one event, both answered.
    let play = |request_id: &str| {
        authed(
            &suite,
            "rita",
            pb::StartPlaybackRequest {
                recording_id: recordings[0].clone(),
                reason: "complaint follow-up".into(),
                reason_code: "COMPLAINT".into(),
                case_id: "CASE-77".into(),
                request_id: request_id.into(),
            },
        )
    };
    let first = gateway.start_playback(play("play-1")).await.unwrap();
    let again = gateway.start_playback(play("play-1")).await.unwrap();
    assert!(!first.into_inner().playback_url.is_empty());
    assert!(!again.into_inner().playback_url.is_empty());
    let played = of_request(&suite, "play-1").await;
    assert_eq!(kinds(&played), [pb::AuditEventKind::PlaybackStarted]);
    let e = &played[0];
    assert_eq!(
        (
            e.actor_id.as_str(),
            e.reason_code.as_str(),
            e.case_id.as_str()
        ),
        ("rita", "COMPLAINT", "CASE-77")
    );
    assert_eq!(e.reason, "complaint follow-up");
    assert_eq!(e.client_address, "127.0.0.1", "the gRPC peer");
    // A new click is a new action.
    gateway.start_playback(play("play-2")).await.unwrap();
    assert_eq!(of_request(&suite, "play-2").await.len(), 1);

    // An unknown reason code is refused, naming the field, and records nothing.
    let mut bad = play("play-3");
    bad.get_mut().reason_code = "NOPE".into();
    let refused = gateway.start_playback(bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        archive_common::error::violated_field(&refused).as_deref(),
        Some("reason_code")
    );
    assert!(of_request(&suite, "play-3").await.is_empty());
    // With the tenant's codes, a required reason needs a code: text alone is not enough.
    let mut text_only = play("play-4");
    text_only.get_mut().reason_code.clear();
    let refused = gateway.start_playback(text_only).await.unwrap_err();
    assert!(
        archive_common::error::is_reason_required(&refused),
        "{refused:?}"
    );
    assert!(of_request(&suite, "play-4").await.is_empty());

    // Export: N+1 events in one append, and the retry is the same export.
    let export = |request_id: &str| {
        authed(
            &suite,
            "paal",
            pb::CreateExportRequest {
                recording_ids: recordings.clone(),
                request_id: request_id.into(),
                ..Default::default()
            },
        )
    };
    let made = gateway
        .create_export(export("export-1"))
        .await
        .unwrap()
        .into_inner();
    let remade = gateway
        .create_export(export("export-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        made.export_id, remade.export_id,
        "a retry answers the same export"
    );
    let exported = of_request(&suite, "export-1").await;
    let mut expected = vec![pb::AuditEventKind::RecordingDownloaded; recordings.len()];
    expected.insert(0, pb::AuditEventKind::ExportCreated);
    expected.sort();
    assert_eq!(kinds(&exported), expected, "N+1 events, once");
    let other = gateway
        .create_export(export("export-2"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.export_id, made.export_id);

    // Refused: nils may not play; asking twice in one action records one denial.
    let deny = || {
        authed(
            &suite,
            "nils",
            pb::StartPlaybackRequest {
                recording_id: recordings[0].clone(),
                request_id: "deny-1".into(),
                ..Default::default()
            },
        )
    };
    for _ in 0..2 {
        let status = gateway.start_playback(deny()).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    assert_eq!(
        kinds(&of_request(&suite, "deny-1").await),
        [pb::AuditEventKind::AccessDenied]
    );

    // Delete: archive-svc records it with the marker; a retry changes nothing.
    let delete = || {
        authed(
            &suite,
            "rita",
            pb::DeleteRecordingsRequest {
                recording_ids: vec![recordings[1].clone()],
                reason: "erasure request".into(),
                reason_code: "LEGAL".into(),
                case_id: "GDPR-12".into(),
                request_id: "delete-1".into(),
                confirmed: true,
            },
        )
    };
    gateway.delete_recordings(delete()).await.unwrap();
    gateway.delete_recordings(delete()).await.unwrap();
    let deleted = settled(
        &suite,
        pb::ListEventsRequest {
            recording_id: recordings[1].clone(),
            kind: pb::AuditEventKind::RecordingDeleted as i32,
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(deleted.len(), 1, "{deleted:#?}");
    let d = &deleted[0];
    assert_eq!(
        (
            d.actor_id.as_str(),
            d.reason.as_str(),
            d.reason_code.as_str(),
            d.case_id.as_str(),
            d.request_id.as_str(),
            d.client_address.as_str(),
        ),
        (
            "rita",
            "erasure request",
            "LEGAL",
            "GDPR-12",
            "delete-1",
            "127.0.0.1"
        )
    );
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_are_recorded_once_per_request_unless_the_tenant_turns_it_off() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let mut gateway = client(&suite).await;
    let search = |request_id: &str, number: &str| {
        let mut request = authed(
            &suite,
            "sara",
            pb::SearchCallRowsRequest {
                filter: Some(pb::CallFilter {
                    caller_number: number.into(),
                    caller_number_partial: true,
                    agent: "Andreas Wallin".into(),
                    ..Default::default()
                }),
                page_size: 50,
                ..Default::default()
            },
        );
        request
            .metadata_mut()
            .insert("x-request-id", MetadataValue::try_from(request_id).unwrap());
        request
    };
    let rows = gateway
        .search_call_rows(search("search-1", "2148"))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert!(!rows.is_empty());
    let recorded = settled(
        &suite,
        pb::ListEventsRequest {
            request_id: "search-1".into(),
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(
        kinds(&recorded),
        [pb::AuditEventKind::SearchPerformed],
        "one event, not one per row"
    );
    let detail: serde_json::Value = serde_json::from_str(&recorded[0].detail).unwrap();
    assert_eq!(
        detail,
        serde_json::json!({"caller_number": "2148", "caller_number_partial": true, "agent": "Andreas Wallin"})
    );
    assert_eq!(recorded[0].actor_id, "sara");

    // The tenant turns it off (archive-svc's settings; the gateway remembers
    // them for a minute, so a fresh gateway shows the change at once).
    let key = common::keys::gateway_key(&suite.keys);
    let admin = Principal::new("10009", "paal", "Paal Admin");
    let mut archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let settings = archive
        .get_tenant_settings(key.request(pb::GetTenantSettingsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    archive
        .update_tenant_settings(key.request(
            pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    search_audit_disabled: true,
                    ..settings
                }),
                context: None,
            },
            &admin,
        ))
        .await
        .unwrap();
    let shutdown = archive_common::shutdown::CancellationToken::new();
    let fresh = extra_gateway::start_with(&suite, Overrides::default(), shutdown.clone()).await;
    let mut fresh = client_at(fresh.grpc).await;
    fresh
        .search_call_rows(search("search-2", "2148"))
        .await
        .unwrap();
    let settings_changed = settled(
        &suite,
        pb::ListEventsRequest {
            kind: pb::AuditEventKind::TenantSettingsChanged as i32,
            ..Default::default()
        },
        2,
    )
    .await;
    assert!(
        settings_changed
            .iter()
            .any(|e| e.detail.contains("search_audit_disabled")),
        "{settings_changed:#?}"
    );
    assert!(
        of_request(&suite, "search-2").await.is_empty(),
        "recorded although turned off"
    );
    shutdown.cancel();
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_is_the_first_untrusted_hop_behind_trusted_proxies() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let recording = playable(&suite, "paal", "957211").await.remove(0);
    let token = suite.token("paal", 600).unwrap();
    let bearer = format!("Bearer {token}");
    let body = |request_id: &str| format!(r#"{{"request_id": "{request_id}"}}"#);
    let play = |http: std::net::SocketAddr, request_id: &'static str, xff: &'static str| {
        let bearer = bearer.clone();
        let recording = recording.clone();
        let body = body(request_id);
        async move {
            let url = format!("http://{http}/api/v1/recordings/{recording}/playback");
            let response = post_json(
                &url,
                &[
                    ("Authorization", &bearer),
                    ("X-Forwarded-For", xff),
                    ("User-Agent", "e2e-agent/1.0"),
                ],
                &body,
            )
            .await;
            assert_eq!(
                response.status,
                200,
                "{}",
                String::from_utf8_lossy(&response.body)
            );
        }
    };
    // The suite's gateway trusts no proxy: the peer is the client, whatever it forwards.
    play(suite.endpoints.gateway_http, "addr-1", "203.0.113.9").await;
    // A gateway behind a trusted proxy on loopback: the first untrusted hop from the right.
    let shutdown = archive_common::shutdown::CancellationToken::new();
    let behind = extra_gateway::start_with(
        &suite,
        Overrides {
            trusted_proxies: "127.0.0.0/8, 10.0.0.0/8".into(),
            ..Default::default()
        },
        shutdown.clone(),
    )
    .await;
    archive_common::host::wait_serving(&format!("http://{}", behind.grpc), Duration::from_secs(30))
        .await
        .unwrap();
    play(behind.http, "addr-2", "6.6.6.6, 198.51.100.4, 10.1.2.3").await;

    let one = of_request(&suite, "addr-1").await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].client_address, "127.0.0.1");
    assert_eq!(one[0].user_agent, "e2e-agent/1.0");
    let two = of_request(&suite, "addr-2").await;
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].client_address, "198.51.100.4");

    // gRPC behind the same proxies reads x-forwarded-for too.
    let mut grpc = client_at(behind.grpc).await;
    let mut request = Request::new(pb::StartPlaybackRequest {
        recording_id: recording.clone(),
        request_id: "addr-3".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("authorization", MetadataValue::try_from(&bearer).unwrap());
    request
        .metadata_mut()
        .insert("x-forwarded-for", MetadataValue::from_static("192.0.2.77"));
    grpc.start_playback(request).await.unwrap();
    assert_eq!(
        of_request(&suite, "addr-3").await[0].client_address,
        "192.0.2.77"
    );
    shutdown.cancel();
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_takes_the_trail_through_the_gateway_and_verifies_it_offline() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let base = format!("http://{}", suite.endpoints.gateway_http);
    let bearer = |user: &str| format!("Bearer {}", suite.token(user, 600).unwrap());
    let get = |path: String, user: &'static str| {
        let auth = bearer(user);
        async move { common::http::request("GET", &path, &[("Authorization", &auth)]).await }
    };
    let json = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap();

    // A user who may not view the audit log gets none of it.
    for path in ["checkpoint?create=true", "export", "verify"] {
        let refused = get(format!("{base}/api/v1/audit/{path}"), "nils").await;
        assert_eq!(refused.status, 403, "{path}");
    }
    // The auditor has the current head signed, and reads its public key.
    let signed = get(
        format!("{base}/api/v1/audit/checkpoint?create=true"),
        "sara",
    )
    .await;
    assert_eq!(
        signed.status,
        200,
        "{}",
        String::from_utf8_lossy(&signed.body)
    );
    let checkpoint = json(&signed.body);
    let public_key = checkpoint["public_key"].as_str().unwrap().to_owned();
    assert!(checkpoint["sequence"].as_u64().unwrap() > 0);
    // Bad input is refused naming the field.
    for (path, field) in [
        ("verify?from=abc", "from_sequence"),
        ("export?to=-1", "to_sequence"),
        ("checkpoint?create=yes", "create"),
    ] {
        let refused = get(format!("{base}/api/v1/audit/{path}"), "sara").await;
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(json(&refused.body)["error"]["field"], field, "{path}");
    }
    // The service's own check agrees.
    let verified = json(
        &get(format!("{base}/api/v1/audit/verify"), "sara")
            .await
            .body,
    );
    assert_eq!(verified["intact"], true, "{verified}");
    assert!(verified["checkpoints_checked"].as_u64().unwrap() >= 1);

    // The export, saved as a browser would, verifies with the key alone.
    let export = get(format!("{base}/api/v1/audit/export"), "sara").await;
    assert_eq!(export.status, 200);
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    assert!(
        export
            .header("content-disposition")
            .is_some_and(|d| d.contains("audit-trail-10009.jsonl")),
        "{:?}",
        export.header("content-disposition")
    );
    let file = data.path().join("trail.jsonl");
    std::fs::write(&file, &export.body).unwrap();
    let trust = audit_svc::verify::Trust::new(
        Vec::new(),
        vec![audit_svc::checkpoint::parse_public_key(&public_key).unwrap()],
    );
    let (tenant, report) = audit_svc::verify::verify_export(&file, Some("10009"), &trust)
        .await
        .unwrap();
    assert_eq!(tenant, "10009");
    assert!(report.intact, "{report:?}");
    assert!(report.checkpoints_checked >= 1, "{report:?}");

    // One changed reason in the file is caught, at its event.
    let text = String::from_utf8(export.body.clone()).unwrap();
    let (line, edited) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| {
            l.contains("\"reason\":\"demo tenant set up\"")
                .then(|| (i, l.replace("demo tenant set up", "nothing to see")))
        })
        .expect("the seed's settings change is in the export");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[line] = edited;
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (_, report) = audit_svc::verify::verify_export(&file, Some("10009"), &trust)
        .await
        .unwrap();
    assert!(!report.intact);
    let sequence =
        serde_json::from_str::<serde_json::Value>(&lines[line]).unwrap()["event"]["sequence"]
            .as_u64()
            .unwrap();
    assert_eq!(report.first_bad_sequence, sequence, "{report:?}");
    suite.stop().await.unwrap();
}

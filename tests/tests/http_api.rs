//! The HTTP/JSON API the web page and scripts use, against the whole suite.

#![allow(unused_crate_dependencies)]

mod common;

use common::{
    http::{post_json, request},
    start_suite,
};

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_mirrors_the_grpc_api() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let base = format!("http://{}", suite.endpoints.gateway_http);
    let bearer = |user: &str| format!("Bearer {}", suite.token(user, 600).unwrap());
    let paal = bearer("paal");

    let session = request(
        "GET",
        &format!("{base}/api/v1/session"),
        &[("Authorization", &paal)],
    )
    .await;
    assert_eq!(session.status, 200);
    let session = json(&session.body);
    assert_eq!(session["customer"], "10009");
    assert_eq!(session["display_name"], "Paal Admin");
    assert_eq!(session["permissions"]["delete_recordings"], true);

    let found = request(
        "GET",
        &format!("{base}/api/v1/calls?caller_number=95214830&page_size=10"),
        &[("Authorization", &paal)],
    )
    .await;
    assert_eq!(found.status, 200);
    let found = json(&found.body);
    let row = found["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["start"] == "23.11.2023 08:46")
        .expect("the seed's row");
    assert_eq!(row["access_point"], "81511569 (Main Demo Number)");
    assert_eq!(row["recording_time"], "2:37");
    assert_eq!(row["recordings"][0]["play_state"], "enabled");
    assert_eq!(row["recordings"][0]["segments"][0]["queue"], "Sales");
    let recording = row["recordings"][0]["recording_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Errors as JSON with the right HTTP status.
    let anonymous = request("GET", &format!("{base}/api/v1/calls"), &[]).await;
    assert_eq!(anonymous.status, 401);
    let bad = request(
        "GET",
        &format!("{base}/api/v1/calls?page_size=5000"),
        &[("Authorization", &paal)],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(json(&bad.body)["error"]["field"], "page_size");
    let bad_time = request(
        "GET",
        &format!("{base}/api/v1/calls?from=yesterday"),
        &[("Authorization", &paal)],
    )
    .await;
    assert_eq!(
        json(&bad_time.body)["error"]["field"],
        "filter.start_time_from"
    );

    // Reason required: 428 until a reason comes with the request.
    let rita = bearer("rita");
    let url = format!("{base}/api/v1/recordings/{recording}/playback");
    let asked = post_json(&url, &[("Authorization", &rita)], "{}").await;
    assert_eq!(asked.status, 428);
    assert_eq!(json(&asked.body)["error"]["reason_required"], true);
    let played = post_json(
        &url,
        &[("Authorization", &rita)],
        r#"{"reason": "quality review", "reason_code": "QA", "case_id": "T-1", "request_id": "api-play-1"}"#,
    )
    .await;
    assert_eq!(played.status, 200);
    let playback_url = json(&played.body)["playback_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(request("HEAD", &playback_url, &[]).await.status, 200);
    let denied = post_json(&url, &[("Authorization", &bearer("nils"))], "{}").await;
    assert_eq!(denied.status, 403);

    // Export and delete through JSON.
    let export = post_json(
        &format!("{base}/api/v1/exports"),
        &[("Authorization", &paal)],
        &format!(r#"{{"recording_ids": ["{recording}"]}}"#),
    )
    .await;
    assert_eq!(export.status, 200);
    let export = json(&export.body);
    let zip = request("GET", export["download_url"].as_str().unwrap(), &[]).await;
    assert_eq!(zip.status, 200);
    assert_eq!(
        zip.body.len() as u64,
        export["size_bytes"].as_u64().unwrap()
    );
    let unconfirmed = post_json(
        &format!("{base}/api/v1/recordings/delete"),
        &[("Authorization", &paal)],
        &format!(r#"{{"recording_ids": ["{recording}"]}}"#),
    )
    .await;
    assert_eq!(unconfirmed.status, 400);
    assert_eq!(json(&unconfirmed.body)["error"]["field"], "confirmed");
    let deleted = post_json(
        &format!("{base}/api/v1/recordings/delete"),
        &[("Authorization", &paal)],
        &format!(r#"{{"recording_ids": ["{recording}"], "confirmed": true}}"#),
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        json(&deleted.body)["recordings"][0]["play_state"],
        "deleted"
    );

    // The deletion's event comes from archive-svc's outbox, moments later.
    let mut kinds: Vec<String> = Vec::new();
    for _ in 0..100 {
        let audit = request(
            "GET",
            &format!("{base}/api/v1/audit?recording_id={recording}"),
            &[("Authorization", &paal)],
        )
        .await;
        assert_eq!(audit.status, 200);
        kinds = json(&audit.body)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        if kinds.iter().any(|k| k == "recording_deleted") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The structured reason, found by code and case id, with its request id.
    let found = request(
        "GET",
        &format!("{base}/api/v1/audit?reason_code=QA&case_id=T-1&kind=playback_started"),
        &[("Authorization", &paal)],
    )
    .await;
    let found = json(&found.body)["events"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["reason"], "quality review");
    assert_eq!(found[0]["request_id"], "api-play-1");
    assert_eq!(found[0]["client_address"], "127.0.0.1");
    let unknown_kind = request(
        "GET",
        &format!("{base}/api/v1/audit?kind=teleported"),
        &[("Authorization", &paal)],
    )
    .await;
    assert_eq!(unknown_kind.status, 400);
    assert_eq!(json(&unknown_kind.body)["error"]["field"], "kind");
    for kind in [
        "playback_started",
        "access_denied",
        "recording_downloaded",
        "recording_deleted",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    suite.stop().await.unwrap();
}

/// The demo tenant as the page shows it: every row's texts (times in the
/// tenant's zone, durations, numbers with names, agents, the deletion text)
/// and the session, as the JSON API answers them. A change to any text shows
/// up here as a diff to review, not as a silent change on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tenant_reads_as_snapshotted() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let base = format!("http://{}", suite.endpoints.gateway_http);
    let paal = format!("Bearer {}", suite.token("paal", 600).unwrap());
    let get = |path: String| {
        let paal = paal.clone();
        async move {
            let answer = request("GET", &path, &[("Authorization", &paal)]).await;
            assert_eq!(answer.status, 200, "{path}");
            json(&answer.body)
        }
    };
    let session = get(format!("{base}/api/v1/session")).await;
    insta::assert_json_snapshot!("session_paal", session);
    // The help page's own example calls (the seed's other calls are dated
    // relative to today).
    let rows = get(format!(
        "{base}/api/v1/calls?page_size=100&from=2019-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"
    ))
    .await;
    // Ids are fresh per data directory; everything else is the seed's.
    insta::assert_json_snapshot!("demo_rows", rows, {
        ".rows[].call_id" => "[call id]",
        ".rows[].recordings[].recording_id" => "[recording id]",
        ".next_page_token" => "[token]",
        ".rows[].deletion_text" => insta::dynamic_redaction(deleted_at),
        ".rows[].recordings[].deletion_text" => insta::dynamic_redaction(deleted_at),
    });
}

/// The demo's deletion happens when the seed runs: its time is the run's.
fn deleted_at(value: insta::internals::Content, _: insta::internals::ContentPath<'_>) -> String {
    let text = value.as_str().unwrap_or_default();
    match text.rsplit_once(", on ") {
        Some((who, _)) => format!("{who}, on [seed time]"),
        None => text.to_owned(),
    }
}

//! The whole suite, started in-process on ephemeral ports exactly as
//! `cargo run --release` starts it, driven over gRPC like a client would.

#![allow(unused_crate_dependencies)]

use std::time::Duration;

use archive_common::{error::violated_field, host::ServingStatus, shutdown::CancellationToken};
use archive_proto::v1 as pb;
use gateway::{SuiteConfig, suite::Suite};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

mod common;

use common::{authed, client, start_suite};

async fn search(suite: &Suite, user: &str, filter: pb::CallFilter) -> Vec<pb::CallRow> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client(suite)
            .await
            .search_call_rows(authed(
                suite,
                user,
                pb::SearchCallRowsRequest {
                    filter: Some(filter.clone()),
                    page_size: 25,
                    page_token,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        rows.extend(page.rows);
        if page.next_page_token.is_empty() {
            return rows;
        }
        page_token = page.next_page_token;
    }
}

async fn listed_services(addr: std::net::SocketAddr) -> Vec<String> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    match response.message_response.unwrap() {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// A service that cannot start fails the suite's start with its own words
/// (here media-svc's missing bucket), not a health check's timeout.
#[tokio::test]
async fn a_service_that_cannot_start_says_why() {
    let data = tempfile::tempdir().unwrap();
    let mut config = SuiteConfig::ephemeral(data.path());
    config.media_store = media_svc::StoreKind::S3;
    let error = match Suite::start(config, CancellationToken::new()).await {
        Ok(_) => panic!("a suite on S3 without a bucket started"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("media-svc"), "{error}");
    assert!(error.contains("MEDIA_S3_BUCKET is required"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_serves_searches_and_restarts_without_reseeding() {
    let data = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let suite = Suite::start(SuiteConfig::ephemeral(data.path()), shutdown.clone())
        .await
        .unwrap();
    let seeded = suite.seeded.expect("a fresh data directory is seeded");
    // The admin is bootstrapped by authz-svc; the seed creates the others.
    assert_eq!(
        seeded.users_created as usize,
        gateway::demo::users().len() - 1
    );
    assert!(seeded.calls_created >= 120);

    // Every service answers health SERVING and lists its service by reflection.
    for (name, addr) in suite.endpoints.services() {
        let status = archive_common::host::check_health(&format!("http://{addr}"))
            .await
            .unwrap();
        assert_eq!(status, ServingStatus::Serving, "{name}");
        let services = listed_services(addr).await;
        assert!(
            services.contains(&"grpc.health.v1.Health".to_owned()),
            "{name}: {services:?}"
        );
        // The operator's service beside the gateway's and authz-svc's own.
        let own: &[&str] = match name {
            "gateway" => &[
                "archive.v1.ArchiveService",
                "archive.v1.ArchiveAdmin",
                "archive.v1.OperatorService",
            ],
            "archive-svc" => &["archive.v1.CallService"],
            "media-svc" => &["archive.v1.MediaService"],
            "authz-svc" => &["archive.v1.AuthzService", "archive.v1.OperatorService"],
            _ => &["archive.v1.AuditService"],
        };
        // Its own service only: the suite's other ports serve the others.
        let archive_services = services.iter().filter(|s| s.starts_with("archive.v1."));
        assert_eq!(
            archive_services.collect::<Vec<_>>(),
            own,
            "{name} lists {services:?}"
        );
    }

    // The seed's row, formatted as the Archive shows it.
    let rows = search(
        &suite,
        "paal",
        pb::CallFilter {
            caller_number: "95214830".into(),
            ..Default::default()
        },
    )
    .await;
    let row = rows
        .iter()
        .find(|r| r.start == "23.11.2023 08:46")
        .expect("the seed's 23.11.2023 row");
    assert_eq!(row.access_point, "81511569 (Main Demo Number)");
    assert_eq!(row.recording_time, "2:37");
    assert_eq!(row.speak_time, "2:37");
    assert_eq!(row.callers_number, "95214830");
    assert_eq!(row.time_before_answer, "0:07");
    assert_eq!(row.agents, "Andreas Wallin");
    assert!(row.recording_tab_enabled);
    let recording = &row.recordings[0];
    assert_eq!(recording.play_state, pb::PlayState::Enabled as i32);
    assert_eq!(
        (recording.start.as_str(), recording.finish.as_str()),
        ("23.11.2023 08:46:15", "23.11.2023 08:48:52")
    );
    assert_eq!(recording.segments[0].queue, "Sales");

    // The transferred call shows both agents.
    let transfer = rows
        .iter()
        .find(|r| r.agents == "Andreas Wallin, paal-agent")
        .expect("transfer row");
    assert_eq!(transfer.recordings[0].segments.len(), 2);

    // The deleted recording's row carries the deletion text.
    let rows = search(
        &suite,
        "paal",
        pb::CallFilter {
            caller_number: "98214836".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(rows.len(), 2);
    let deleted = rows.iter().find(|r| r.start == "15.11.2022 11:07").unwrap();
    // As the help page shows it.
    let columns = |r: &pb::CallRow| {
        let r = r.clone();
        [
            r.recording_time,
            r.speak_time,
            r.time_before_answer,
            r.agents,
        ]
    };
    assert_eq!(columns(deleted), ["1:14", "0:57", "0:06", "paal-agent"]);
    assert!(
        deleted.deletion_text.starts_with(
            "This recording is deleted by customer: 10009, user: Paal Admin(paal), on "
        ),
        "{}",
        deleted.deletion_text
    );
    assert_eq!(
        deleted.recordings[0].play_state,
        pb::PlayState::Deleted as i32
    );
    assert!(
        rows.iter()
            .find(|r| r.start == "15.11.2022 11:00")
            .unwrap()
            .deletion_text
            .is_empty()
    );

    // A user without play rights sees Play disabled and the Recording tab disabled.
    let rows = search(
        &suite,
        "nils",
        pb::CallFilter {
            caller_number: "95214830".into(),
            ..Default::default()
        },
    )
    .await;
    let row = rows.iter().find(|r| r.start == "23.11.2023 08:46").unwrap();
    assert_eq!(row.recordings[0].play_state, pb::PlayState::Disabled as i32);
    assert!(!row.recording_tab_enabled);

    // Paging walks every call exactly once.
    let all = search(&suite, "paal", pb::CallFilter::default()).await;
    let mut ids: Vec<_> = all
        .iter()
        .map(|r| r.call.as_ref().unwrap().call_id.clone())
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total);
    assert_eq!(total as u32, seeded.calls_created);

    // No token, or a bad one: UNAUTHENTICATED.
    let err = client(&suite)
        .await
        .search_call_rows(pb::SearchCallRowsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut forged = Request::new(pb::SearchCallRowsRequest::default());
    forged.metadata_mut().insert(
        "authorization",
        MetadataValue::from_static("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
    );
    assert_eq!(
        client(&suite)
            .await
            .search_call_rows(forged)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // A service reached directly, without the gateway's signed identity: UNAUTHENTICATED.
    let mut direct = pb::call_service_client::CallServiceClient::connect(format!(
        "http://{}",
        suite.endpoints.archive
    ))
    .await
    .unwrap();
    assert_eq!(
        direct
            .search_calls(pb::SearchCallsRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Malformed requests: INVALID_ARGUMENT naming the field.
    for (request, field) in [
        (
            pb::SearchCallRowsRequest {
                page_size: 5000,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::SearchCallRowsRequest {
                filter: Some(pb::CallFilter {
                    caller_number: "95'; DROP TABLE calls;--".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "filter.caller_number",
        ),
        (
            pb::SearchCallRowsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            pb::SearchCallRowsRequest {
                order: 42,
                ..Default::default()
            },
            "order",
        ),
    ] {
        let err = client(&suite)
            .await
            .search_call_rows(authed(&suite, "paal", request))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(violated_field(&err).as_deref(), Some(field));
    }

    // Stop cleanly, start again on the same data: nothing is seeded twice.
    tokio::time::timeout(Duration::from_secs(30), suite.stop())
        .await
        .expect("stops in time")
        .unwrap();
    let suite = start_suite(data.path()).await;
    assert!(suite.seeded.is_none(), "the second start reuses the data");
    let again = search(&suite, "paal", pb::CallFilter::default()).await;
    assert_eq!(again.len(), total);
    suite.stop().await.unwrap();

    // Even when the seed runs again (its marker gone), it finds everything in place.
    std::fs::remove_file(data.path().join("seeded")).unwrap();
    let suite = start_suite(data.path()).await;
    let reseeded = suite.seeded.expect("seeding ran again");
    assert_eq!(
        (
            reseeded.users_created,
            reseeded.calls_created,
            reseeded.files_uploaded
        ),
        (0, 0, 0)
    );
    assert_eq!(
        search(&suite, "paal", pb::CallFilter::default())
            .await
            .len(),
        total
    );
    suite.stop().await.unwrap();
}

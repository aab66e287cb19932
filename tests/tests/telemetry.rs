//! Telemetry across the suite: one trace from a client's request through the
//! gateway and every service it calls (W3C trace context over real gRPC
//! hops, spans caught by an in-memory exporter), and the Prometheus metrics
//! the suite serves on its metrics port.

#![allow(unused_crate_dependencies)]

use std::{
    collections::{BTreeSet, HashSet},
    time::Duration,
};

use archive_common::telemetry;
use archive_proto::v1 as pb;
use opentelemetry::{
    Value,
    trace::{SpanId, SpanKind},
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tonic::metadata::MetadataValue;

mod common;

use common::{authed, client, http::request, start_suite};

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

/// The finished spans of `trace_id` once every one of `services` has a server
/// span in it (server spans end with their response, just after the client sees it).
async fn spans_of(
    telemetry: &telemetry::Telemetry,
    exporter: &InMemorySpanExporter,
    trace_id: &str,
    services: &[&str],
) -> Vec<SpanData> {
    let mut spans = Vec::new();
    for _ in 0..50 {
        telemetry.flush();
        spans = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_id)
            .collect();
        let seen: BTreeSet<String> = spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .filter_map(|s| attribute(s, "rpc.service"))
            .collect();
        if services.iter().all(|s| seen.contains(*s)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    spans
}

/// Every server span but the first hop's has a client span of the same trace as its parent.
fn assert_linked(spans: &[SpanData], entry: SpanId) {
    let clients: HashSet<SpanId> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .map(|s| s.span_context.span_id())
        .collect();
    for span in spans.iter().filter(|s| s.span_kind == SpanKind::Server) {
        assert!(
            span.parent_span_id == entry || clients.contains(&span.parent_span_id),
            "server span {} has parent {} outside the trace",
            span.name,
            span.parent_span_id
        );
    }
}

fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|p| l.contains(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_crosses_the_services_and_metrics_count_the_calls() {
    let exporter = InMemorySpanExporter::default();
    let telemetry = telemetry::init_with_exporter("archive-suite", exporter.clone());
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let rows = client(&suite)
        .await
        .search_call_rows(authed(
            &suite,
            "paal",
            pb::SearchCallRowsRequest {
                page_size: 50,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .rows;
    let recording = rows
        .iter()
        .flat_map(|r| &r.recordings)
        .find(|r| r.play == pb::PlayState::Enabled as i32)
        .expect("a playable demo recording")
        .recording_id
        .clone();

    // gRPC: the caller's traceparent is continued through gateway, archive,
    // authz and audit.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let entry = SpanId::from_hex("00f067aa0ba902b7").unwrap();
    let mut playback = authed(
        &suite,
        "paal",
        pb::StartPlaybackRequest {
            case_id: Default::default(),
            reason_code: Default::default(),
            request_id: Default::default(),
            recording_id: recording.clone(),
            reason: String::new(),
        },
    );
    playback.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{trace_id}-00f067aa0ba902b7-01")).unwrap(),
    );
    let playback_url = client(&suite)
        .await
        .start_playback(playback)
        .await
        .unwrap()
        .into_inner()
        .playback_url;
    let services = [
        "archive.v1.ArchiveService",
        "archive.v1.CallService",
        "archive.v1.AuthzService",
        "archive.v1.AuditService",
    ];
    let spans = spans_of(&telemetry, &exporter, &trace_id, &services).await;
    let seen: BTreeSet<String> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .filter_map(|s| attribute(s, "rpc.service"))
        .collect();
    for service in services {
        assert!(
            seen.contains(service),
            "{service} not in the trace: {seen:?}"
        );
    }
    let gateway = spans
        .iter()
        .find(|s| attribute(s, "rpc.service").as_deref() == Some("archive.v1.ArchiveService"))
        .unwrap();
    assert_eq!(
        gateway.parent_span_id, entry,
        "the caller's span is the parent"
    );
    assert!(gateway.parent_span_is_remote);
    assert_eq!(
        attribute(gateway, "rpc.method").as_deref(),
        Some("StartPlayback")
    );
    assert_eq!(
        attribute(gateway, "rpc.grpc.status_code").as_deref(),
        Some("0")
    );
    assert_linked(&spans, entry);

    // CreateExport touches all five: archive (the calls), media (sizes and
    // CRCs), authz, audit, behind the gateway; the download's media reads
    // join the download request's own trace.
    let export_trace = uuid::Uuid::new_v4().simple().to_string();
    let mut create = authed(
        &suite,
        "paal",
        pb::CreateExportRequest {
            case_id: Default::default(),
            reason_code: Default::default(),
            request_id: Default::default(),
            recording_ids: vec![recording.clone()],
            reason: String::new(),
        },
    );
    create.metadata_mut().insert(
        "traceparent",
        MetadataValue::try_from(format!("00-{export_trace}-00f067aa0ba902b7-01")).unwrap(),
    );
    let export = client(&suite)
        .await
        .create_export(create)
        .await
        .unwrap()
        .into_inner();
    let all_five = [
        "archive.v1.ArchiveService",
        "archive.v1.CallService",
        "archive.v1.MediaService",
        "archive.v1.AuthzService",
        "archive.v1.AuditService",
    ];
    let spans = spans_of(&telemetry, &exporter, &export_trace, &all_five).await;
    let seen: BTreeSet<String> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .filter_map(|s| attribute(s, "rpc.service"))
        .collect();
    assert!(all_five.iter().all(|s| seen.contains(*s)), "{seen:?}");
    assert_linked(&spans, entry);
    let download_trace = uuid::Uuid::new_v4().simple().to_string();
    let zip = request(
        "GET",
        &export.download_url,
        &[(
            "traceparent",
            &format!("00-{download_trace}-00f067aa0ba902b7-01"),
        )],
    )
    .await;
    assert_eq!(zip.status, 200);
    assert_eq!(zip.body.len() as u64, export.size_bytes);
    let spans = spans_of(
        &telemetry,
        &exporter,
        &download_trace,
        &["archive.v1.MediaService"],
    )
    .await;
    assert!(
        spans
            .iter()
            .any(|s| attribute(s, "rpc.method").as_deref() == Some("ReadRecording")),
        "the zip's media reads are in the download's trace"
    );
    assert!(spans.iter().any(|s| s.name == "GET /exports/{file}"));
    assert_linked(&spans, entry);

    let played = request("GET", &playback_url, &[]).await;
    assert_eq!(played.status, 200);

    // HTTP: the web page's JSON API call starts the same kind of trace.
    let http_trace = uuid::Uuid::new_v4().simple().to_string();
    let token = suite.token("paal", 600).unwrap();
    let response = request(
        "GET",
        &format!(
            "http://{}/api/v1/calls?page_size=5",
            suite.endpoints.gateway_http
        ),
        &[
            ("authorization", &format!("Bearer {token}")),
            (
                "traceparent",
                &format!("00-{http_trace}-00f067aa0ba902b7-01"),
            ),
        ],
    )
    .await;
    assert_eq!(response.status, 200);
    let spans = spans_of(
        &telemetry,
        &exporter,
        &http_trace,
        &["archive.v1.CallService", "archive.v1.AuthzService"],
    )
    .await;
    let page = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server && s.name == "GET /api/v1/calls")
        .expect("the HTTP request's span");
    assert_eq!(page.parent_span_id, entry);
    assert_eq!(
        attribute(page, "http.route").as_deref(),
        Some("/api/v1/calls")
    );
    assert_eq!(
        attribute(page, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_linked(&spans, entry);

    // Without a traceparent a request starts its own trace, and the
    // services it calls still join it.
    let before = exporter.get_finished_spans().unwrap().len();
    client(&suite)
        .await
        .search_call_rows(authed(
            &suite,
            "sara",
            pb::SearchCallRowsRequest {
                page_size: 5,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    telemetry.flush();
    let fresh = exporter.get_finished_spans().unwrap().split_off(before);
    let root = fresh
        .iter()
        .find(|s| attribute(s, "rpc.method").as_deref() == Some("SearchCallRows"))
        .expect("the search's span");
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert!(fresh.iter().any(|s| {
        s.span_context.trace_id() == root.span_context.trace_id()
            && attribute(s, "rpc.service").as_deref() == Some("archive.v1.CallService")
    }));

    // Metrics: a refused call is counted under its code, next to the successes.
    let refused = client(&suite)
        .await
        .search_call_rows(authed(
            &suite,
            "paal",
            pb::SearchCallRowsRequest {
                page_size: 5000,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let scrape = request(
        "GET",
        &format!("http://{}/metrics", suite.endpoints.metrics),
        &[],
    )
    .await;
    assert_eq!(scrape.status, 200);
    let text = String::from_utf8(scrape.body).unwrap();
    let search = [
        "service=\"archive.v1.ArchiveService\"",
        "method=\"SearchCallRows\"",
    ];
    assert!(
        metric(
            &text,
            "archive_grpc_server_handled_total",
            &[&search[..], &["code=\"Ok\""]].concat()
        ) >= 2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "archive_grpc_server_handled_total",
            &[&search[..], &["code=\"InvalidArgument\""]].concat()
        ),
        1.0
    );
    assert!(metric(&text, "archive_grpc_server_handling_seconds_count", &search) >= 3.0);
    assert!(
        metric(
            &text,
            "archive_grpc_server_handled_total",
            &[
                "service=\"archive.v1.AuditService\"",
                "method=\"AppendEvents\"",
                "code=\"Ok\""
            ]
        ) >= 1.0
    );
    assert!(
        metric(
            &text,
            "archive_audit_appends_total",
            &["outcome=\"committed\""]
        ) >= 1.0
    );
    assert!(
        metric(
            &text,
            "archive_http_server_handled_total",
            &[
                "server=\"gateway\"",
                "route=\"/api/v1/calls\"",
                "status=\"200\""
            ]
        ) >= 1.0
    );
    assert!(metric(&text, "archive_grpc_server_sent_bytes_total", &search) > 0.0);
    // media-svc sends local files with sendfile(2); the request layer still
    // counts them.
    let media = [
        "server=\"media\"",
        "route=\"/media/{recording_id}\"",
        "method=\"GET\"",
    ];
    assert_eq!(
        metric(
            &text,
            "archive_http_server_handled_total",
            &[&media[..], &["status=\"200\""]].concat()
        ),
        1.0
    );
    assert_eq!(
        metric(&text, "archive_http_server_sent_bytes_total", &media),
        played.body.len() as f64
    );
    assert_eq!(metric(&text, "archive_export_bytes_count", &[]), 1.0);
    assert_eq!(
        metric(&text, "archive_export_bytes_sum", &[]),
        export.size_bytes as f64
    );
    assert_eq!(
        metric(
            &text,
            "archive_export_downloads_total",
            &["outcome=\"completed\""]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "archive_http_server_sent_bytes_total",
            &["route=\"/exports/{file}\""]
        ),
        export.size_bytes as f64
    );

    suite.stop().await.unwrap();
}

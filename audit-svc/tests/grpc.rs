//! audit-svc over gRPC: the real server started with `run` on an ephemeral
//! port (SQLite), spoken to with the generated client and with `AuditClient`.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use archive_common::{Principal, error::violated_field};
use archive_proto::v1::{self as pb, AuditEventKind};
use audit_svc::client::AuditClient;
use support::{append, client, event, key, keys, on_sqlite, paal, sqlite_url, start, verify_chain};
use tonic::{Code, Status};

async fn list(
    c: &mut pb::audit_service_client::AuditServiceClient<tonic::transport::Channel>,
    as_: &Principal,
    request: pb::ListEventsRequest,
) -> Result<pb::ListEventsResponse, Status> {
    c.list_events(key().request(request, as_))
        .await
        .map(|r| r.into_inner())
}

/// The newest page of events `as_` may read.
async fn newest(
    c: &mut pb::audit_service_client::AuditServiceClient<tonic::transport::Channel>,
    as_: &Principal,
) -> Vec<pb::AuditEvent> {
    list(c, as_, Default::default()).await.unwrap().events
}

#[tokio::test]
async fn the_service_sets_tenant_actor_time_and_chain() {
    let (_dir, server, mut c) = on_sqlite().await;

    // A (non-system) client cannot choose the tenant, actor, position or
    // hashes; without an event time the service's clock sets it.
    let mut forged = event(
        AuditEventKind::PlaybackStarted,
        "rec-1",
        "Quality check\tcall 12",
    );
    forged.sequence = 99;
    forged.customer = "10010".into();
    forged.actor_id = "someone-else".into();
    forged.actor_display_name = "Someone Else".into();
    forged.previous_hash = "f".repeat(64);
    forged.hash = "e".repeat(64);
    let before = chrono::Utc::now().timestamp();
    let first = append(&mut c, &paal(), forged).await;
    assert_eq!(first.sequence, 1);
    assert_eq!(first.hash.len(), 64);
    let second = append(
        &mut c,
        &paal(),
        event(AuditEventKind::RecordingDownloaded, "rec-2", ""),
    )
    .await;
    assert_eq!(second.sequence, 2);

    let events = newest(&mut c, &paal()).await;
    assert_eq!(events.len(), 2);
    let e = &events[1];
    assert_eq!(e.sequence, 1);
    assert_eq!(e.customer, "10009");
    assert_eq!(
        (e.actor_id.as_str(), e.actor_display_name.as_str()),
        ("paal", "Paal Admin")
    );
    assert_eq!(
        e.reason, "Quality check\tcall 12",
        "the reason is stored verbatim"
    );
    assert!(e.event_time.as_ref().unwrap().seconds >= before);
    assert_eq!(e.hash, first.hash);
    assert_eq!(e.previous_hash, audit_svc::chain::GENESIS);
    assert_eq!(events[0].previous_hash, first.hash);

    // A NUL in the principal (PostgreSQL cannot store it) does not fail the append.
    let odd = Principal::new("10009", "odd", "Od\0d");
    assert_eq!(
        append(&mut c, &odd, event(AuditEventKind::AccessDenied, "r", ""))
            .await
            .sequence,
        3
    );
    let latest = newest(&mut c, &paal()).await;
    assert_eq!(latest[0].actor_display_name, "Od\u{FFFD}d");

    // Another tenant has its own chain and sees nothing of this one.
    let olga = Principal::new("10010", "olga", "Olga");
    assert!(newest(&mut c, &olga).await.is_empty());
    let theirs = append(
        &mut c,
        &olga,
        event(AuditEventKind::AccessDenied, "rec-1", ""),
    )
    .await;
    assert_eq!(theirs.sequence, 1);
    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact);
    assert_eq!(report.events_checked, 3);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_and_write_nothing() {
    let (_dir, server, mut c) = on_sqlite().await;

    let unauthenticated = c
        .append_event(pb::AppendEventRequest {
            commit_deadline: Default::default(),
            event: Some(event(AuditEventKind::PlaybackStarted, "r", "")),
        })
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);

    let mut too_long = event(AuditEventKind::PlaybackStarted, "r", "");
    too_long.reason = "x".repeat(1001);
    let mut bell = event(AuditEventKind::PlaybackStarted, "r", "");
    bell.client_address = "10.0.0.1\u{7}".into();
    let cases = [
        (None, "event"),
        (
            Some(event(AuditEventKind::Unspecified, "r", "")),
            "event.kind",
        ),
        (Some(too_long), "event.reason"),
        (Some(bell), "event.client_address"),
    ];
    for (e, field) in cases {
        let err = c
            .append_event(key().request(
                pb::AppendEventRequest {
                    commit_deadline: Default::default(),
                    event: e,
                },
                &paal(),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&err).as_deref(), Some(field));
    }
    let mut at_bound = event(AuditEventKind::PlaybackStarted, "r", "");
    at_bound.reason = "å".repeat(1000);
    assert_eq!(
        append(&mut c, &paal(), at_bound).await.sequence,
        1,
        "only valid events were written"
    );

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }
    type Bad = fn(&mut pb::ListEventsRequest);
    let bad_lists: [(Bad, &str); 6] = [
        (|r| r.page_size = 1001, "page_size"),
        (|r| r.page_size = -1, "page_size"),
        (|r| r.kind = 77, "kind"),
        (|r| r.actor_id = "a\u{0}".into(), "actor_id"),
        (|r| r.page_token = "forged".into(), "page_token"),
        (
            |r| {
                r.event_time_from = at(10);
                r.event_time_to = at(5);
            },
            "event_time_to",
        ),
    ];
    for (bad, field) in bad_lists {
        let mut request = pb::ListEventsRequest::default();
        bad(&mut request);
        let err = list(&mut c, &paal(), request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&err).as_deref(), Some(field));
    }
    let err = c
        .verify_chain(key().request(
            pb::VerifyChainRequest {
                from_sequence: 0,
                to_sequence: 5,
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("to_sequence"));
    server.stop().await;
}

#[tokio::test]
async fn list_filters_and_pages_newest_first() {
    let (_dir, server, mut c) = on_sqlite().await;
    let anna = Principal::new("10009", "anna", "Anna");
    for i in 0..25 {
        let (who, kind) = if i % 5 == 0 {
            (&anna, AuditEventKind::RecordingDeleted)
        } else {
            (&paal(), AuditEventKind::PlaybackStarted)
        };
        append(&mut c, who, event(kind, &format!("rec-{}", i % 2), "")).await;
    }

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &mut c,
            &paal(),
            pb::ListEventsRequest {
                page_size: 10,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(page.events.len() <= 10);
        seen.extend(page.events.iter().map(|e| e.sequence));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, (1..=25).rev().collect::<Vec<u64>>());

    let filtered = pb::ListEventsRequest {
        actor_id: "anna".into(),
        kind: AuditEventKind::RecordingDeleted as i32,
        page_size: 2,
        ..Default::default()
    };
    let page = list(&mut c, &paal(), filtered.clone()).await.unwrap();
    let seqs: Vec<u64> = page.events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [21, 16]);
    // The token belongs to this filter and this tenant only.
    let mut other_filter = filtered.clone();
    other_filter.actor_id = "paal".into();
    other_filter.page_token = page.next_page_token.clone();
    let err = list(&mut c, &paal(), other_filter).await.unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("page_token"));
    let mut elsewhere = filtered.clone();
    elsewhere.page_token = page.next_page_token.clone();
    let olga = Principal::new("10010", "olga", "Olga");
    assert_eq!(
        list(&mut c, &olga, elsewhere).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let mut next = filtered;
    next.page_token = page.next_page_token;
    let rest = list(&mut c, &paal(), next).await.unwrap();
    let seqs: Vec<u64> = rest.events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [11, 6]);

    let recording = list(
        &mut c,
        &paal(),
        pb::ListEventsRequest {
            recording_id: "rec-1".into(),
            page_size: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(recording.events.len(), 12);
    assert!(recording.events.iter().all(|e| e.recording_id == "rec-1"));
    server.stop().await;
}

#[tokio::test]
async fn concurrent_appends_never_fork_or_lose_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&sqlite_url(&dir)).await;
    let channel = server.channel().await;
    const N: u64 = 200;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let mut c = pb::audit_service_client::AuditServiceClient::new(channel.clone());
            tokio::spawn(async move {
                append(
                    &mut c,
                    &paal(),
                    event(AuditEventKind::PlaybackStarted, &format!("r{i}"), ""),
                )
                .await
            })
        })
        .collect();
    let mut sequences = BTreeSet::new();
    for t in tasks {
        assert!(sequences.insert(t.await.unwrap().sequence));
    }
    assert_eq!(sequences, (1..=N).collect::<BTreeSet<_>>());
    let mut c = client(&server).await;
    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, N);
    server.stop().await;
}

#[tokio::test]
async fn the_client_fails_closed() {
    // Nothing listens on this port.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = AuditClient::connect_lazy(&format!("http://127.0.0.1:{port}"), key()).unwrap();
    let deleted = Arc::new(AtomicBool::new(false));
    let result: Result<(), Status> = down
        .record_then(
            &paal(),
            event(AuditEventKind::RecordingDeleted, "rec-1", "GDPR request"),
            |_| async {
                deleted.store(true, Ordering::SeqCst);
                Ok(())
            },
        )
        .await;
    assert_eq!(result.unwrap_err().code(), Code::Unavailable);
    assert!(
        !deleted.load(Ordering::SeqCst),
        "the action ran without an audit record"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = start(&sqlite_url(&dir)).await;
    let up = AuditClient::connect_lazy(&server.url(), key()).unwrap();

    // An event the trail refuses stops the action too, with the trail's reason.
    let mut too_long = event(AuditEventKind::RecordingDeleted, "rec-1", "");
    too_long.reason = "x".repeat(1001);
    let refused: Result<(), Status> = up
        .record_then(&paal(), too_long, |_| async {
            deleted.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::InvalidArgument);
    assert!(!deleted.load(Ordering::SeqCst));

    // With the trail up, the action runs after its event is recorded.
    let mut c = client(&server).await;
    let receipt = up
        .record_then(
            &paal(),
            event(AuditEventKind::RecordingDeleted, "rec-1", "GDPR request"),
            |receipt| {
                let mut c = c.clone();
                let deleted = deleted.clone();
                async move {
                    let listed = list(&mut c, &paal(), Default::default()).await?;
                    assert_eq!(listed.events.len(), 1, "recorded before the action started");
                    deleted.store(true, Ordering::SeqCst);
                    Ok::<_, Status>(receipt)
                }
            },
        )
        .await
        .unwrap();
    assert!(deleted.load(Ordering::SeqCst));
    assert_eq!(receipt.sequence, 1);
    let events = newest(&mut c, &paal()).await;
    assert_eq!(events[0].reason, "GDPR request");
    assert_eq!(events[0].hash, receipt.hash);
    server.stop().await;
}

#[tokio::test]
async fn only_users_read_and_only_the_suites_recorders_append() {
    let (_dir, server, mut c) = on_sqlite().await;
    let keys = keys();
    let add = |e: pb::AuditEvent| pb::AppendEventRequest {
        event: Some(e),
        commit_deadline: None,
    };
    let played = || event(AuditEventKind::PlaybackStarted, "rec-1", "");

    // A service that records what it does appends as itself…
    let relay = Principal::system("10009", "archive-svc");
    let archive = keys.signer("archive-svc");
    c.append_event(archive.request(add(played()), &relay))
        .await
        .unwrap();
    // …but may not read the trail.
    let err = c
        .list_events(archive.request(pb::ListEventsRequest::default(), &relay))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = c
        .verify_chain(archive.request(pb::VerifyChainRequest::default(), &relay))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // audit-svc's own key and a recording platform may not append.
    let own = Principal::system("10009", "audit-svc");
    let err = c
        .append_event(keys.signer("audit-svc").request(add(played()), &own))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let platform = keys.platform("recording-platform", &["10009"]);
    let err = c
        .append_event(platform.request(add(played()), "10009"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Keys that do not verify reach nothing: a stranger's claiming to be
    // archive-svc, a service's own key vouching for a user.
    let stranger = keys.stranger("archive-svc", archive_common::identity::Role::Service);
    for request in [
        stranger.request(add(played()), &relay),
        archive.request(add(played()), &paal()),
    ] {
        let err = c.append_event(request).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }

    // In the trail: the service's event, then each refusal as ACCESS_DENIED
    // with the refused caller as the actor and the RPC named.
    let mut events = newest(&mut c, &paal()).await;
    events.reverse();
    let summary: Vec<(AuditEventKind, &str)> = events
        .iter()
        .map(|e| {
            (
                AuditEventKind::try_from(e.kind).unwrap(),
                e.actor_id.as_str(),
            )
        })
        .collect();
    use AuditEventKind::{AccessDenied, PlaybackStarted};
    assert_eq!(
        summary,
        [
            (PlaybackStarted, "system:archive-svc"),
            (AccessDenied, "system:archive-svc"),
            (AccessDenied, "system:archive-svc"),
            (AccessDenied, "system:audit-svc"),
            (AccessDenied, "system:recording-platform"),
        ]
    );
    for (e, rpc) in
        events[1..]
            .iter()
            .zip(["ListEvents", "VerifyChain", "AppendEvent", "AppendEvent"])
    {
        assert!(e.detail.contains(rpc), "{rpc}: {}", e.detail);
    }
    assert!(verify_chain(&mut c, &paal()).await.intact);
    server.stop().await;
}

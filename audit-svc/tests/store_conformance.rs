//! One conformance suite for the audit store, run on SQLite (a temp file) and
//! on a real PostgreSQL (a scratch database; skipped with a message when none
//! answers unless ARCHIVE_REQUIRE_POSTGRES=1).

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::{collections::BTreeSet, sync::Arc};

use archive_common::db::ScratchDatabase;
use archive_proto::v1::AuditEventKind;
use audit_svc::{
    Error,
    chain::GENESIS,
    event::EventBody,
    store::{self, EventFilter, Store},
    verify::verify,
};

const T0: i64 = 1_700_000_000_000_000;

fn body(tenant: &str, actor: &str, recording: &str, kind: AuditEventKind, at: i64) -> EventBody {
    EventBody {
        tenant: tenant.into(),
        kind: kind as i32,
        actor_id: actor.into(),
        actor_display_name: format!("{actor} (name)"),
        call_id: format!("call-{recording}"),
        recording_id: recording.into(),
        reason: "Kunde klaget på samtalen.\nSak #4711 «viktig»".into(),
        client_address: "10.1.2.3".into(),
        user_agent: "Mozilla/5.0".into(),
        event_time: at,
        detail: String::new(),
    }
}

async fn conformance(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let empty = verify(store.as_ref(), "10009", 0, 0).await.unwrap();
    assert!(empty.intact);
    assert_eq!(empty.events_checked, 0);
    assert_eq!(store.head("10009").await.unwrap(), None);
    assert!(store.tenants().await.unwrap().is_empty());

    // One batch, two tenants interleaved: each tenant's chain starts at 1.
    use AuditEventKind::*;
    let batch = vec![
        body("10009", "paal", "r1", PlaybackStarted, T0),
        body("10010", "olga", "r9", RecordingDeleted, T0 + 1),
        body("10009", "anna", "r2", RecordingDownloaded, T0 + 2),
        body("10009", "paal", "r2", RecordingDeleted, T0 + 3),
    ];
    let acks = store.append(&batch).await.unwrap();
    let sequences: Vec<u64> = acks.iter().map(|a| a.sequence).collect();
    assert_eq!(sequences, [1, 1, 2, 3]);

    // Stored verbatim, linked, and the head follows.
    let stored = store.range("10009", 1, 3, 100).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].body, batch[0]);
    assert_eq!(stored[0].previous_hash, GENESIS);
    assert_eq!(stored[0].hash, acks[0].hash);
    assert_eq!(stored[1].previous_hash, stored[0].hash);
    assert_eq!(stored[2].previous_hash, stored[1].hash);
    let head = store.head("10009").await.unwrap().unwrap();
    assert_eq!(
        (head.last_sequence, head.last_hash.as_str()),
        (3, acks[3].hash.as_str())
    );
    assert_eq!(
        store.range("10010", 1, 10, 10).await.unwrap()[0].body,
        batch[1]
    );
    assert_eq!(store.tenants().await.unwrap(), ["10009", "10010"]);

    // Later appends continue the chain.
    for i in 0..7 {
        let kind = if i % 2 == 0 {
            PlaybackStarted
        } else {
            AccessDenied
        };
        let ack = store
            .append(&[body("10009", "anna", &format!("r{i}"), kind, T0 + 10 + i)])
            .await
            .unwrap();
        assert_eq!(ack[0].sequence, 4 + i as u64);
    }

    // Listing: newest first, filtered, keyset by sequence, one tenant only.
    let all = store
        .list("10009", &EventFilter::default(), None, 100)
        .await
        .unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let page = store
        .list("10009", &EventFilter::default(), Some(8), 3)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [7, 6, 5]
    );
    let by = |filter: EventFilter| {
        let store = store.clone();
        async move {
            store
                .list("10009", &filter, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.sequence)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        by(EventFilter {
            actor_id: Some("paal".into()),
            ..Default::default()
        })
        .await,
        [3, 1]
    );
    assert_eq!(
        by(EventFilter {
            recording_id: Some("r2".into()),
            ..Default::default()
        })
        .await,
        [6, 3, 2]
    );
    assert_eq!(
        by(EventFilter {
            kind: Some(AccessDenied as i32),
            ..Default::default()
        })
        .await,
        [9, 7, 5]
    );
    assert_eq!(
        by(EventFilter {
            time_from: Some(T0 + 2),
            time_to: Some(T0 + 12),
            ..Default::default()
        })
        .await,
        [5, 4, 3, 2],
        "from inclusive, to exclusive"
    );
    assert_eq!(
        by(EventFilter {
            actor_id: Some("anna".into()),
            kind: Some(PlaybackStarted as i32),
            time_from: Some(T0 + 12),
            ..Default::default()
        })
        .await,
        [10, 8, 6]
    );
    let other = store
        .list("10010", &EventFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].body.actor_id, "olga");

    // Verification: whole chain, a middle range, bad ranges.
    let report = verify(store.as_ref(), "10009", 0, 0).await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 10);
    let report = verify(store.as_ref(), "10009", 4, 6).await.unwrap();
    assert!(report.intact);
    assert_eq!(report.events_checked, 3);
    match verify(store.as_ref(), "10009", 0, 11).await {
        Err(Error::InvalidArgument(v)) => assert_eq!(v.field, "to_sequence"),
        other => panic!("{other:?}"),
    }
    match verify(store.as_ref(), "10009", 7, 5).await {
        Err(Error::InvalidArgument(v)) => assert_eq!(v.field, "from_sequence"),
        other => panic!("{other:?}"),
    }
}

/// N appends at once, each its own transaction, from two separate pools (as
/// two replicas would): sequences are exactly 1..N and the chain is intact.
async fn concurrent_appends(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const N: u64 = 64;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                // Some appends also touch a second tenant, to exercise lock ordering.
                let mut events = vec![body(
                    "race",
                    "w",
                    &format!("r{i}"),
                    AuditEventKind::PlaybackStarted,
                    T0 + i as i64,
                )];
                if i % 3 == 0 {
                    events.insert(
                        0,
                        body("race-2", "w", "x", AuditEventKind::ExportCreated, T0),
                    );
                }
                let acks = store.append(&events).await.unwrap();
                acks.last().unwrap().sequence
            })
        })
        .collect();
    let mut sequences = BTreeSet::new();
    for t in tasks {
        assert!(
            sequences.insert(t.await.unwrap()),
            "a sequence was handed out twice"
        );
    }
    assert_eq!(sequences, (1..=N).collect::<BTreeSet<_>>());
    let report = verify(a.as_ref(), "race", 0, 0).await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, N);
    let second = verify(b.as_ref(), "race-2", 0, 0).await.unwrap();
    assert!(second.intact);
    assert_eq!(second.events_checked, N.div_ceil(3));
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    conformance(store::open(&url).await.unwrap()).await;
    let a = store::open(&url).await.unwrap();
    let b = store::connect_existing(&url).await.unwrap();
    concurrent_appends(a, b).await;
}

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(db) = ScratchDatabase::create("audit_store").await else {
        return;
    };
    conformance(store::open(&db.url).await.unwrap()).await;
    let a = store::open(&db.url).await.unwrap();
    let b = store::connect_existing(&db.url).await.unwrap();
    concurrent_appends(a, b).await;
    db.drop_database().await;
}

#[tokio::test]
async fn the_verify_tool_refuses_a_missing_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("absent.db").display());
    assert!(store::connect_existing(&url).await.is_err());
    assert!(
        !dir.path().join("absent.db").exists(),
        "nothing was created"
    );
}

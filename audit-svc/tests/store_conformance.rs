//! One conformance suite for the audit store: each scenario a test on SQLite
//! (a temp file) and one on a real PostgreSQL (a scratch database; skipped
//! with a message when none answers unless ARCHIVE_REQUIRE_POSTGRES=1).

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use std::{
    collections::{BTreeSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_common::{Clock, SystemClock, db};
use archive_proto::v1::AuditEventKind;
use audit_svc::{
    Error,
    chain::{self, GENESIS},
    event::EventBody,
    store::{self, EventFilter, Group, Store},
    verify::verify,
};
use chrono::{DateTime, TimeDelta, Utc};
use test_support::postgres::ScratchDatabase;

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
        ..Default::default()
    }
}

/// `body` with an event id.
fn with_id(mut body: EventBody, id: &str) -> EventBody {
    body.event_id = id.into();
    body
}

test_support::backend_suite!(
    "audit_store";
    store_conforms,
    concurrent_appends_take_consecutive_sequences,
    event_ids_append_at_most_once,
    deadlines_roll_back_and_rerun,
    old_rows_verify_after_the_migration,
    a_disagreeing_chain_head_stops_the_migration,
    serving_without_migrating_needs_a_current_schema,
);

async fn store_conforms(url: &str) {
    let store = store::open(url, true).await.unwrap();
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
    assert!(acks.iter().all(|a| !a.duplicate));

    // Stored verbatim, linked, hashed with the current version, and the head
    // is the last event.
    let stored = store.range("10009", 1, 3, 100).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].body, batch[0]);
    assert_eq!(stored[0].previous_hash, GENESIS);
    assert_eq!(stored[0].hash, acks[0].hash);
    assert_eq!(stored[0].hash_version, chain::CURRENT_VERSION);
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
    type Filter = fn(&mut EventFilter);
    // The sequences listed with the filter `set` makes.
    let by = |set: Filter| {
        let mut filter = EventFilter::default();
        set(&mut filter);
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
    let filters: [(Filter, &[u64]); 6] = [
        (|f| f.actor_id = Some("paal".into()), &[3, 1]),
        (|f| f.recording_id = Some("r2".into()), &[6, 3, 2]),
        (|f| f.call_id = Some("call-r2".into()), &[6, 3, 2]),
        (|f| f.kind = Some(AccessDenied as i32), &[9, 7, 5]),
        // From inclusive, to exclusive.
        (
            |f| (f.time_from, f.time_to) = (Some(T0 + 2), Some(T0 + 12)),
            &[5, 4, 3, 2],
        ),
        (
            |f| {
                f.actor_id = Some("anna".into());
                f.kind = Some(PlaybackStarted as i32);
                f.time_from = Some(T0 + 12);
            },
            &[10, 8, 6],
        ),
    ];
    for (filter, expected) in filters {
        assert_eq!(by(filter).await, expected);
    }
    let other = store
        .list("10010", &EventFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].body.actor_id, "olga");

    // The fields of an action's context: stored, covered by the hash, filterable.
    let mut export = body("10009", "rita", "r5", ExportCreated, T0 + 30);
    export.event_id = "export:e-1".into();
    export.request_id = "req-42".into();
    export.reason_code = "GDPR".into();
    export.case_id = "CASE-7".into();
    let mut download = with_id(
        body("10009", "rita", "r5", RecordingDownloaded, T0 + 30),
        "d-1",
    );
    download.request_id = "req-42".into();
    download.reason_code = "GDPR".into();
    let acks = store
        .append(&[export.clone(), download.clone()])
        .await
        .unwrap();
    assert_eq!(
        (acks[0].sequence, acks[0].event_id.as_str()),
        (11, "export:e-1")
    );
    let stored = store.range("10009", 11, 12, 10).await.unwrap();
    assert_eq!(stored[0].body, export);
    assert_eq!(stored[1].body, download);
    assert_eq!(
        Some(stored[0].hash.clone()),
        chain::hash(2, 11, &export, &stored[0].previous_hash)
    );
    let filters: [(Filter, &[u64]); 3] = [
        (|f| f.request_id = Some("req-42".into()), &[12, 11]),
        (
            |f| (f.reason_code, f.case_id) = (Some("GDPR".into()), Some("CASE-7".into())),
            &[11],
        ),
        (|f| f.case_id = Some("CASE-8".into()), &[]),
    ];
    for (filter, expected) in filters {
        assert_eq!(by(filter).await, expected);
    }

    // Verification: whole chain, a middle range, bad ranges.
    let report = verify(store.as_ref(), "10009", 0, 0).await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 12);
    let report = verify(store.as_ref(), "10009", 4, 6).await.unwrap();
    assert!(report.intact);
    assert_eq!(report.events_checked, 3);
    match verify(store.as_ref(), "10009", 0, 13).await {
        Err(Error::InvalidArgument(v)) => assert_eq!(v.field, "to_sequence"),
        other => panic!("{other:?}"),
    }
    match verify(store.as_ref(), "10009", 7, 5).await {
        Err(Error::InvalidArgument(v)) => assert_eq!(v.field, "from_sequence"),
        other => panic!("{other:?}"),
    }
}

/// N appends at once, each its own transaction, from two separate stores (as
/// two replicas would): sequences are exactly 1..N and the chain is intact.
/// Then the same event id from both at once: appended once.
async fn concurrent_appends_take_consecutive_sequences(url: &str) {
    let a = store::open(url, true).await.unwrap();
    let b = store::connect_existing(url).await.unwrap();
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

    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let e = with_id(
                    body("race", "w", "r-once", AuditEventKind::RecordingDeleted, T0),
                    "deleted:r-once",
                );
                store.append(&[e]).await.unwrap().pop().unwrap()
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.unwrap());
    }
    assert_eq!(receipts.iter().filter(|r| !r.duplicate).count(), 1);
    assert!(receipts.iter().all(|r| r.sequence == N + 1));
    assert_eq!(a.head("race").await.unwrap().unwrap().last_sequence, N + 1);
}

async fn event_ids_append_at_most_once(url: &str) {
    let store = store::open(url, true).await.unwrap();
    use AuditEventKind::*;
    let deleted = with_id(
        body("10009", "paal", "r1", RecordingDeleted, T0),
        "recording-deleted:r1",
    );
    let first = store.append(std::slice::from_ref(&deleted)).await.unwrap();
    assert!(!first[0].duplicate);

    // Redelivery: the stored receipt, and still one row.
    let mut redelivered = deleted.clone();
    redelivered.reason = "a retry may carry other text".into();
    redelivered.event_time = T0 + 5;
    let again = store.append(&[redelivered]).await.unwrap();
    assert_eq!(
        (
            again[0].sequence,
            again[0].hash.as_str(),
            again[0].duplicate
        ),
        (first[0].sequence, first[0].hash.as_str(), true)
    );
    assert_eq!(again[0].event_id, "recording-deleted:r1");
    assert_eq!(store.head("10009").await.unwrap().unwrap().last_sequence, 1);

    // The same id for a different event is refused, naming its position.
    for clash in [
        with_id(
            body("10009", "paal", "r2", RecordingDeleted, T0),
            "recording-deleted:r1",
        ),
        with_id(
            body("10009", "anna", "r1", RecordingDeleted, T0),
            "recording-deleted:r1",
        ),
        with_id(
            body("10009", "paal", "r1", PlaybackStarted, T0),
            "recording-deleted:r1",
        ),
    ] {
        let fresh = with_id(body("10009", "paal", "r3", PlaybackStarted, T0), "fresh");
        match store.append(&[fresh, clash]).await {
            Err(Error::EventIdTaken { index, event_id }) => {
                assert_eq!((index, event_id.as_str()), (1, "recording-deleted:r1"));
            }
            other => panic!("{other:?}"),
        }
    }
    // All or none: the group's other event was not appended either.
    assert_eq!(store.head("10009").await.unwrap().unwrap().last_sequence, 1);
    let fresh = with_id(body("10009", "paal", "r3", PlaybackStarted, T0), "fresh");
    let appended = store.append(&[fresh]).await.unwrap();
    assert_eq!((appended[0].sequence, appended[0].duplicate), (2, false));

    // Event ids are per tenant.
    let elsewhere = with_id(
        body("10010", "olga", "r1", RecordingDeleted, T0),
        "recording-deleted:r1",
    );
    let theirs = store.append(&[elsewhere]).await.unwrap();
    assert_eq!((theirs[0].sequence, theirs[0].duplicate), (1, false));

    // In one batch: a group refused for its id does not disturb the others,
    // and a later group repeating an earlier one's id gets its receipt.
    let refused = Group {
        events: vec![
            with_id(body("10009", "paal", "r4", PlaybackStarted, T0), "a"),
            with_id(body("10009", "paal", "r9", PlaybackStarted, T0), "fresh"),
        ],
        deadline: None,
    };
    let ok = Group {
        events: vec![with_id(
            body("10009", "paal", "r5", PlaybackStarted, T0),
            "b",
        )],
        deadline: None,
    };
    let repeat = ok.clone();
    let outcomes = store
        .append_groups(&[refused, ok, repeat], &SystemClock)
        .await
        .unwrap();
    assert!(matches!(
        outcomes[0],
        Err(Error::EventIdTaken { index: 1, .. })
    ));
    let ok = outcomes[1].as_ref().unwrap();
    assert_eq!((ok[0].sequence, ok[0].duplicate), (3, false));
    let repeat = outcomes[2].as_ref().unwrap();
    assert_eq!((repeat[0].sequence, repeat[0].duplicate), (3, true));
    let ids: Vec<String> = store
        .list("10009", &EventFilter::default(), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.body.event_id)
        .collect();
    assert_eq!(ids, ["b", "fresh", "recording-deleted:r1"]);
    let report = verify(store.as_ref(), "10009", 0, 0).await.unwrap();
    assert!(report.intact, "{report:?}");
}

/// A clock that answers the given instants in turn, then the last one for ever.
struct Steps(Mutex<VecDeque<DateTime<Utc>>>);

impl Clock for Steps {
    fn now(&self) -> DateTime<Utc> {
        let mut steps = self.0.lock().unwrap();
        if steps.len() > 1 {
            steps.pop_front().unwrap()
        } else {
            steps[0]
        }
    }
}

async fn deadlines_roll_back_and_rerun(url: &str) {
    let store = store::open(url, true).await.unwrap();
    let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let group = |recording: &str, deadline: Option<DateTime<Utc>>| Group {
        events: vec![body(
            "10009",
            "paal",
            recording,
            AuditEventKind::PlaybackStarted,
            T0,
        )],
        deadline,
    };
    // Before the transaction, "late" is already past its deadline; during
    // it, "soon"'s passes (the clock moves on before COMMIT): the transaction
    // is rolled back and run again with "open" alone.
    let groups = [
        group("soon", Some(t + TimeDelta::seconds(1))),
        group("open", None),
        group("late", Some(t - TimeDelta::seconds(1))),
    ];
    let clock = Steps(Mutex::new(VecDeque::from([t, t + TimeDelta::seconds(2)])));
    let outcomes = store.append_groups(&groups, &clock).await.unwrap();
    assert!(
        matches!(outcomes[0], Err(Error::DeadlineExceeded)),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], Err(Error::DeadlineExceeded)),
        "{outcomes:?}"
    );
    let open = outcomes[1].as_ref().unwrap();
    assert_eq!(
        open[0].sequence, 1,
        "the expired group's place was not kept"
    );
    let stored = store
        .list("10009", &EventFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body.recording_id, "open");

    // Every group expired: nothing is committed and nothing is left waiting.
    let clock = Steps(Mutex::new(VecDeque::from([t, t + TimeDelta::seconds(2)])));
    let outcomes = store
        .append_groups(&[group("soon", Some(t + TimeDelta::seconds(1)))], &clock)
        .await
        .unwrap();
    assert!(matches!(outcomes[0], Err(Error::DeadlineExceeded)));
    assert_eq!(store.head("10009").await.unwrap().unwrap().last_sequence, 1);
}

/// An `INSERT` of a version 1 row as the service wrote it before version 2
/// (the columns of migration 1 only).
fn v1_insert(sequence: u64, previous: &str, reason: &str) -> (String, String) {
    let body = EventBody {
        tenant: "old".into(),
        kind: AuditEventKind::PlaybackStarted as i32,
        actor_id: "paal".into(),
        actor_display_name: "Paal Admin".into(),
        call_id: "call-1".into(),
        recording_id: "rec-1".into(),
        reason: reason.into(),
        client_address: "10.0.0.1".into(),
        user_agent: "Firefox".into(),
        event_time: T0 + sequence as i64,
        ..Default::default()
    };
    let hash = chain::hash(1, sequence, &body, previous).unwrap();
    let sql = format!(
        "INSERT INTO audit_events (tenant, sequence, kind, actor_id, actor_display_name, \
         call_id, recording_id, reason, client_address, user_agent, event_time, detail, \
         previous_hash, hash) VALUES ('old', {sequence}, {}, 'paal', 'Paal Admin', 'call-1', \
         'rec-1', '{reason}', '10.0.0.1', 'Firefox', {}, '', '{previous}', '{hash}')",
        body.kind, body.event_time
    );
    (sql, hash)
}

/// A database with migration 1 only and `rows` version 1 events of tenant
/// "old" whose chain head says `head_sequence`.
async fn old_database(url: &str, rows: u64, head_sequence: u64) -> db::Pool {
    let pool = db::connect(url).await.unwrap();
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let dir = tempfile::tempdir().unwrap();
    let file = "0001_audit.sql";
    std::fs::copy(
        format!("{}/migrations/{backend}/{file}", env!("CARGO_MANIFEST_DIR")),
        dir.path().join(file),
    )
    .unwrap();
    let first_only = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let mut statements = Vec::new();
    let mut previous = GENESIS.to_owned();
    let mut hashes = vec![GENESIS.to_owned()];
    for sequence in 1..=rows {
        let (sql, hash) = v1_insert(sequence, &previous, &format!("old reason {sequence}"));
        statements.push(sql);
        previous = hash.clone();
        hashes.push(hash);
    }
    statements.push(format!(
        "INSERT INTO audit_chain_heads (tenant, last_sequence, last_hash) \
         VALUES ('old', {head_sequence}, '{}')",
        hashes[head_sequence as usize]
    ));
    let sql = statements.join(";\n");
    match &pool {
        db::Pool::Sqlite(p) => {
            first_only.run(p).await.unwrap();
            sqlx::raw_sql(&sql).execute(p).await.unwrap();
        }
        db::Pool::Postgres(p) => {
            first_only.run(p).await.unwrap();
            sqlx::raw_sql(&sql).execute(p).await.unwrap();
        }
    }
    pool
}

async fn old_rows_verify_after_the_migration(url: &str) {
    let _old = old_database(url, 3, 3).await;
    let store = store::open(url, true).await.unwrap();
    let old = store.range("old", 1, 3, 10).await.unwrap();
    assert_eq!(old.len(), 3);
    assert!(
        old.iter()
            .all(|e| e.hash_version == 1 && e.body.event_id.is_empty())
    );
    let report = verify(store.as_ref(), "old", 0, 0).await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 3);
    assert_eq!(store.tenants().await.unwrap(), ["old"]);

    // New events continue the old chain with the new encoding.
    let mut new = with_id(
        body(
            "old",
            "paal",
            "rec-2",
            AuditEventKind::RecordingDeleted,
            T0 + 9,
        ),
        "recording-deleted:rec-2",
    );
    new.case_id = "CASE-1".into();
    let acks = store.append(&[new]).await.unwrap();
    assert_eq!(acks[0].sequence, 4);
    let stored = store.range("old", 4, 4, 1).await.unwrap();
    assert_eq!(stored[0].hash_version, 2);
    assert_eq!(stored[0].previous_hash, old[2].hash);
    let report = verify(store.as_ref(), "old", 0, 0).await.unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 4);
}

async fn a_disagreeing_chain_head_stops_the_migration(url: &str) {
    // The head says 3, but event 3 is gone: the newest event was removed.
    let pool = old_database(url, 2, 2).await;
    let sql = "UPDATE audit_chain_heads SET last_sequence = 3, last_hash = 'x' \
               WHERE tenant = 'old'";
    match &pool {
        db::Pool::Sqlite(p) => drop(sqlx::query(sql).execute(p).await.unwrap()),
        db::Pool::Postgres(p) => drop(sqlx::query(sql).execute(p).await.unwrap()),
    }
    let err = match store::open(url, true).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the migration dropped the evidence"),
    };
    assert!(
        err.contains("does not match its last event")
            || err.contains("chain_heads_not_matching_their_last_event"),
        "{err}"
    );
    // Nothing of migration 2 was applied: the heads are still there.
    let count = "SELECT count(*) FROM audit_chain_heads";
    let heads: i64 = match &pool {
        db::Pool::Sqlite(p) => sqlx::query_scalar(count).fetch_one(p).await.unwrap(),
        db::Pool::Postgres(p) => sqlx::query_scalar(count).fetch_one(p).await.unwrap(),
    };
    assert_eq!(heads, 1);
}

async fn serving_without_migrating_needs_a_current_schema(url: &str) {
    // An empty database: nothing applied.
    drop(db::connect(url).await.unwrap());
    let err = match store::open(url, false).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("served on an empty schema"),
    };
    assert!(
        err.contains("not up to date") && err.contains("audit-svc migrate"),
        "{err}"
    );
    assert!(store::connect_existing(url).await.is_err());
    store::open(url, true).await.unwrap();
    store::open(url, false).await.unwrap();
    store::connect_existing(url).await.unwrap();
}

/// A transaction left open past COMMIT_BOUND, as by a process frozen between
/// its deadline check and COMMIT, is aborted by PostgreSQL itself.
#[tokio::test]
async fn postgres_aborts_what_a_frozen_process_would_commit_late() {
    let Some(db) = ScratchDatabase::create("audit_store").await else {
        return;
    };
    let frozen = store::PostgresStore::open(&db.url, true)
        .await
        .unwrap()
        .stall_before_commit(audit_svc::client::COMMIT_BOUND + Duration::from_millis(500));
    let frozen: Arc<dyn Store> = Arc::new(frozen);
    let group = Group {
        events: vec![body(
            "10009",
            "paal",
            "r1",
            AuditEventKind::PlaybackStarted,
            T0,
        )],
        deadline: Some(Utc::now() + TimeDelta::seconds(1)),
    };
    assert!(frozen.append_groups(&[group], &SystemClock).await.is_err());
    let store = store::connect_existing(&db.url).await.unwrap();
    assert_eq!(store.head("10009").await.unwrap(), None);
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

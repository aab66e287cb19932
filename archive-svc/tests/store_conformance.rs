//! One conformance suite for every `CallStore` backend: SQLite (a temp file)
//! and a real PostgreSQL (a scratch database; skipped with a message when no
//! server answers, unless ARCHIVE_REQUIRE_POSTGRES=1).

#![allow(unused_crate_dependencies)]

use std::sync::Arc;

use archive_common::db::ScratchDatabase;
use archive_svc::{
    model::{
        CallQuery, Cursor, Deletion, NewCall, NewRecording, Order, RecordingMode, RecordingState,
        Segment, TenantSettings,
    },
    store::{self, CallStore},
};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 23, 8, 0, 0).unwrap() + Duration::minutes(minute)
}

fn call(session: &str, minute: i64, caller: &str, agent: &str, recordings: usize) -> NewCall {
    let start = at(minute);
    NewCall {
        session_id: session.into(),
        start,
        access_point_number: "81511569".into(),
        access_point_name: "Main Demo Number".into(),
        caller_number: caller.into(),
        time_before_answer_ms: 7_000,
        speak_time_ms: 157_000,
        queues: vec!["Sales".into()],
        agents: vec![agent.into()],
        recordings: (0..recordings)
            .map(|i| NewRecording {
                nr: i as u32 + 1,
                mode: RecordingMode::Forced,
                start: start + Duration::seconds(7 + 60 * i as i64),
                finish: start + Duration::seconds(37 + 60 * i as i64),
                segments: vec![Segment {
                    start: start + Duration::seconds(7 + 60 * i as i64),
                    finish: start + Duration::seconds(37 + 60 * i as i64),
                    queue: "Sales".into(),
                    agent: agent.into(),
                }],
                linked_agents: vec![agent.into()],
                owner_agent: None,
            })
            .collect(),
    }
}

async fn conformance(store: Arc<dyn CallStore>) {
    store.ping().await.unwrap();

    // Ingest is idempotent per (tenant, session id).
    let (first, created) = store
        .insert_call("10009", &call("s-1", 0, "95214830", "Andreas Wallin", 2))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(first.recordings.len(), 2);
    assert_eq!(
        first.recordings.iter().map(|r| r.nr).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(first.recording_ms, 60_000);
    let (again, created) = store
        .insert_call("10009", &call("s-1", 5, "1", "Other", 0))
        .await
        .unwrap();
    assert!(!created, "a retry must not create a second call");
    assert_eq!(again, first, "a retry must change nothing");

    // The same session id in another tenant is another call.
    let (other, created) = store
        .insert_call("20001", &call("s-1", 0, "95214830", "Andreas Wallin", 1))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(other.call_id, first.call_id);

    for (i, (caller, agent, recs)) in [
        ("98214836", "paal-agent", 1),
        ("957211", "Andreas Wallin", 0),
        ("98214836", "paal-agent", 1),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .insert_call(
                "10009",
                &call(
                    &format!("s-{}", i + 2),
                    10 * (i as i64 + 1),
                    caller,
                    agent,
                    recs,
                ),
            )
            .await
            .unwrap();
    }

    // Newest first by default; tenant isolation.
    let all = store
        .search("10009", &CallQuery::default(), None, 100)
        .await
        .unwrap();
    let sessions: Vec<_> = all.iter().map(|c| c.session_id.as_str()).collect();
    assert_eq!(sessions, vec!["s-4", "s-3", "s-2", "s-1"]);
    assert!(all.iter().all(|c| c.tenant == "10009"));

    let oldest_first = CallQuery {
        order: Order::OldestFirst,
        ..Default::default()
    };
    let asc = store
        .search("10009", &oldest_first, None, 100)
        .await
        .unwrap();
    assert_eq!(asc.first().unwrap().session_id, "s-1");

    // Filters.
    let q = |f: fn(&mut CallQuery)| {
        let mut q = CallQuery::default();
        f(&mut q);
        q
    };
    let count = |query: CallQuery| {
        let store = store.clone();
        async move {
            store
                .search("10009", &query, None, 100)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count(q(|q| q.caller_number = Some("98214836".into()))).await,
        2
    );
    assert_eq!(
        count(q(|q| {
            q.caller_number = Some("2148".into());
            q.caller_number_partial = true
        }))
        .await,
        3
    );
    assert_eq!(
        count(q(|q| {
            q.caller_number = Some("%".into());
            q.caller_number_partial = true
        }))
        .await,
        0,
        "LIKE metacharacters are literal"
    );
    assert_eq!(count(q(|q| q.agent = Some("paal-agent".into()))).await, 2);
    assert_eq!(count(q(|q| q.queue = Some("Sales".into()))).await, 4);
    assert_eq!(count(q(|q| q.queue = Some("Support".into()))).await, 0);
    assert_eq!(count(q(|q| q.has_recording = true)).await, 3);
    assert_eq!(
        count(q(|q| q.linked_agent = Some("Andreas Wallin".into()))).await,
        1
    );
    assert_eq!(
        count(q(|q| {
            q.from = Some(at(10));
            q.to = Some(at(30))
        }))
        .await,
        2
    );
    assert_eq!(
        count(q(|q| q.access_point_number = Some("81511569".into()))).await,
        4
    );
    assert_eq!(count(q(|q| q.min_recording_ms = Some(31_000))).await, 1);
    assert_eq!(count(q(|q| q.max_speak_ms = Some(1_000))).await, 0);

    // Keyset pagination walks every row once.
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = store
            .search("10009", &CallQuery::default(), after, 3)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(Cursor {
            start_us: last.start.timestamp_micros(),
            call_id: last.call_id,
        });
        seen.extend(page.into_iter().map(|c| c.session_id));
    }
    assert_eq!(seen, vec!["s-4", "s-3", "s-2", "s-1"]);

    // Another tenant's ids are invisible.
    assert!(
        store
            .get_call("20001", first.call_id)
            .await
            .unwrap()
            .is_none()
    );
    let rec = first.recordings[0].recording_id;
    assert!(
        store
            .get_recordings("20001", &[rec])
            .await
            .unwrap()
            .is_empty()
    );
    let marker = Deletion {
        user_id: "paal".into(),
        display_name: "Paal Admin".into(),
        at: at(100),
    };
    assert!(
        store
            .mark_deleted("20001", &[rec], &marker)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_call("10009", first.call_id)
            .await
            .unwrap()
            .unwrap()
            .recordings[0]
            .state,
        RecordingState::Available
    );

    // Deletion markers stay; a second deletion keeps the first marker.
    let deleted = store.mark_deleted("10009", &[rec], &marker).await.unwrap();
    assert_eq!(deleted[0].state, RecordingState::Deleted);
    assert_eq!(deleted[0].deletion.as_ref().unwrap(), &marker);
    let later = Deletion {
        user_id: "x".into(),
        display_name: "X".into(),
        at: at(200),
    };
    let again = store.mark_deleted("10009", &[rec], &later).await.unwrap();
    assert_eq!(again[0].deletion.as_ref().unwrap(), &marker);
    let reloaded = store
        .get_call("10009", first.call_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reloaded.recordings[0].deletion.as_ref().unwrap(), &marker);
    assert_eq!(reloaded.recordings[1].state, RecordingState::Available);

    // has_recording counts live recordings unless deleted ones are included.
    let s2 = store
        .search(
            "10009",
            &q(|q| q.caller_number = Some("98214836".into())),
            None,
            10,
        )
        .await
        .unwrap();
    let s2_rec = s2
        .iter()
        .find(|c| c.session_id == "s-2")
        .unwrap()
        .recordings[0]
        .recording_id;
    store
        .mark_deleted("10009", &[s2_rec], &marker)
        .await
        .unwrap();
    assert_eq!(count(q(|q| q.has_recording = true)).await, 2);
    assert_eq!(
        count(q(|q| {
            q.has_recording = true;
            q.include_deleted = true
        }))
        .await,
        3
    );

    // Recordings with their calls.
    let found = store.get_recordings("10009", &[rec, s2_rec]).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(
        found
            .iter()
            .any(|(r, c)| r.recording_id == rec && c.session_id == "s-1")
    );

    // Legal hold.
    let held = store
        .set_legal_hold("10009", first.call_id, true)
        .await
        .unwrap()
        .unwrap();
    assert!(held.legal_hold);
    assert!(
        store
            .set_legal_hold("20001", first.call_id, true)
            .await
            .unwrap()
            .is_none()
    );

    // Settings default until stored.
    assert_eq!(
        store.settings("10009").await.unwrap(),
        TenantSettings::default()
    );
    let settings = TenantSettings {
        time_zone: "America/New_York".into(),
        consult_recording: true,
        recording_retention_days: 30,
        metadata_retention_days: 90,
    };
    store.put_settings("10009", &settings).await.unwrap();
    assert_eq!(store.settings("10009").await.unwrap(), settings);
    assert_eq!(
        store.settings("20001").await.unwrap(),
        TenantSettings::default()
    );
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("archive.db").display());
    conformance(store::open(&url).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(db) = ScratchDatabase::create("archive_conf").await else {
        return;
    };
    conformance(store::open(&db.url).await.unwrap()).await;
    db.drop_database().await;
}

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

    // A party filter combined with another, and paged by its own keyset.
    assert_eq!(
        count(q(|q| {
            q.agent = Some("paal-agent".into());
            q.queue = Some("Sales".into())
        }))
        .await,
        2
    );
    assert_eq!(
        count(q(|q| {
            q.agent = Some("paal-agent".into());
            q.queue = Some("Support".into())
        }))
        .await,
        0
    );
    assert_eq!(
        count(q(|q| {
            q.agent = Some("paal-agent".into());
            q.from = Some(at(25))
        }))
        .await,
        1
    );
    let by_agent = q(|q| q.agent = Some("paal-agent".into()));
    let page1 = store.search("10009", &by_agent, None, 1).await.unwrap();
    let cursor = Cursor {
        start_us: page1[0].start.timestamp_micros(),
        call_id: page1[0].call_id,
    };
    let page2 = store
        .search("10009", &by_agent, Some(cursor), 5)
        .await
        .unwrap();
    assert_eq!(
        (
            page1[0].session_id.as_str(),
            page2.len(),
            page2[0].session_id.as_str()
        ),
        ("s-4", 1, "s-2")
    );

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

/// Retention, legal hold and the media-deletion outbox.
async fn retention_conformance(store: Arc<dyn CallStore>) {
    let tenant = "30003";
    let (old, _) = store
        .insert_call(tenant, &call("old", 0, "1111", "A", 1))
        .await
        .unwrap();
    let (held, _) = store
        .insert_call(tenant, &call("held", 1, "2222", "A", 1))
        .await
        .unwrap();
    let (recent, _) = store
        .insert_call(tenant, &call("recent", 60 * 24 * 10, "3333", "A", 1))
        .await
        .unwrap();
    store
        .set_legal_hold(tenant, held.call_id, true)
        .await
        .unwrap();
    let now = at(60 * 24 * 20);

    // Expire recordings that started before day 5: "old" only (held is on legal hold).
    let expired = store
        .expire_recordings(tenant, at(60 * 24 * 5), now)
        .await
        .unwrap();
    assert_eq!(expired, 1);
    let old_now = store.get_call(tenant, old.call_id).await.unwrap().unwrap();
    assert_eq!(old_now.recordings[0].state, RecordingState::Expired);
    assert_eq!(
        store
            .get_call(tenant, held.call_id)
            .await
            .unwrap()
            .unwrap()
            .recordings[0]
            .state,
        RecordingState::Available
    );
    assert_eq!(
        store
            .get_call(tenant, recent.call_id)
            .await
            .unwrap()
            .unwrap()
            .recordings[0]
            .state,
        RecordingState::Available
    );
    // Expiring again changes nothing.
    assert_eq!(
        store
            .expire_recordings(tenant, at(60 * 24 * 5), now)
            .await
            .unwrap(),
        0
    );

    // The expired file is queued for deletion, once.
    let due = store.due_media_deletions(now, 100).await.unwrap();
    let ours: Vec<_> = due.iter().filter(|d| d.tenant == tenant).collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].recording_id, old.recordings[0].recording_id);

    // A failed attempt is retried later, not sooner.
    let id = ours[0].recording_id;
    store
        .media_deletion_failed(id, now + Duration::seconds(30), "media-svc unavailable")
        .await
        .unwrap();
    assert!(
        store
            .due_media_deletions(now, 100)
            .await
            .unwrap()
            .iter()
            .all(|d| d.recording_id != id)
    );
    let later = store
        .due_media_deletions(now + Duration::seconds(31), 100)
        .await
        .unwrap();
    let retried = later.iter().find(|d| d.recording_id == id).unwrap();
    assert_eq!(retried.attempts, 1);
    store.media_deletion_done(id).await.unwrap();
    assert!(
        store
            .due_media_deletions(now + Duration::days(1), 100)
            .await
            .unwrap()
            .iter()
            .all(|d| d.recording_id != id)
    );

    // A deletion marker queues the file in the same transaction.
    let marker = Deletion {
        user_id: "paal".into(),
        display_name: "Paal Admin".into(),
        at: now,
    };
    store
        .mark_deleted(tenant, &[recent.recordings[0].recording_id], &marker)
        .await
        .unwrap();
    assert!(
        store
            .due_media_deletions(now, 100)
            .await
            .unwrap()
            .iter()
            .any(|d| d.recording_id == recent.recordings[0].recording_id)
    );

    // Purge metadata before day 5: "old" goes, "held" stays on legal hold, the marker of "recent" stays.
    let purged = store
        .purge_calls(tenant, at(60 * 24 * 5), now)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(store.get_call(tenant, old.call_id).await.unwrap().is_none());
    assert!(
        store
            .get_call(tenant, held.call_id)
            .await
            .unwrap()
            .is_some()
    );
    // Lifting the hold lets the next sweep take it, file first.
    store
        .set_legal_hold(tenant, held.call_id, false)
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_calls(tenant, at(60 * 24 * 5), now)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .due_media_deletions(now, 100)
            .await
            .unwrap()
            .iter()
            .any(|d| d.recording_id == held.recordings[0].recording_id)
    );
    assert!(store.tenants().await.unwrap().contains(&tenant.to_owned()));
}

/// Batch ingest: one transaction, results in order, known sessions unchanged.
async fn batch_conformance(store: Arc<dyn CallStore>) {
    let tenant = "40004";
    let (existing, _) = store
        .insert_call(tenant, &call("b-1", 0, "1", "A", 1))
        .await
        .unwrap();
    let batch: Vec<NewCall> = (0..1200)
        .map(|i| call(&format!("b-{i}"), i, "5550000", "B", (i % 3) as usize))
        .collect();
    let results = store.insert_calls(tenant, &batch).await.unwrap();
    assert_eq!(results.len(), 1200);
    assert_eq!(
        results[1].0, existing,
        "a known session comes back unchanged"
    );
    assert!(!results[1].1);
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1199);
    for (i, (stored, _)) in results.iter().enumerate().filter(|(i, _)| *i != 1) {
        assert_eq!(stored.session_id, format!("b-{i}"));
        assert_eq!(stored.recordings.len(), i % 3);
        assert_eq!(
            store
                .get_call(tenant, stored.call_id)
                .await
                .unwrap()
                .as_ref(),
            Some(stored)
        );
    }
}

#[tokio::test]
async fn sqlite_retention_and_batches_conform() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("archive.db").display());
    let store = store::open(&url).await.unwrap();
    retention_conformance(store.clone()).await;
    batch_conformance(store).await;
}

#[tokio::test]
async fn postgres_retention_and_batches_conform() {
    let Some(db) = ScratchDatabase::create("archive_ret").await else {
        return;
    };
    let store = store::open(&db.url).await.unwrap();
    retention_conformance(store.clone()).await;
    batch_conformance(store).await;
    db.drop_database().await;
}

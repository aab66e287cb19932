//! One conformance suite for every `CallStore` backend: SQLite (a temp file)
//! and a real PostgreSQL (a scratch database; skipped with a message when no
//! server answers, unless ARCHIVE_REQUIRE_POSTGRES=1). Each change is checked
//! with the audit outbox rows it writes in its transaction (exactly one per
//! fact, none for a change that changed nothing or failed).

#![allow(unused_crate_dependencies)]

mod common;

use std::sync::Arc;

// The relay's side of the outbox, read back to check what a change wrote.
use archive_common::{Principal, convert::timestamp};
use archive_proto::v1::{AuditEvent, AuditEventKind};
use archive_svc::{
    model::{
        CallQuery, CallScope, Cursor, Deletion, Media, NewCall, NewRecording, Order, PendingCursor,
        ReasonCode, RecordingMode, RecordingState, Segment, StoredCall, StoredFile, TenantSettings,
    },
    store::{self, CallStore, MediaDeletion},
};
use audit_svc::outbox::OutboxStore as _;
use audit_svc::outbox::{Change, Context};
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

/// The recording platform ingesting calls.
fn platform(tenant: &str) -> Change {
    Change::by(&Principal::system(tenant, "recording-platform"), at(0))
}

/// Paal deleting, holding, configuring at `minute`, with a reason.
fn paal(minute: i64) -> Change {
    Change::by(&Principal::new("10009", "paal", "Paal Admin"), at(minute)).with_context(Context {
        request_id: "req-7".into(),
        reason: "Customer asked\nticket #4711".into(),
        reason_code: "GDPR".into(),
        case_id: "CASE-9".into(),
        client_address: "203.0.113.7".into(),
        user_agent: "Mozilla/5.0".into(),
    })
}

fn marker_of(change: &Change) -> Deletion {
    Deletion {
        user_id: change.actor_id.clone(),
        display_name: change.actor_display_name.clone(),
        at: change.at,
    }
}

/// Every event waiting in the outbox, oldest first, taken out of it (as the
/// relay does once audit-svc acknowledged them).
async fn take_events(store: &dyn CallStore) -> Vec<(String, AuditEvent)> {
    let far = Utc::now() + Duration::days(365 * 100);
    let due = store.outbox().due(far, 100_000).await.unwrap();
    let seqs: Vec<i64> = due.iter().map(|p| p.seq).collect();
    store.outbox().delivered(&seqs).await.unwrap();
    assert_eq!(store.outbox().pending().await.unwrap(), 0);
    due.into_iter()
        .map(|p| (p.tenant, p.event.expect("a stored event decodes")))
        .collect()
}

/// Whether the tenant has call `id`.
async fn has_call(store: &dyn CallStore, tenant: &str, id: uuid::Uuid) -> bool {
    store.get_call(tenant, id).await.unwrap().is_some()
}

/// The one event waiting in the outbox (there must be exactly one), taken out of it.
async fn only_event(store: &dyn CallStore) -> (String, AuditEvent) {
    let mut events = take_events(store).await;
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

/// The tenant's call `id`, which must be there.
async fn call_of(store: &dyn CallStore, tenant: &str, id: uuid::Uuid) -> StoredCall {
    store
        .get_call(tenant, id)
        .await
        .unwrap()
        .expect("the call is there")
}

/// The recordings whose files are due for deletion at `at`.
async fn due_files(store: &dyn CallStore, at: DateTime<Utc>) -> Vec<uuid::Uuid> {
    let due = store.due_media_deletions(at, 1000).await.unwrap();
    due.into_iter().map(|d| d.recording_id).collect()
}

fn kind(e: &AuditEvent) -> AuditEventKind {
    AuditEventKind::try_from(e.kind).unwrap()
}

/// A migrated store on `url`.
async fn open(url: &str) -> Arc<dyn CallStore> {
    store::open(url, true).await.unwrap()
}

/// `call` as the recording platform ingests it for `tenant`.
async fn ingest(store: &dyn CallStore, tenant: &str, call: NewCall) -> StoredCall {
    let change = platform(tenant);
    store.insert_call(tenant, &call, &change).await.unwrap().0
}

/// 10009's calls s-2 to s-4, ten minutes apart after s-1.
async fn ingest_s2_to_s4(store: &dyn CallStore) {
    let more = [
        ("98214836", "paal-agent", 1),
        ("957211", "Andreas Wallin", 0),
        ("98214836", "paal-agent", 1),
    ];
    for (i, (caller, agent, recs)) in more.into_iter().enumerate() {
        let session = format!("s-{}", i + 2);
        let minute = 10 * (i as i64 + 1);
        ingest(store, "10009", call(&session, minute, caller, agent, recs)).await;
    }
}

/// What most scenarios search: 10009's s-1 (two recordings, Andreas
/// Wallin's) to s-4 and 20001's own s-1, their events taken; 10009's s-1.
async fn seed(store: &dyn CallStore) -> StoredCall {
    let first = ingest(
        store,
        "10009",
        call("s-1", 0, "95214830", "Andreas Wallin", 2),
    )
    .await;
    ingest(
        store,
        "20001",
        call("s-1", 0, "95214830", "Andreas Wallin", 1),
    )
    .await;
    ingest_s2_to_s4(store).await;
    take_events(store).await;
    first
}

/// A change to the default query.
type Edit = fn(&mut CallQuery);

/// A query of the default one as `edit` changes it.
fn query(edit: Edit) -> CallQuery {
    let mut query = CallQuery::default();
    edit(&mut query);
    query
}

/// How many of 10009's calls `query` finds.
async fn count(store: &dyn CallStore, query: CallQuery) -> usize {
    store
        .search("10009", &query, None, 100)
        .await
        .unwrap()
        .len()
}

/// Ingest is idempotent per (tenant, session id), with one CALLS_INGESTED
/// per request that created any call.
async fn ingest_is_idempotent_per_tenant_and_session(url: &str) {
    let store = &*open(url).await;
    store.ping().await.unwrap();
    // Created (true) or not, as the platform ingests `new` for `tenant`.
    let insert = |tenant, new: NewCall| async move {
        let change = platform(tenant);
        store.insert_call(tenant, &new, &change).await.unwrap()
    };
    let (first, created) = insert("10009", call("s-1", 0, "95214830", "Andreas Wallin", 2)).await;
    assert!(created);
    // One CALLS_INGESTED for the request, by the platform, with its id fixed by the call.
    let (tenant, e) = &only_event(store).await;
    assert_eq!(tenant, "10009");
    assert_eq!(kind(e), AuditEventKind::CallsIngested);
    assert_eq!(e.event_id, format!("calls-ingested:{}", first.call_id));
    assert_eq!(e.actor_id, "system:recording-platform");
    assert_eq!(e.call_id, first.call_id.to_string());
    assert_eq!(e.detail, "1 call(s) created; sessions s-1");
    assert_eq!(e.event_time, Some(timestamp(at(0))));
    assert_eq!(first.recordings.len(), 2);
    assert_eq!(
        first.recordings.iter().map(|r| r.nr).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(first.recording_ms, 60_000);
    let (again, created) = insert("10009", call("s-1", 5, "1", "Other", 0)).await;
    assert!(!created, "a retry must not create a second call");
    assert_eq!(again, first, "a retry must change nothing");
    assert!(
        take_events(store).await.is_empty(),
        "a retry records nothing"
    );

    // The same session id in another tenant is another call.
    let (other, created) = insert("20001", call("s-1", 0, "95214830", "Andreas Wallin", 1)).await;
    assert!(created);
    assert_ne!(other.call_id, first.call_id);
    ingest_s2_to_s4(store).await;
    let tenants: Vec<String> = take_events(store)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(tenants, vec!["20001", "10009", "10009", "10009"]);
}

/// Newest first by default, oldest first when asked; one tenant's only.
async fn searches_are_ordered_and_tenant_bound(url: &str) {
    let store = &*open(url).await;
    seed(store).await;
    let all = store
        .search("10009", &CallQuery::default(), None, 100)
        .await
        .unwrap();
    let sessions: Vec<_> = all.iter().map(|c| c.session_id.as_str()).collect();
    assert_eq!(sessions, vec!["s-4", "s-3", "s-2", "s-1"]);
    assert!(all.iter().all(|c| c.tenant == "10009"));
    let oldest_first = query(|q| q.order = Order::OldestFirst);
    let asc = store
        .search("10009", &oldest_first, None, 100)
        .await
        .unwrap();
    assert_eq!(asc.first().unwrap().session_id, "s-1");
}

/// Each filter, and a party filter combined with another.
async fn search_filters(url: &str) {
    let store = &*open(url).await;
    seed(store).await;
    let cases: [(&str, Edit, usize); 15] = [
        ("caller", |q| q.caller_number = Some("98214836".into()), 2),
        (
            "caller part",
            |q| (q.caller_number, q.caller_number_partial) = (Some("2148".into()), true),
            3,
        ),
        (
            "LIKE metacharacters are literal",
            |q| (q.caller_number, q.caller_number_partial) = (Some("%".into()), true),
            0,
        ),
        ("agent", |q| q.agent = Some("paal-agent".into()), 2),
        ("queue", |q| q.queue = Some("Sales".into()), 4),
        ("no such queue", |q| q.queue = Some("Support".into()), 0),
        ("has recording", |q| q.has_recording = true, 3),
        (
            "linked",
            |q| q.linked_agent = Some("Andreas Wallin".into()),
            1,
        ),
        ("time", |q| (q.from, q.to) = (Some(at(10)), Some(at(30))), 2),
        (
            "access point",
            |q| q.access_point_number = Some("81511569".into()),
            4,
        ),
        ("min recording", |q| q.min_recording_ms = Some(31_000), 1),
        ("max speak", |q| q.max_speak_ms = Some(1_000), 0),
        (
            "agent and queue",
            |q| (q.agent, q.queue) = (Some("paal-agent".into()), Some("Sales".into())),
            2,
        ),
        (
            "agent, no such queue",
            |q| (q.agent, q.queue) = (Some("paal-agent".into()), Some("Support".into())),
            0,
        ),
        (
            "agent and time",
            |q| (q.agent, q.from) = (Some("paal-agent".into()), Some(at(25))),
            1,
        ),
    ];
    for (name, edit, expected) in cases {
        assert_eq!(count(store, query(edit)).await, expected, "{name}");
    }
}

/// A party filter's pages follow its own keyset.
async fn a_party_filter_pages_by_its_keyset(url: &str) {
    let store = &*open(url).await;
    seed(store).await;
    let by_agent = query(|q| q.agent = Some("paal-agent".into()));
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
}

/// Keyset pagination walks every row once.
/// A scope (own calls, queues, access points; any part) narrows a search
/// like a filter; an agent-to-agent call recorded for its initiator is not
/// the called agent's own.
async fn a_search_scope_reaches_only_its_calls(url: &str) {
    let store = &*open(url).await;
    seed(store).await;
    let mut support = call("s-5", 50, "4711", "Kari", 1);
    support.queues = vec!["Support".into()];
    support.access_point_number = "95510009".into();
    ingest(store, "10009", support).await;
    let mut a2a = call("s-6", 60, "", "Kari", 1);
    a2a.queues = Vec::new();
    a2a.agents = vec!["Kari".into(), "Andreas Wallin".into()];
    a2a.recordings[0].linked_agents = vec!["Kari".into()];
    a2a.recordings[0].owner_agent = Some("Kari".into());
    ingest(store, "10009", a2a).await;
    let sessions = |scope: CallScope| async move {
        let q = CallQuery {
            scope: Some(scope),
            ..CallQuery::default()
        };
        let mut found: Vec<String> = store
            .search("10009", &q, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.session_id)
            .collect();
        found.sort();
        found
    };
    let queues = |names: &[&str]| CallScope {
        queues: names.iter().map(|n| n.to_string()).collect(),
        ..CallScope::default()
    };
    assert_eq!(sessions(queues(&["Support"])).await, ["s-5"]);
    assert_eq!(
        sessions(queues(&["Sales", "Nowhere"])).await,
        ["s-1", "s-2", "s-3", "s-4"]
    );
    let mobile = CallScope {
        access_points: vec!["95510009".into()],
        ..CallScope::default()
    };
    assert_eq!(sessions(mobile).await, ["s-5"]);
    let own = |agent: &str| CallScope {
        own_agent: Some(agent.into()),
        ..CallScope::default()
    };
    assert_eq!(sessions(own("Andreas Wallin")).await, ["s-1", "s-3"]);
    assert_eq!(sessions(own("Kari")).await, ["s-5", "s-6"]);
    // The union of parts; an empty scope reaches nothing.
    let both = CallScope {
        own_agent: Some("Andreas Wallin".into()),
        queues: vec!["Support".into()],
        ..CallScope::default()
    };
    assert_eq!(sessions(both).await, ["s-1", "s-3", "s-5"]);
    assert!(sessions(CallScope::default()).await.is_empty());
    // With a filter too, and another tenant's calls never.
    let q = CallQuery {
        agent: Some("Andreas Wallin".into()),
        scope: Some(queues(&["Sales"])),
        ..CallQuery::default()
    };
    assert_eq!(store.search("10009", &q, None, 100).await.unwrap().len(), 2);
    assert_eq!(store.search("20001", &q, None, 100).await.unwrap().len(), 1);
}

async fn keyset_pagination_walks_every_row_once(url: &str) {
    let store = &*open(url).await;
    seed(store).await;
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = store
            .search("10009", &CallQuery::default(), after, 3)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(Cursor {
            start_us: last.start.timestamp_micros(),
            call_id: last.call_id,
        });
        seen.extend(page.into_iter().map(|c| c.session_id));
    }
    assert_eq!(seen, vec!["s-4", "s-3", "s-2", "s-1"]);
}

/// Another tenant's ids are invisible: not read, not deleted, not recorded.
async fn another_tenants_ids_are_invisible(url: &str) {
    let store = &*open(url).await;
    let first = seed(store).await;
    let rec = first.recordings[0].recording_id;
    assert!(!has_call(store, "20001", first.call_id).await);
    let found = store.get_recordings("20001", &[rec]).await;
    assert!(found.unwrap().is_empty());
    let deleted = store
        .mark_deleted("20001", &[rec], &paal(100))
        .await
        .unwrap();
    assert!(deleted.is_empty());
    assert!(
        take_events(store).await.is_empty(),
        "another tenant's id deletes nothing and records nothing"
    );
    let call = call_of(store, "10009", first.call_id).await;
    assert_eq!(call.recordings[0].state, RecordingState::Available);
}

/// Deletion markers stay: a second deletion keeps the first marker and
/// records nothing; the first records exactly one RECORDING_DELETED.
async fn deletion_markers_stay_and_are_recorded_once(url: &str) {
    let store = &*open(url).await;
    let first = seed(store).await;
    let rec = first.recordings[0].recording_id;
    let deleting = paal(100);
    let marker = marker_of(&deleting);
    let deleted = store
        .mark_deleted("10009", &[rec], &deleting)
        .await
        .unwrap();
    assert_eq!(deleted[0].state, RecordingState::Deleted);
    assert_eq!(deleted[0].deletion.as_ref().unwrap(), &marker);
    // Exactly one RECORDING_DELETED, with the marker's actor and time and the request's context.
    let (tenant, e) = &only_event(store).await;
    assert_eq!(tenant, "10009");
    assert_eq!(kind(e), AuditEventKind::RecordingDeleted);
    assert_eq!(e.event_id, format!("recording-deleted:{rec}"));
    assert_eq!(
        (e.actor_id.as_str(), e.actor_display_name.as_str()),
        ("paal", "Paal Admin")
    );
    assert_eq!(
        (e.recording_id.clone(), e.call_id.clone()),
        (rec.to_string(), first.call_id.to_string())
    );
    assert_eq!(e.event_time, Some(timestamp(at(100))));
    assert_eq!(e.reason, "Customer asked\nticket #4711", "verbatim");
    assert_eq!(
        (
            e.request_id.as_str(),
            e.reason_code.as_str(),
            e.case_id.as_str(),
            e.client_address.as_str(),
            e.user_agent.as_str()
        ),
        ("req-7", "GDPR", "CASE-9", "203.0.113.7", "Mozilla/5.0")
    );
    let later = Change::by(&Principal::new("10009", "x", "X"), at(200));
    let again = store.mark_deleted("10009", &[rec], &later).await.unwrap();
    assert_eq!(again[0].deletion.as_ref().unwrap(), &marker);
    assert!(
        take_events(store).await.is_empty(),
        "a recording already deleted records nothing"
    );
    let reloaded = call_of(store, "10009", first.call_id).await;
    assert_eq!(reloaded.recordings[0].deletion.as_ref().unwrap(), &marker);
    assert_eq!(reloaded.recordings[1].state, RecordingState::Available);
}

/// Of several recordings deleted, only the newly deleted ones are recorded;
/// `has_recording` counts live recordings unless deleted ones are included;
/// recordings are read with their calls.
async fn deleting_several_records_the_new_ones(url: &str) {
    let store = &*open(url).await;
    let first = seed(store).await;
    let rec = first.recordings[0].recording_id;
    store
        .mark_deleted("10009", &[rec], &paal(100))
        .await
        .unwrap();
    take_events(store).await;
    let s2 = store
        .search(
            "10009",
            &query(|q| q.caller_number = Some("98214836".into())),
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
        .mark_deleted("10009", &[rec, s2_rec], &paal(100))
        .await
        .unwrap();
    let (_, e) = only_event(store).await;
    assert_eq!(e.event_id, format!("recording-deleted:{s2_rec}"));
    assert_eq!(count(store, query(|q| q.has_recording = true)).await, 2);
    let with_deleted = query(|q| (q.has_recording, q.include_deleted) = (true, true));
    assert_eq!(count(store, with_deleted).await, 3);

    // Recordings with their calls.
    let found = store.get_recordings("10009", &[rec, s2_rec]).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(
        found
            .iter()
            .any(|(r, c)| r.recording_id == rec && c.session_id == "s-1")
    );
}

/// Legal hold: recorded when the flag changes, not when it is set again;
/// another tenant's call is not there.
async fn legal_hold_is_recorded_when_it_changes(url: &str) {
    let store = &*open(url).await;
    let first = seed(store).await;
    let call_id = first.call_id;
    let hold = |tenant, on, minute| async move {
        let change = paal(minute);
        store
            .set_legal_hold(tenant, call_id, on, &change)
            .await
            .unwrap()
    };
    assert!(hold("10009", true, 110).await.unwrap().legal_hold);
    assert!(hold("20001", true, 110).await.is_none());
    assert!(hold("10009", true, 111).await.unwrap().legal_hold);
    let released = hold("10009", false, 112).await.unwrap();
    assert!(!released.legal_hold);
    let events = take_events(store).await;
    let holds: Vec<(&str, &str, String)> = events
        .iter()
        .map(|(_, e)| (e.detail.as_str(), e.actor_id.as_str(), e.call_id.clone()))
        .collect();
    let call_id = first.call_id.to_string();
    assert_eq!(
        holds,
        vec![
            ("set", "paal", call_id.clone()),
            ("released", "paal", call_id)
        ]
    );
    assert!(
        events
            .iter()
            .all(|(_, e)| kind(e) == AuditEventKind::LegalHoldChanged && e.case_id == "CASE-9")
    );
    assert_ne!(events[0].1.event_id, events[1].1.event_id);
}

/// Tenant settings: the defaults until stored, one TENANT_SETTINGS_CHANGED
/// (before → after) per change, none for the same settings again.
async fn settings(url: &str) {
    let store = &*open(url).await;
    assert_eq!(
        store.settings("10009").await.unwrap(),
        TenantSettings::default()
    );
    let settings = TenantSettings {
        time_zone: "America/New_York".into(),
        consult_recording: true,
        recording_retention_days: 30,
        metadata_retention_days: 90,
        search_audit_disabled: true,
        reason_codes: vec![
            ReasonCode {
                code: "QA".into(),
                label: "Quality review".into(),
            },
            ReasonCode {
                code: "GDPR".into(),
                label: "Data subject request".into(),
            },
        ],
    };
    let settings = &settings;
    let put = |minute| async move {
        let change = paal(minute);
        store
            .put_settings("10009", settings, &change)
            .await
            .unwrap()
    };
    assert!(put(120).await);
    assert_eq!(&store.settings("10009").await.unwrap(), settings);
    // Before → after, once; the same settings again change and record nothing.
    assert!(!put(121).await);
    let (_, e) = &only_event(store).await;
    assert_eq!(kind(e), AuditEventKind::TenantSettingsChanged);
    assert_eq!(e.actor_id, "paal");
    assert!(
        e.detail.starts_with(
            "time_zone: \"Europe/Oslo\" -> \"America/New_York\"; consult_recording: false -> true"
        ),
        "{}",
        e.detail
    );
    assert!(
        e.detail
            .contains("reason_codes: [] -> [QA=\"Quality review\", GDPR=\"Data subject request\"]"),
        "{}",
        e.detail
    );
    assert_eq!(
        store.settings("20001").await.unwrap(),
        TenantSettings::default()
    );
}

/// Retention, legal hold and the media-deletion outbox.
async fn retention(url: &str) {
    let store = &*open(url).await;
    let tenant = "30003";
    let old = ingest(store, tenant, call("old", 0, "1111", "A", 1)).await;
    let held = ingest(store, tenant, call("held", 1, "2222", "A", 1)).await;
    let recent = ingest(store, tenant, call("recent", 60 * 24 * 10, "3333", "A", 1)).await;
    store
        .set_legal_hold(tenant, held.call_id, true, &paal(2))
        .await
        .unwrap();
    assert_eq!(take_events(store).await.len(), 4);
    let now = at(60 * 24 * 20);

    // Expire recordings that started before day 5: "old" only (held is on legal hold).
    let expired = store
        .expire_recordings(tenant, at(60 * 24 * 5), now, 15)
        .await
        .unwrap();
    assert_eq!(expired, 1);
    // One RETENTION_EXPIRED per expired recording, by the sweeper.
    let (t, e) = &only_event(store).await;
    let old_rec = old.recordings[0].recording_id;
    assert_eq!(t, tenant);
    assert_eq!(kind(e), AuditEventKind::RetentionExpired);
    assert_eq!(e.event_id, format!("retention-expired:{old_rec}"));
    assert_eq!(
        (e.actor_id.as_str(), e.actor_display_name.as_str()),
        ("system:retention", "retention")
    );
    assert_eq!(
        (e.recording_id.clone(), e.call_id.clone()),
        (old_rec.to_string(), old.call_id.to_string())
    );
    assert_eq!(e.event_time, Some(timestamp(now)));
    assert_eq!(
        e.detail,
        "recording retention 15 days; this sweep expired 1 recording(s)"
    );
    let old_now = call_of(store, tenant, old.call_id).await;
    assert_eq!(old_now.recordings[0].state, RecordingState::Expired);
    assert_eq!(
        call_of(store, tenant, held.call_id).await.recordings[0].state,
        RecordingState::Available
    );
    assert_eq!(
        call_of(store, tenant, recent.call_id).await.recordings[0].state,
        RecordingState::Available
    );
    // Expiring again changes and records nothing.
    let again = store.expire_recordings(tenant, at(60 * 24 * 5), now, 15);
    assert_eq!(again.await.unwrap(), 0);
    assert!(take_events(store).await.is_empty());

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
    assert!(!due_files(store, now).await.contains(&id));
    let later = store
        .due_media_deletions(now + Duration::seconds(31), 100)
        .await
        .unwrap();
    let retried = later.iter().find(|d| d.recording_id == id).unwrap();
    assert_eq!(retried.attempts, 1);
    store.media_deletion_done(id).await.unwrap();
    let tomorrow = due_files(store, now + Duration::days(1)).await;
    assert!(!tomorrow.contains(&id));

    // A deletion marker queues the file in the same transaction.
    let recent_rec = recent.recordings[0].recording_id;
    let deleting = paal(60 * 24 * 20);
    store
        .mark_deleted(tenant, &[recent_rec], &deleting)
        .await
        .unwrap();
    assert_eq!(take_events(store).await.len(), 1);
    assert!(due_files(store, now).await.contains(&recent_rec));

    // Purge metadata before day 5: "old" goes, "held" stays on legal hold, the marker of "recent" stays.
    let purged = store
        .purge_calls(tenant, at(60 * 24 * 5), now, 400)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    // One CALL_PURGED per purged call, saying how many recordings went with it.
    let (_, e) = &only_event(store).await;
    assert_eq!(kind(e), AuditEventKind::CallPurged);
    assert_eq!(e.event_id, format!("call-purged:{}", old.call_id));
    assert_eq!(e.call_id, old.call_id.to_string());
    assert_eq!(e.actor_id, "system:retention");
    assert_eq!(
        e.detail,
        "metadata retention 400 days; 1 recording(s) went with the call"
    );
    assert!(!has_call(store, tenant, old.call_id).await);
    assert!(has_call(store, tenant, held.call_id).await);
    // Lifting the hold lets the next sweep take it, file first.
    store
        .set_legal_hold(tenant, held.call_id, false, &paal(60 * 24 * 20))
        .await
        .unwrap();
    let purged = store.purge_calls(tenant, at(60 * 24 * 5), now, 400);
    assert_eq!(purged.await.unwrap(), 1);
    let kinds: Vec<AuditEventKind> = take_events(store)
        .await
        .iter()
        .map(|(_, e)| kind(e))
        .collect();
    assert_eq!(
        kinds,
        vec![AuditEventKind::LegalHoldChanged, AuditEventKind::CallPurged]
    );
    let due = due_files(store, now).await;
    assert!(due.contains(&held.recordings[0].recording_id));
    assert!(store.tenants().await.unwrap().contains(&tenant.to_owned()));
}

/// Batch ingest: one transaction, results in order, known sessions unchanged.
async fn batches(url: &str) {
    let store = &*open(url).await;
    let tenant = "40004";
    let existing = ingest(store, tenant, call("b-1", 0, "1", "A", 1)).await;
    take_events(store).await;
    let batch: Vec<NewCall> = (0..1200)
        .map(|i| call(&format!("b-{i}"), i, "5550000", "B", (i % 3) as usize))
        .collect();
    let results = store
        .insert_calls(tenant, &batch, &platform(tenant))
        .await
        .unwrap();
    // One event for the whole batch, not one per call.
    let (_, e) = &only_event(store).await;
    assert_eq!(kind(e), AuditEventKind::CallsIngested);
    assert_eq!(
        e.event_id,
        format!("calls-ingested:{}", results[0].0.call_id)
    );
    assert_eq!(
        e.detail,
        "1199 call(s) created; sessions b-0, b-2, b-3, b-4, b-5 and 1194 more"
    );
    // The same batch again creates and records nothing.
    let again = store
        .insert_calls(tenant, &batch[..10], &platform(tenant))
        .await
        .unwrap();
    assert!(again.iter().all(|(_, created)| !created));
    assert!(take_events(store).await.is_empty());
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
        let read = store.get_call(tenant, stored.call_id).await.unwrap();
        assert_eq!(read.as_ref(), Some(stored));
    }
}

/// The media-deletion queue as media-svc reads it (ListPendingMediaDeletions)
/// and as a user's deletion reads what it just queued: by recording id,
/// paged without skipping or repeating, per tenant or for all.
async fn pending_deletions(url: &str) {
    let store = &*open(url).await;
    let (a, b) = ("50005", "50006");
    let pending = |tenant, after, limit| async move {
        let pending = store.pending_media_deletions(tenant, after, limit).await;
        pending.unwrap()
    };
    let ids = |pending: Vec<MediaDeletion>| -> Vec<_> {
        pending.into_iter().map(|d| d.recording_id).collect()
    };
    assert!(pending(None, None, 100).await.is_empty());
    let calls_a = ingest(store, a, call("p-a", 0, "1", "A", 3)).await;
    let old_b = ingest(store, b, call("p-b", 0, "2", "B", 1)).await;
    let ids_a: Vec<_> = calls_a.recordings.iter().map(|r| r.recording_id).collect();
    let id_b = old_b.recordings[0].recording_id;
    // Two of A's recordings deleted by a user, B's expired by retention.
    let deleting = paal(30);
    store.mark_deleted(a, &ids_a[..2], &deleting).await.unwrap();
    assert_eq!(
        store.expire_recordings(b, at(60), at(90), 1).await.unwrap(),
        1
    );
    take_events(store).await;

    let all = pending(None, None, 100).await;
    let mut expected: Vec<_> = vec![ids_a[0], ids_a[1], id_b];
    expected.sort();
    let of_b = all.iter().find(|d| d.recording_id == id_b).unwrap().clone();
    let of_a = all
        .iter()
        .find(|d| d.recording_id == ids_a[0])
        .unwrap()
        .clone();
    assert_eq!(ids(all), expected, "every tenant's, by recording id");
    assert_eq!(
        (
            of_b.tenant.as_str(),
            of_b.cause.as_str(),
            of_b.requested_at,
            of_b.attempts
        ),
        (b, "expired", at(90), 0)
    );
    assert_eq!(
        (of_a.tenant.as_str(), of_a.cause.as_str(), of_a.requested_at),
        (a, "deleted", deleting.at)
    );

    // Pages of one: each after the last id of the one before.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = pending(None, after, 1).await;
        let Some(last) = page.last() else { break };
        assert_eq!(page.len(), 1);
        after = Some(last.recording_id);
        paged.push(last.recording_id);
    }
    assert_eq!(paged, expected);

    // One tenant's only.
    let only_a = ids(pending(Some(a), None, 100).await);
    let mut expected_a = ids_a[..2].to_vec();
    expected_a.sort();
    assert_eq!(only_a, expected_a);
    assert!(pending(Some("50007"), None, 100).await.is_empty());

    // What a deletion just queued: the tenant's queued ones among the ids
    // (not the live recording, not another tenant's, not an unknown id).
    let asked = [ids_a[0], ids_a[1], ids_a[2], id_b, uuid::Uuid::new_v4()];
    let mut queued = ids(store.queued_media_deletions(a, &asked).await.unwrap());
    queued.sort();
    assert_eq!(queued, expected_a);
    let none = store.queued_media_deletions(a, &[]).await;
    assert!(none.unwrap().is_empty());

    // A failed attempt is counted; a confirmed one leaves the list.
    store
        .media_deletion_failed(ids_a[0], at(100), "media-svc unavailable")
        .await
        .unwrap();
    store.media_deletion_done(id_b).await.unwrap();
    let now: Vec<_> = pending(None, None, 100)
        .await
        .into_iter()
        .map(|d| (d.recording_id, d.attempts))
        .collect();
    let mut expected: Vec<_> = vec![(ids_a[0], 1), (ids_a[1], 0)];
    expected.sort();
    assert_eq!(now, expected);
}

/// The tenant whose outbox inserts the sabotage trigger refuses.
const DOOMED: &str = "66666";

/// Makes the database refuse audit outbox rows of [`DOOMED`], as a full disk
/// or a lost connection would at that point of a change's transaction.
async fn refuse_outbox_rows(url: &str) {
    match archive_common::db::connect(url).await.unwrap() {
        archive_common::db::Pool::Sqlite(pool) => {
            sqlx::query(&format!(
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON audit_outbox \
                 WHEN NEW.tenant = '{DOOMED}' BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
            ))
            .execute(&pool)
            .await
            .unwrap();
        }
        archive_common::db::Pool::Postgres(pool) => {
            sqlx::query(&format!(
                "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.tenant = '{DOOMED}' THEN RAISE EXCEPTION 'forced failure'; END IF; \
                 RETURN NEW; END $$"
            ))
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON audit_outbox \
                 FOR EACH ROW EXECUTE FUNCTION refuse_outbox()",
            )
            .execute(&pool)
            .await
            .unwrap();
        }
    }
}

/// A change whose event cannot be written does not happen: neither the
/// change nor any outbox row is left (one transaction).
async fn a_change_whose_event_fails_does_not_happen(url: &str) {
    let store = &*open(url).await;
    let tenant = DOOMED;
    let kept = ingest(store, tenant, call("kept", 0, "1111", "A", 2)).await;
    take_events(store).await;
    refuse_outbox_rows(url).await;
    let rec = kept.recordings[0].recording_id;

    let (change, lost) = (paal(10), call("lost", 5, "2222", "A", 1));
    let settings = TenantSettings {
        recording_retention_days: 1,
        metadata_retention_days: 1,
        ..TenantSettings::default()
    };
    let deleted = store.mark_deleted(tenant, &[rec], &change).await;
    let held = store
        .set_legal_hold(tenant, kept.call_id, true, &change)
        .await;
    let configured = store.put_settings(tenant, &settings, &change).await;
    let expired = store.expire_recordings(tenant, at(60), at(60), 1).await;
    let purged = store.purge_calls(tenant, at(60), at(60), 1).await;
    let ingested = store.insert_call(tenant, &lost, &platform(tenant)).await;
    assert!(deleted.is_err() && held.is_err() && configured.is_err());
    assert!(expired.is_err() && purged.is_err() && ingested.is_err());

    assert_eq!(
        store.outbox().pending().await.unwrap(),
        0,
        "no event was written"
    );
    let now = call_of(store, tenant, kept.call_id).await;
    assert!(!now.legal_hold);
    assert!(
        now.recordings
            .iter()
            .all(|r| r.state == RecordingState::Available && r.deletion.is_none()),
        "nothing was deleted or expired"
    );
    assert_eq!(
        store.settings(tenant).await.unwrap(),
        TenantSettings::default()
    );
    let calls = store
        .search(tenant, &CallQuery::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(calls.len(), 1, "neither purged nor ingested");
    let due = store.due_media_deletions(at(60 * 24 * 365 * 10), 100).await;
    assert!(
        due.unwrap().iter().all(|d| d.tenant != tenant),
        "no file was queued for deletion"
    );
    // Other tenants are unaffected.
    ingest(store, "10009", call("fine", 0, "1", "A", 0)).await;
    assert_eq!(take_events(store).await.len(), 1);
}

fn file_at(minute: i64, sha: &str) -> StoredFile {
    StoredFile {
        size_bytes: 16_000,
        duration_us: 9_000_500,
        sha256: sha.repeat(32),
        stored_at: at(minute),
    }
}

/// Media states: pending from ingest, stored once media-svc reports the
/// file, the list of files the platform owes, and a file that arrives after
/// its recording was deleted.
async fn media_states(url: &str) {
    let store = &*open(url).await;
    let tenant = "40004";
    // Ingested at `minute`.
    let ingest_at = |minute, new: NewCall| async move {
        let change = Change::by(&Principal::system(tenant, "recording-platform"), at(minute));
        store.insert_call(tenant, &new, &change).await.unwrap().0
    };
    let a = ingest_at(10, call("m-a", 0, "1", "A", 2)).await;
    let b = ingest_at(20, call("m-b", 1, "2", "A", 1)).await;
    let c = ingest_at(30, call("m-c", 2, "3", "A", 1)).await;
    take_events(store).await;
    // Every ingested recording waits for its file, since its ingest; so it is stored.
    let read = call_of(store, tenant, a.call_id).await;
    assert_eq!(read.recordings, a.recordings);
    for r in &read.recordings {
        assert_eq!((&r.media, r.ingested_at), (&Media::Pending, Some(at(10))));
        assert!(r.awaits_upload());
    }
    let rec = |call: &archive_svc::model::StoredCall, i: usize| call.recordings[i].recording_id;
    let mut a_ids = vec![rec(&a, 0), rec(&a, 1)];
    a_ids.sort();

    // Owed files: oldest ingest first (then by id), each with its call.
    let owed = |before, after, limit| async move {
        store
            .pending_recordings(tenant, before, after, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|(r, call)| {
                assert_eq!(r.call_id, call.call_id);
                assert!(call.recordings.is_empty(), "the call without its list");
                r.recording_id
            })
            .collect::<Vec<_>>()
    };
    let all = owed(None, None, 100).await;
    assert_eq!(all, [a_ids[0], a_ids[1], rec(&b, 0), rec(&c, 0)]);
    assert_eq!(owed(Some(at(20)), None, 100).await, a_ids);
    assert_eq!(owed(None, None, 3).await, all[..3]);
    let cursor = PendingCursor {
        ingested_us: at(10).timestamp_micros(),
        recording_id: a_ids[1],
    };
    assert_eq!(owed(None, Some(cursor), 100).await, all[2..]);
    let (r, call) = &store
        .pending_recordings(tenant, None, None, 1)
        .await
        .unwrap()[0];
    assert_eq!(
        (r.recording_id, call.session_id.as_str()),
        (a_ids[0], "m-a")
    );
    assert!(
        store
            .pending_recordings("40005", None, None, 100)
            .await
            .unwrap()
            .is_empty(),
        "another tenant owes nothing"
    );

    // media-svc reports a file: stored, with what it measured; no longer owed.
    let report = |tenant, id, file: StoredFile| async move {
        store.mark_media_stored(tenant, id, &file).await.unwrap()
    };
    let file = file_at(40, "ab");
    let (stored, requeued) = report(tenant, a_ids[0], file.clone()).await.unwrap();
    assert_eq!(stored.media, Media::Stored(file.clone()));
    assert!(!requeued && !stored.awaits_upload());
    assert_eq!(stored.ingested_at, Some(at(10)), "its ingest time stays");
    // The same file reported again (a retried upload) changes nothing.
    let (again, _) = report(tenant, a_ids[0], file_at(50, "ab")).await.unwrap();
    assert_eq!(again.media, Media::Stored(file.clone()));
    // Another tenant's report, or an unknown recording: nothing there.
    assert!(report("40005", a_ids[1], file.clone()).await.is_none());
    let unknown = uuid::Uuid::new_v4();
    assert!(report(tenant, unknown, file.clone()).await.is_none());
    assert_eq!(owed(None, None, 100).await, all[1..]);
    // Searches carry the state (no second look-up per row).
    let found = store
        .search(tenant, &CallQuery::default(), None, 10)
        .await
        .unwrap();
    let found_a = found.iter().find(|x| x.call_id == a.call_id).unwrap();
    let media: Vec<_> = found_a
        .recordings
        .iter()
        .map(|r| (r.recording_id, r.media.clone()))
        .collect();
    assert!(media.contains(&(a_ids[0], Media::Stored(file.clone()))));
    assert!(media.contains(&(a_ids[1], Media::Pending)));

    // A deleted recording is owed no file; one that arrives anyway is queued
    // for deletion again.
    store
        .mark_deleted(tenant, &[rec(&b, 0)], &paal(60))
        .await
        .unwrap();
    assert_eq!(owed(None, None, 100).await, [a_ids[1], rec(&c, 0)]);
    let deleted = rec(&b, 0);
    let queued = || async move {
        let due = due_files(store, at(60 * 24 * 365)).await;
        due.into_iter().filter(|id| *id == deleted).count()
    };
    assert_eq!(queued().await, 1);
    store.media_deletion_done(rec(&b, 0)).await.unwrap();
    let (late, requeued) = report(tenant, rec(&b, 0), file_at(70, "cd")).await.unwrap();
    assert!(requeued);
    assert_eq!(late.state, RecordingState::Deleted);
    assert_eq!(queued().await, 1, "its file goes again");
    // Media states are no audit event (media-svc records RECORDING_STORED);
    // the deletion is the only one.
    let events = take_events(store).await;
    assert_eq!(
        events.iter().map(|(_, e)| kind(e)).collect::<Vec<_>>(),
        [AuditEventKind::RecordingDeleted]
    );
}

/// An upgraded installation: its recordings are unverified (playable as
/// before) until the media check resolves them; a report from media-svc
/// that comes first is kept.
async fn upgrade(url: &str) {
    let tenant = "50005";
    let mut ids: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::new_v4()).collect();
    ids.sort();
    let call_id = common::legacy::old_installation(url, tenant, "before", at(0), &ids).await;
    let store = &*open(url).await;
    let call = call_of(store, tenant, call_id).await;
    assert_eq!(call.recordings.len(), 3);
    for r in &call.recordings {
        assert_eq!((&r.media, r.ingested_at), (&Media::Unverified, None));
        assert_eq!(r.state, RecordingState::Available);
        assert!(!r.awaits_upload(), "playable as before the upgrade");
    }
    assert!(
        store
            .pending_recordings(tenant, None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The check walks them in id order, in batches.
    let first = store.unverified_recordings(None, 2).await.unwrap();
    assert_eq!(
        first,
        [(tenant.to_owned(), ids[0]), (tenant.to_owned(), ids[1])]
    );
    let rest = store.unverified_recordings(Some(ids[1]), 2).await.unwrap();
    assert_eq!(rest, [(tenant.to_owned(), ids[2])]);
    // media-svc reports the third before the check looks at it.
    let reported = file_at(5, "ef");
    let stored = store.mark_media_stored(tenant, ids[2], &reported).await;
    assert!(stored.unwrap().is_some());
    let found = file_at(6, "ab");
    let resolved = [(ids[0], found.clone())];
    let changed = store.resolve_unverified(tenant, &resolved, &ids[1..]).await;
    assert_eq!(changed.unwrap(), 2);
    let call = call_of(store, tenant, call_id).await;
    let media: Vec<_> = call.recordings.iter().map(|r| r.media.clone()).collect();
    assert_eq!(
        media,
        [
            Media::Stored(found),
            Media::Pending,
            Media::Stored(reported)
        ]
    );
    // A missing file is owed since its recording's start (its ingest is not known).
    assert_eq!(
        call.recordings[1].ingested_at,
        Some(call.recordings[1].start)
    );
    let owed = store
        .pending_recordings(tenant, None, None, 100)
        .await
        .unwrap();
    assert_eq!(
        owed.iter().map(|(r, _)| r.recording_id).collect::<Vec<_>>(),
        [ids[1]]
    );
    assert!(
        store
            .unverified_recordings(None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.resolve_unverified(tenant, &[], &ids).await;
    assert_eq!(again.unwrap(), 0, "nothing is resolved twice");
}

test_support::backend_suite!(
    "archive_store";
    ingest_is_idempotent_per_tenant_and_session,
    searches_are_ordered_and_tenant_bound,
    search_filters,
    a_party_filter_pages_by_its_keyset,
    a_search_scope_reaches_only_its_calls,
    keyset_pagination_walks_every_row_once,
    another_tenants_ids_are_invisible,
    deletion_markers_stay_and_are_recorded_once,
    deleting_several_records_the_new_ones,
    legal_hold_is_recorded_when_it_changes,
    settings,
    retention,
    batches,
    pending_deletions,
    media_states,
    a_change_whose_event_fails_does_not_happen,
    upgrade,
);

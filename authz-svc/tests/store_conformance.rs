//! One conformance suite for the user store: each scenario a test on SQLite
//! (a temp file) and one on a real PostgreSQL (a scratch database; skipped
//! with a message when none answers unless ARCHIVE_REQUIRE_POSTGRES=1). Each
//! change is checked with the audit outbox row it commits with: one per
//! change, none for a change refused or changing nothing.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod common;

use std::sync::Arc;

// The relay's side of the outbox, read back to check what a change wrote.
use archive_common::{Principal, convert::timestamp};
use archive_proto::v1::{AuditEvent, AuditEventKind};
use audit_svc::outbox::OutboxStore as _;
use audit_svc::outbox::{Change, Context};
use authz_svc::{
    model::{ALL_PERMISSIONS, Permissions, User, UserSpec},
    role::RoleSpec,
    scope::{Scope, Scopes},
    store::{self, RoleRemoval, Store},
};
use chrono::{DateTime, TimeDelta, Utc};

fn at(seconds: i64) -> DateTime<Utc> {
    // Microsecond precision survives the round trip; nanoseconds would not.
    DateTime::from_timestamp(1_700_000_000 + seconds, 123_456_000).unwrap()
}

fn spec(id: &str, name: &str, permissions: Permissions) -> UserSpec {
    UserSpec::new(id, name, &format!("{name} (agent)"), permissions)
}

/// Paal, an admin of 10009, changing users at `t`, with a reason.
fn by_paal(t: DateTime<Utc>) -> Change {
    Change::by(&Principal::new("10009", "paal", "Paal Admin"), t).with_context(Context {
        request_id: "req-1".into(),
        reason: "new hire\nteam B".into(),
        case_id: "HR-12".into(),
        ..Context::default()
    })
}

/// `user` inserted in `tenant` by paal at `at(t)`; `None`: the id is taken.
async fn insert(store: &Arc<dyn Store>, tenant: &str, user: UserSpec, t: i64) -> Option<User> {
    store
        .insert_user(tenant, &user, &by_paal(at(t)))
        .await
        .unwrap()
}

/// `user` of 10009 updated by paal at `at(t)`; `None`: no such user.
async fn update(store: &Arc<dyn Store>, user: UserSpec, t: i64) -> Option<User> {
    store
        .update_user("10009", &user, &by_paal(at(t)))
        .await
        .unwrap()
}

/// User `id` of 10009 deleted by paal at `at(t)`; `false`: no such user.
async fn delete(store: &Arc<dyn Store>, id: &str, t: i64) -> bool {
    store
        .delete_user("10009", id, &by_paal(at(t)))
        .await
        .unwrap()
}

/// The events waiting in the outbox, oldest first, taken out of it.
async fn take_events(store: &dyn Store) -> Vec<(String, AuditEvent)> {
    let due = store
        .outbox()
        .due(Utc::now() + TimeDelta::days(36_500), 10_000)
        .await
        .unwrap();
    let seqs: Vec<i64> = due.iter().map(|p| p.seq).collect();
    store.outbox().delivered(&seqs).await.unwrap();
    assert_eq!(store.outbox().pending().await.unwrap(), 0);
    due.into_iter()
        .map(|p| (p.tenant, p.event.expect("a stored event decodes")))
        .collect()
}

fn details(events: &[(String, AuditEvent)]) -> Vec<&str> {
    events.iter().map(|(_, e)| e.detail.as_str()).collect()
}

test_support::backend_suite!(
    "authz_store";
    inserts_record_their_event_and_never_overwrite,
    tenants_are_separate,
    users_list_in_byte_order_of_ids,
    updates_replace_names_and_permissions,
    deletes_are_recorded_once,
    every_permission_column_round_trips,
    reopening_keeps_the_data,
    scopes_roles_and_disabled_round_trip,
    roles_are_per_tenant_and_removed_only_when_unheld,
);

fn sales() -> Scope {
    Scope {
        queues: vec!["Billing".into(), "Sales".into()],
        access_points: vec!["81511569".into()],
        ..Scope::default()
    }
}

async fn scopes_roles_and_disabled_round_trip(url: &str) {
    let (store, _) = with_anna(url).await;
    let mut anna = spec("anna", "Anna Agent", PLAYER);
    anna.scopes = Scopes {
        play: Some(sales()),
        view_audit: Some(Scope {
            own_calls: true,
            ..Scope::default()
        }),
        ..Scopes::default()
    };
    anna.roles = vec!["agent".into(), "team-b".into()];
    anna.disabled = true;
    let updated = update(&store, anna.clone(), 5).await.expect("exists");
    assert_eq!(updated.scopes, anna.scopes);
    assert_eq!(updated.roles, anna.roles);
    assert!(updated.disabled);
    let read = store.get_user("10009", "anna").await.unwrap().unwrap();
    assert_eq!(read, updated);
    let events = take_events(store.as_ref()).await;
    assert_eq!(
        details(&events),
        [
            "updated user anna: display name \"Anna Agent\" -> \"Anna Agent\", agent \"Anna Agent (agent)\" -> \"Anna Agent (agent)\", permissions: play,require_reason -> play,require_reason; play: queues Billing, Sales + access points 81511569; view_audit: own calls; roles agent,team-b; disabled"
        ]
    );
    // Listing reads the same columns.
    let listed = store.list_users("10009", "", 10).await.unwrap();
    assert_eq!(listed, [updated]);
}

async fn roles_are_per_tenant_and_removed_only_when_unheld(url: &str) {
    let (store, _) = with_anna(url).await;
    let team = RoleSpec {
        role_id: "team-b".into(),
        display_name: "Team B".into(),
        permissions: PLAYER,
        scopes: Scopes {
            play: Some(sales()),
            ..Scopes::default()
        },
    };
    let created = store
        .insert_role("10009", &team, &by_paal(at(1)))
        .await
        .unwrap()
        .expect("created");
    assert_eq!(created.scopes, team.scopes);
    assert_eq!(created.create_time, at(1));
    assert!(
        store
            .insert_role("10009", &team, &by_paal(at(2)))
            .await
            .unwrap()
            .is_none(),
        "an id is taken once"
    );
    assert!(
        store.list_roles("10010").await.unwrap().is_empty(),
        "tenants are separate"
    );
    let renamed = RoleSpec {
        display_name: "Team B (Oslo)".into(),
        ..team.clone()
    };
    let updated = store
        .update_role("10009", &renamed, &by_paal(at(3)))
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(
        (updated.display_name.as_str(), updated.create_time),
        ("Team B (Oslo)", at(1))
    );
    assert_eq!(store.list_roles("10009").await.unwrap(), [updated]);
    // Held by anna: not removed.
    let mut anna = spec("anna", "Anna Agent", PLAYER);
    anna.roles = vec!["team-b".into()];
    update(&store, anna.clone(), 4).await.unwrap();
    assert_eq!(
        store
            .delete_role("10009", "team-b", &by_paal(at(5)))
            .await
            .unwrap(),
        RoleRemoval::Held(vec!["anna".into()])
    );
    assert_eq!(
        store.list_roles("10009").await.unwrap().len(),
        1,
        "still there"
    );
    // A role whose id is a prefix of another's is not held by its holders.
    anna.roles = vec!["team-bb".into()];
    update(&store, anna, 6).await.unwrap();
    assert_eq!(
        store
            .delete_role("10009", "team-b", &by_paal(at(7)))
            .await
            .unwrap(),
        RoleRemoval::Removed
    );
    assert_eq!(
        store
            .delete_role("10009", "team-b", &by_paal(at(8)))
            .await
            .unwrap(),
        RoleRemoval::NotFound
    );
    let events = take_events(store.as_ref()).await;
    let details = details(&events);
    assert_eq!(details.len(), 5, "{details:#?}");
    assert_eq!(
        details[0],
        "created role team-b (Team B): none -> play,require_reason; play: queues Billing, Sales + access points 81511569"
    );
    assert!(
        details[1].starts_with("updated role team-b: display name \"Team B\" -> \"Team B (Oslo)\"")
    );
    assert!(details[4].starts_with("deleted role team-b (Team B (Oslo))"));
}

const PLAYER: Permissions = Permissions {
    play_recordings: true,
    download_recordings: false,
    delete_recordings: false,
    require_reason: true,
    view_audit_log: false,
    admin: false,
};

/// A migrated store holding anna (a player of 10009, created at 0), her
/// event already taken.
async fn with_anna(url: &str) -> (Arc<dyn Store>, User) {
    let store = store::open(url, true).await.unwrap();
    let anna = insert(&store, "10009", spec("anna", "Anna Agent", PLAYER), 0)
        .await
        .expect("created");
    take_events(store.as_ref()).await;
    (store, anna)
}

async fn inserts_record_their_event_and_never_overwrite(url: &str) {
    let store = store::open(url, true).await.unwrap();
    store.ping().await.unwrap();
    let anna = insert(&store, "10009", spec("anna", "Anna Agent", PLAYER), 0)
        .await
        .expect("created");
    assert_eq!(anna.user_id, "anna");
    assert_eq!(anna.agent_name, "Anna Agent (agent)");
    assert_eq!(anna.permissions, PLAYER);
    assert_eq!((anna.create_time, anna.update_time), (at(0), at(0)));
    // One PERMISSION_CHANGED, committed with the user, as the admin with the context.
    let events = take_events(store.as_ref()).await;
    assert_eq!(events.len(), 1);
    let (tenant, e) = &events[0];
    assert_eq!(tenant, "10009");
    assert_eq!(e.kind, AuditEventKind::PermissionChanged as i32);
    assert_eq!(
        e.detail,
        "created user anna (Anna Agent), agent \"Anna Agent (agent)\", permissions: none -> play,require_reason"
    );
    assert_eq!(
        (e.actor_id.as_str(), e.actor_display_name.as_str()),
        ("paal", "Paal Admin")
    );
    assert_eq!(
        (e.request_id.as_str(), e.reason.as_str(), e.case_id.as_str()),
        ("req-1", "new hire\nteam B", "HR-12")
    );
    assert_eq!(e.event_time, Some(timestamp(at(0))));
    assert!(e.event_id.starts_with("permission-changed:"));
    let again = insert(
        &store,
        "10009",
        spec("anna", "Someone Else", ALL_PERMISSIONS),
        5,
    )
    .await;
    assert!(again.is_none(), "an existing id is not overwritten");
    assert!(
        take_events(store.as_ref()).await.is_empty(),
        "a refused insert records nothing"
    );
    assert_eq!(store.get_user("10009", "anna").await.unwrap(), Some(anna));
}

async fn tenants_are_separate(url: &str) {
    let (store, anna) = with_anna(url).await;
    // The same id in another tenant is another user.
    assert_eq!(store.get_user("10010", "anna").await.unwrap(), None);
    insert(
        &store,
        "10010",
        spec("anna", "Other Anna", ALL_PERMISSIONS),
        1,
    )
    .await
    .expect("same id, other tenant");
    assert_eq!(store.get_user("10009", "anna").await.unwrap(), Some(anna));
    let revoked = Permissions::default();
    update(&store, spec("anna", "Anna A.", revoked), 10)
        .await
        .expect("exists");
    let other = store.get_user("10010", "anna").await.unwrap().unwrap();
    assert_eq!(
        other.permissions, ALL_PERMISSIONS,
        "an update in one tenant leaves the other alone"
    );
    assert!(delete(&store, "anna", 12).await);
    assert_eq!(store.get_user("10010", "anna").await.unwrap(), Some(other));
}

async fn users_list_in_byte_order_of_ids(url: &str) {
    let (store, _) = with_anna(url).await;
    insert(&store, "10010", spec("anna", "Other Anna", PLAYER), 1)
        .await
        .unwrap();
    for id in ["Zed", "bo", "a.b", "carl", "b@x"] {
        insert(&store, "10009", spec(id, id, Permissions::default()), 2)
            .await
            .unwrap();
    }
    // Keyset pages, one tenant only.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.list_users("10009", &after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().unwrap().user_id.clone();
        seen.extend(page.into_iter().map(|u| u.user_id));
    }
    assert_eq!(seen, ["Zed", "a.b", "anna", "b@x", "bo", "carl"]);
    let tenants: Vec<String> = take_events(store.as_ref())
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        tenants,
        ["10010", "10009", "10009", "10009", "10009", "10009"]
    );
    assert_eq!(store.list_users("10010", "", 100).await.unwrap().len(), 1);
}

async fn updates_replace_names_and_permissions(url: &str) {
    let (store, _) = with_anna(url).await;
    // Names and permissions replaced, create_time kept.
    let revoked = Permissions::default();
    let updated = update(&store, spec("anna", "Anna A.", revoked), 10)
        .await
        .expect("exists");
    assert_eq!(updated.display_name, "Anna A.");
    assert_eq!(updated.permissions, revoked);
    assert_eq!(updated.create_time, at(0));
    assert_eq!(updated.update_time, at(10));
    assert_eq!(
        store.get_user("10009", "anna").await.unwrap(),
        Some(updated.clone())
    );
    // Before → after; the same update again changes and records nothing.
    let again = update(&store, spec("anna", "Anna A.", revoked), 11)
        .await
        .unwrap();
    assert_eq!(again.permissions, revoked);
    let events = take_events(store.as_ref()).await;
    assert_eq!(
        details(&events),
        [
            "updated user anna: display name \"Anna Agent\" -> \"Anna A.\", agent \"Anna Agent (agent)\" -> \"Anna A. (agent)\", permissions: play,require_reason -> none"
        ]
    );
    assert_eq!(update(&store, spec("nobody", "N", revoked), 10).await, None);
    assert!(take_events(store.as_ref()).await.is_empty());
}

async fn deletes_are_recorded_once(url: &str) {
    let (store, _) = with_anna(url).await;
    assert!(delete(&store, "anna", 12).await);
    assert!(!delete(&store, "anna", 13).await);
    let events = take_events(store.as_ref()).await;
    assert_eq!(
        details(&events),
        ["deleted user anna (Anna Agent), permissions: play,require_reason -> none"]
    );
    assert_eq!(events[0].1.event_time, Some(timestamp(at(12))));
    assert_eq!(store.get_user("10009", "anna").await.unwrap(), None);
}

async fn every_permission_column_round_trips(url: &str) {
    let store = store::open(url, true).await.unwrap();
    let flags: [fn(&mut Permissions); 6] = [
        |p| p.play_recordings = true,
        |p| p.download_recordings = true,
        |p| p.delete_recordings = true,
        |p| p.require_reason = true,
        |p| p.view_audit_log = true,
        |p| p.admin = true,
    ];
    for (i, set) in flags.iter().enumerate() {
        let mut p = Permissions::default();
        set(&mut p);
        let id = format!("flag{i}");
        insert(&store, "10011", spec(&id, "F", p), i as i64).await;
        assert_eq!(
            store
                .get_user("10011", &id)
                .await
                .unwrap()
                .unwrap()
                .permissions,
            p
        );
    }
}

/// Opening again runs the migrations again without harm and keeps the data;
/// a service that does not migrate opens a current schema.
async fn reopening_keeps_the_data(url: &str) {
    let (store, anna) = with_anna(url).await;
    drop(store);
    store::open(url, true).await.unwrap();
    let reopened = store::open(url, false).await.unwrap();
    assert_eq!(
        reopened.get_user("10009", "anna").await.unwrap(),
        Some(anna)
    );
}

#[tokio::test]
async fn a_store_that_does_not_migrate_refuses_a_schema_that_is_behind() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("empty.db").display());
    let err = store::open(&url, false).await.err().expect("refused");
    assert!(err.to_string().contains("authz-svc migrate"), "{err}");
}

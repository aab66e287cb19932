//! One conformance suite for the user store, run on SQLite (a temp file) and on
//! a real PostgreSQL (a scratch database; skipped with a message when none answers
//! unless ARCHIVE_REQUIRE_POSTGRES=1).

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::sync::Arc;

use archive_common::db::ScratchDatabase;
use authz_svc::{
    model::{Permissions, UserSpec},
    store::{self, Store},
};
use chrono::{DateTime, TimeDelta, Utc};

fn at(seconds: i64) -> DateTime<Utc> {
    // Microsecond precision survives the round trip; nanoseconds would not.
    DateTime::from_timestamp(1_700_000_000 + seconds, 123_456_000).unwrap()
}

fn spec(id: &str, name: &str, permissions: Permissions) -> UserSpec {
    UserSpec {
        user_id: id.into(),
        display_name: name.into(),
        agent_name: format!("{name} (agent)"),
        permissions,
    }
}

async fn conformance(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let player = Permissions {
        play_recordings: true,
        require_reason: true,
        ..Default::default()
    };

    // Insert, and a second insert of the same id changes nothing.
    let anna = store
        .insert_user("10009", &spec("anna", "Anna Agent", player), at(0))
        .await
        .unwrap()
        .expect("created");
    assert_eq!(anna.user_id, "anna");
    assert_eq!(anna.agent_name, "Anna Agent (agent)");
    assert_eq!(anna.permissions, player);
    assert_eq!((anna.create_time, anna.update_time), (at(0), at(0)));
    let again = store
        .insert_user(
            "10009",
            &spec("anna", "Someone Else", Permissions::ALL),
            at(5),
        )
        .await
        .unwrap();
    assert!(again.is_none(), "an existing id is not overwritten");
    assert_eq!(
        store.get_user("10009", "anna").await.unwrap(),
        Some(anna.clone())
    );

    // Tenants are separate: the same id in another tenant is another user.
    assert_eq!(store.get_user("10010", "anna").await.unwrap(), None);
    store
        .insert_user(
            "10010",
            &spec("anna", "Other Anna", Permissions::ALL),
            at(1),
        )
        .await
        .unwrap()
        .expect("same id, other tenant");
    assert_eq!(
        store
            .get_user("10009", "anna")
            .await
            .unwrap()
            .unwrap()
            .permissions,
        player
    );

    // Keyset listing in byte order of ids, one tenant only.
    for id in ["Zed", "bo", "a.b", "carl", "b@x"] {
        store
            .insert_user("10009", &spec(id, id, Permissions::default()), at(2))
            .await
            .unwrap()
            .unwrap();
    }
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
    assert_eq!(store.list_users("10010", "", 100).await.unwrap().len(), 1);

    // Update replaces names and permissions, keeps create_time.
    let revoked = Permissions::default();
    let updated = store
        .update_user("10009", &spec("anna", "Anna A.", revoked), at(10))
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(updated.display_name, "Anna A.");
    assert_eq!(updated.permissions, revoked);
    assert_eq!(updated.create_time, at(0));
    assert_eq!(updated.update_time, at(10));
    assert_eq!(
        store.get_user("10009", "anna").await.unwrap(),
        Some(updated)
    );
    assert_eq!(
        store
            .update_user("10009", &spec("nobody", "N", revoked), at(10))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_user("10010", "anna")
            .await
            .unwrap()
            .unwrap()
            .permissions,
        Permissions::ALL,
        "an update in one tenant leaves the other alone"
    );

    // Delete.
    assert!(store.delete_user("10009", "anna").await.unwrap());
    assert!(!store.delete_user("10009", "anna").await.unwrap());
    assert_eq!(store.get_user("10009", "anna").await.unwrap(), None);
    assert!(store.get_user("10010", "anna").await.unwrap().is_some());

    // Every permission column round-trips on its own.
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
        store
            .insert_user(
                "10011",
                &spec(&id, "F", p),
                at(0) + TimeDelta::seconds(i as i64),
            )
            .await
            .unwrap();
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

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("authz.db").display());
    conformance(store::open(&url).await.unwrap()).await;
    // Re-opening runs the migrations again without harm and keeps the data.
    let reopened = store::open(&url).await.unwrap();
    assert!(reopened.get_user("10010", "anna").await.unwrap().is_some());
}

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(db) = ScratchDatabase::create("authz_store").await else {
        return;
    };
    conformance(store::open(&db.url).await.unwrap()).await;
    let reopened = store::open(&db.url).await.unwrap();
    assert!(reopened.get_user("10010", "anna").await.unwrap().is_some());
    drop(reopened);
    db.drop_database().await;
}

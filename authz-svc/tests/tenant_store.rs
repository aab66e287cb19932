//! The tenant registry's conformance suite, on SQLite and PostgreSQL alike
//! (PostgreSQL skipped with a message when none answers unless
//! ARCHIVE_REQUIRE_POSTGRES=1): the migration registers the tenants that
//! already have users; each change commits with one event in the affected
//! tenant's trail, none for a change refused or changing nothing.

#![allow(unused_crate_dependencies)]

use std::{path::Path, sync::Arc};

use archive_common::{Principal, db};
use archive_proto::v1::{AuditEvent, AuditEventKind};
use audit_svc::outbox::{Change, Context, OutboxStore as _};
use authz_svc::{
    Error,
    model::{ALL_PERMISSIONS, UserSpec},
    store::{self, SqlStore, Store},
    tenants::{TenantSpec, TenantState},
};
use chrono::{DateTime, TimeDelta, Utc};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

fn by_operator(t: i64) -> Change {
    Change::by(&Principal::system("", "operator"), at(t)).with_context(Context {
        request_id: "op-1".into(),
        reason: "contract signed".into(),
        ..Context::default()
    })
}

fn spec(id: &str, name: &str) -> TenantSpec {
    TenantSpec {
        tenant_id: id.into(),
        display_name: name.into(),
    }
}

async fn take_events(store: &dyn Store) -> Vec<(String, AuditEvent)> {
    let due = store
        .outbox()
        .due(Utc::now() + TimeDelta::days(36_500), 10_000)
        .await
        .unwrap();
    let seqs: Vec<i64> = due.iter().map(|p| p.seq).collect();
    store.outbox().delivered(&seqs).await.unwrap();
    due.into_iter()
        .map(|p| (p.tenant, p.event.expect("a stored event decodes")))
        .collect()
}

test_support::backend_suite!(
    "authz_tenants";
    the_migration_registers_the_tenants_that_have_users,
    a_tenant_is_created_once_with_its_event,
    states_move_only_as_allowed_each_with_its_event,
    tenants_list_in_order_without_the_removed,
    a_bootstrap_tenant_is_registered_once_without_an_event,
);

/// Copies the migrations before 0004 of `backend` into `dir`.
fn migrations_before_tenants(backend: &str, dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0004" {
            std::fs::copy(&path, dir.join(name)).unwrap();
        }
    }
}

async fn the_migration_registers_the_tenants_that_have_users(url: &str) {
    // A database as it was before the registry: users in two tenants.
    let old = tempfile::tempdir().unwrap();
    let pool = db::connect(url).await.unwrap();
    let admin = |id: &str| UserSpec::new(id, id, "", ALL_PERMISSIONS);
    let bootstrap = |t| Change::system("bootstrap", at(t));
    let old_store: Arc<dyn Store> = match &pool {
        db::Pool::Sqlite(p) => {
            migrations_before_tenants("sqlite", old.path());
            let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
            migrator.run(p).await.unwrap();
            Arc::new(SqlStore::new(p.clone()))
        }
        db::Pool::Postgres(p) => {
            migrations_before_tenants("postgres", old.path());
            let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
            migrator.run(p).await.unwrap();
            Arc::new(SqlStore::new(p.clone()))
        }
    };
    for (tenant, user, t) in [
        ("10009", "paal", 5),
        ("10009", "sara", 9),
        ("20002", "boss", 7),
    ] {
        old_store
            .insert_user(tenant, &admin(user), &bootstrap(t))
            .await
            .unwrap();
    }
    let store = store::open(url, true).await.unwrap();
    let tenants = store.list_tenants("", 10, false).await.unwrap();
    let seen: Vec<_> = tenants
        .iter()
        .map(|t| (t.tenant_id.as_str(), t.display_name.as_str(), t.state))
        .collect();
    assert_eq!(
        seen,
        [
            ("10009", "Customer 10009", TenantState::Active),
            ("20002", "Customer 20002", TenantState::Active)
        ]
    );
    assert_eq!(tenants[0].create_time, at(5), "as of its first user");
}

async fn a_tenant_is_created_once_with_its_event(url: &str) {
    let store = store::open(url, true).await.unwrap();
    let created = store
        .insert_tenant(&spec("20002", "Other AS"), &by_operator(0))
        .await
        .unwrap()
        .expect("created");
    assert_eq!(created.state, TenantState::Active);
    assert_eq!((created.create_time, created.update_time), (at(0), at(0)));
    assert_eq!(
        store.get_tenant("20002").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.get_tenant("20003").await.unwrap(), None);
    let events = take_events(store.as_ref()).await;
    assert_eq!(events.len(), 1);
    let (tenant, e) = &events[0];
    assert_eq!(tenant, "20002", "in the new tenant's own trail");
    assert_eq!(e.kind, AuditEventKind::TenantSettingsChanged as i32);
    assert_eq!(e.actor_id, "system:operator");
    assert_eq!(e.reason, "contract signed");
    assert_eq!(
        e.detail,
        "created tenant 20002 (Other AS): state none -> active"
    );
    let again = store
        .insert_tenant(&spec("20002", "Someone Else"), &by_operator(1))
        .await
        .unwrap();
    assert!(again.is_none(), "an existing id is not overwritten");
    assert!(take_events(store.as_ref()).await.is_empty());
    assert_eq!(store.get_tenant("20002").await.unwrap(), Some(created));
}

async fn states_move_only_as_allowed_each_with_its_event(url: &str) {
    let store = store::open(url, true).await.unwrap();
    store
        .insert_tenant(&spec("20002", "Other AS"), &by_operator(0))
        .await
        .unwrap();
    take_events(store.as_ref()).await;
    let set = |to, t| {
        let store = store.clone();
        async move { store.set_tenant_state("20002", to, &by_operator(t)).await }
    };
    let refused = |r: Result<_, Error>| match r {
        Err(Error::FailedPrecondition(why)) => why,
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    };
    assert_eq!(
        refused(set(TenantState::Removed, 1).await),
        "tenant 20002 is active: suspend it before removing it"
    );
    let suspended = set(TenantState::Suspended, 2).await.unwrap().unwrap();
    assert_eq!(suspended.state, TenantState::Suspended);
    assert_eq!(suspended.update_time, at(2));
    let unchanged = set(TenantState::Suspended, 3).await.unwrap().unwrap();
    assert_eq!(unchanged.update_time, at(2), "already suspended: no change");
    set(TenantState::Active, 4).await.unwrap();
    set(TenantState::Suspended, 5).await.unwrap();
    let removed = set(TenantState::Removed, 6).await.unwrap().unwrap();
    assert_eq!(removed.state, TenantState::Removed);
    assert_eq!(
        refused(set(TenantState::Active, 7).await),
        "tenant 20002 is removed, which is final"
    );
    let events = take_events(store.as_ref()).await;
    let details: Vec<&str> = events.iter().map(|(_, e)| e.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "tenant 20002 (Other AS): state active -> suspended",
            "tenant 20002 (Other AS): state suspended -> active",
            "tenant 20002 (Other AS): state active -> suspended",
            "tenant 20002 (Other AS): state suspended -> removed",
        ]
    );
    assert!(events.iter().all(|(t, _)| t == "20002"));
    assert!(
        store
            .set_tenant_state("404", TenantState::Suspended, &by_operator(8))
            .await
            .unwrap()
            .is_none()
    );
}

async fn tenants_list_in_order_without_the_removed(url: &str) {
    let store: Arc<dyn Store> = store::open(url, true).await.unwrap();
    for id in ["30003", "100", "20002", "9"] {
        store
            .insert_tenant(&spec(id, &format!("T{id}")), &by_operator(0))
            .await
            .unwrap();
    }
    store
        .set_tenant_state("20002", TenantState::Suspended, &by_operator(1))
        .await
        .unwrap();
    store
        .set_tenant_state("20002", TenantState::Removed, &by_operator(2))
        .await
        .unwrap();
    let ids = |ts: Vec<authz_svc::tenants::Tenant>| {
        ts.into_iter().map(|t| t.tenant_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.list_tenants("", 10, false).await.unwrap()),
        ["100", "30003", "9"]
    );
    assert_eq!(
        ids(store.list_tenants("", 10, true).await.unwrap()),
        ["100", "20002", "30003", "9"]
    );
    assert_eq!(
        ids(store.list_tenants("100", 2, true).await.unwrap()),
        ["20002", "30003"]
    );
}

async fn a_bootstrap_tenant_is_registered_once_without_an_event(url: &str) {
    let store = store::open(url, true).await.unwrap();
    assert!(store.register_tenant("10009", at(0)).await.unwrap());
    assert!(!store.register_tenant("10009", at(1)).await.unwrap());
    let t = store.get_tenant("10009").await.unwrap().unwrap();
    assert_eq!(
        (t.display_name.as_str(), t.state, t.create_time),
        ("Customer 10009", TenantState::Active, at(0))
    );
    assert!(take_events(store.as_ref()).await.is_empty());
    // A suspended tenant stays suspended however often its admin is bootstrapped.
    store
        .set_tenant_state("10009", TenantState::Suspended, &by_operator(2))
        .await
        .unwrap();
    assert!(!store.register_tenant("10009", at(3)).await.unwrap());
    let t = store.get_tenant("10009").await.unwrap().unwrap();
    assert_eq!(t.state, TenantState::Suspended);
}

//! authz-svc over gRPC: the real server started with `run` on an ephemeral
//! port, spoken to with the generated client.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use archive_common::{
    Principal, error::violated_field, identity::Role, shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, Action, Verdict};
use authz_svc::Config;
use common::{Api, client, identity, key, keys, paal, start};
use tonic::Code;

fn config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config::new(
        format!("sqlite://{}", dir.path().join("authz.db").display()),
        identity("authz-svc"),
    );
    config.bootstrap_admins = vec![
        "10009:paal:Paal Admin".into(),
        "10010:olga:Olga Admin".into(),
    ];
    config
}

fn user(id: &str, name: &str, permissions: pb::Permissions) -> pb::User {
    pb::User {
        user_id: id.into(),
        display_name: name.into(),
        agent_name: name.into(),
        permissions: Some(permissions),
        ..Default::default()
    }
}

fn player_with_reason() -> pb::Permissions {
    pb::Permissions {
        play_recordings: true,
        download_recordings: true,
        require_reason: true,
        ..Default::default()
    }
}

/// Creates `u` as the admin paal.
async fn create(c: &Api, u: pb::User) -> pb::User {
    c.create(&paal(), u, None).await.unwrap()
}

async fn decide(c: &Api, as_: &Principal, action: Action) -> pb::Decision {
    let request = pb::DecideRequest {
        action: action as i32,
        resource: Some(pb::ResourceAttributes {
            recording_id: "rec-1".into(),
            owner_agent: "Andreas Wallin".into(),
            ..Default::default()
        }),
    };
    c.0.clone()
        .decide(key().request(request, as_))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap()
}

fn verdict(d: &pb::Decision) -> Verdict {
    Verdict::try_from(d.verdict).unwrap()
}

/// The code of a refused call, and the field it names if any.
fn refused<T: std::fmt::Debug>(answer: Result<T, tonic::Status>) -> (Code, Option<String>) {
    let err = answer.unwrap_err();
    (err.code(), violated_field(&err))
}

fn invalid(field: &str) -> (Code, Option<String>) {
    (Code::InvalidArgument, Some(field.into()))
}

#[tokio::test]
async fn requests_without_a_verified_identity_are_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let mut c = client(&server).await.0;
    let err = c
        .decide(pb::DecideRequest {
            action: Action::Play as i32,
            resource: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // A key the trust file does not hold, though it claims to be the gateway's.
    let forged = keys()
        .stranger("gateway", Role::Gateway)
        .request(pb::GetMyPermissionsRequest {}, &paal());
    assert_eq!(
        c.get_my_permissions(forged).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // A service's own key cannot vouch for a user.
    let as_user = keys()
        .signer("archive-svc")
        .request(pb::GetMyPermissionsRequest {}, &paal());
    assert_eq!(
        c.get_my_permissions(as_user).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // `start` waited for SERVING; the service name is the one clients ask for.
    assert_eq!(authz_svc::SERVICE_NAME, "archive.v1.AuthzService");
    server.stop().await;
}

#[tokio::test]
async fn decisions_follow_the_users_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    create(&c, user("anna", "Anna Reason", player_with_reason())).await;
    create(&c, user("ola", "Ola Noplay", pb::Permissions::default())).await;
    let anna = Principal::new("10009", "anna", "Anna Reason");
    let ola = Principal::new("10009", "ola", "Ola Noplay");

    let d = decide(&c, &anna, Action::Play).await;
    assert_eq!(verdict(&d), Verdict::ReasonRequired);
    assert!(d.reason.contains("reason"), "{}", d.reason);
    for (as_, action, expected) in [
        (&anna, Action::Delete, Verdict::Deny),
        (&anna, Action::Search, Verdict::Allow),
        (&paal(), Action::ManageUsers, Verdict::Allow),
        (&paal(), Action::Play, Verdict::Allow),
    ] {
        assert_eq!(
            verdict(&decide(&c, as_, action).await),
            expected,
            "{action:?}"
        );
    }
    let d = decide(&c, &ola, Action::Play).await;
    assert_eq!(
        (verdict(&d), d.reason.as_str()),
        (Verdict::Deny, "not allowed to play recordings")
    );

    // Unknown users, and the same id in another tenant, are denied.
    for stranger in [
        Principal::new("10009", "nobody", "Nobody"),
        Principal::new("10010", "anna", "Anna elsewhere"),
    ] {
        let d = decide(&c, &stranger, Action::Search).await;
        assert_eq!(
            (verdict(&d), d.reason.as_str()),
            (Verdict::Deny, "unknown user")
        );
    }

    // The batch form answers in request order.
    let bad = |action: i32| pb::DecideRequest {
        action,
        resource: None,
    };
    let batch = |requests: Vec<pb::DecideRequest>| {
        let request = key().request(pb::BatchDecideRequest { requests }, &anna);
        let mut c = c.0.clone();
        async move { Ok::<_, tonic::Status>(c.batch_decide(request).await?.into_inner().decisions) }
    };
    let actions = [
        Action::Search,
        Action::Play,
        Action::Download,
        Action::Delete,
        Action::Play,
    ];
    let decisions = batch(actions.iter().map(|a| bad(*a as i32)).collect())
        .await
        .unwrap();
    let verdicts: Vec<Verdict> = decisions.iter().map(verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Allow,
            Verdict::ReasonRequired,
            Verdict::ReasonRequired,
            Verdict::Deny,
            Verdict::ReasonRequired
        ]
    );

    // Bad input names the field.
    let err =
        c.0.clone()
            .decide(key().request(bad(Action::Unspecified as i32), &anna))
            .await;
    assert_eq!(refused(err), invalid("action"));
    assert_eq!(
        refused(batch(vec![bad(1), bad(42)]).await),
        invalid("requests[1].action")
    );
    let full = vec![bad(1); authz_svc::MAX_BATCH];
    let answered = batch(full.clone()).await.unwrap();
    assert_eq!(answered.len(), authz_svc::MAX_BATCH);
    let mut over = full;
    over.push(bad(1));
    assert_eq!(refused(batch(over).await), invalid("requests"));

    // Users read their own permissions; strangers are not found.
    let mine = c.mine(&anna).await.unwrap();
    assert_eq!(mine.permissions, Some(player_with_reason()));
    assert_eq!(mine.agent_name, "Anna Reason");
    let err = c.mine(&Principal::new("10010", "anna", "A")).await;
    assert_eq!(refused(err), (Code::NotFound, None));
    server.stop().await;
}

#[tokio::test]
async fn only_admins_of_the_tenant_manage_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    let olga = Principal::new("10010", "olga", "Olga Admin");
    let anna = Principal::new("10009", "anna", "Anna");
    let paal = paal();
    create(&c, user("anna", "Anna", player_with_reason())).await;

    // A non-admin is refused every management call.
    let admin = pb::Permissions {
        admin: true,
        ..Default::default()
    };
    let denied = [
        c.create(&anna, user("x", "X", Default::default()), None)
            .await
            .map(drop),
        c.get(&anna, "paal").await.map(drop),
        c.list(&anna, 0, "").await.map(drop),
        c.update(&anna, user("anna", "A", admin), None)
            .await
            .map(drop),
        c.delete(&anna, "paal", None).await,
    ];
    for result in denied {
        assert_eq!(refused(result), (Code::PermissionDenied, None));
    }
    // The escalation attempt above changed nothing.
    let got = c.get(&paal, "anna").await.unwrap();
    assert_eq!(got.permissions, Some(player_with_reason()));

    // An admin of another tenant sees none of this tenant's users.
    assert_eq!(refused(c.get(&olga, "anna").await), (Code::NotFound, None));
    assert_eq!(
        refused(c.delete(&olga, "anna", None).await),
        (Code::NotFound, None)
    );
    assert_eq!(c.ids(&olga).await.unwrap(), ["olga"]);

    // Duplicates and bad fields.
    let err = c
        .create(&paal, user("anna", "Again", Default::default()), None)
        .await;
    assert_eq!(refused(err), (Code::AlreadyExists, None));
    for (bad, field) in [
        (user("bad id", "Bad", Default::default()), "user.user_id"),
        (
            user(&"x".repeat(65), "Long", Default::default()),
            "user.user_id",
        ),
        (user("carl", "", Default::default()), "user.display_name"),
        (
            user("carl", "Carl\u{1b}[31m", Default::default()),
            "user.display_name",
        ),
    ] {
        assert_eq!(refused(c.create(&paal, bad, None).await), invalid(field));
    }
    let err = c.create(&paal, None, None).await;
    assert_eq!(refused(err).1.as_deref(), Some("user"));
    assert_eq!(
        refused(c.get(&paal, "").await).1.as_deref(),
        Some("user_id")
    );
    assert_eq!(
        c.ids(&paal).await.unwrap(),
        ["anna", "paal"],
        "nothing was written by the refused requests"
    );

    // Admins may not lock themselves out.
    let err = c
        .update(&paal, user("paal", "Paal", player_with_reason()), None)
        .await;
    assert_eq!(refused(err), (Code::FailedPrecondition, None));
    let err = c.delete(&paal, "paal", None).await;
    assert_eq!(refused(err), (Code::FailedPrecondition, None));

    // Update and delete.
    let updated = c
        .update(
            &paal,
            user("anna", "Anna Updated", Default::default()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Anna Updated");
    assert!(updated.update_time.unwrap().seconds >= updated.create_time.unwrap().seconds);
    let err = c
        .update(&paal, user("ghost", "G", Default::default()), None)
        .await;
    assert_eq!(refused(err), (Code::NotFound, None));
    c.delete(&paal, "anna", None).await.unwrap();
    let d = decide(&c, &anna, Action::Search).await;
    assert_eq!(d.reason, "unknown user", "a deleted user is denied at once");
    server.stop().await;
}

#[tokio::test]
async fn list_users_pages_with_sealed_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    for id in ["e", "a", "d", "b", "c"] {
        create(&c, user(id, id, Default::default())).await;
    }
    let mut ids = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c.list(&paal(), 2, &token).await.unwrap();
        pages += 1;
        assert!(page.users.len() <= 2);
        ids.extend(page.users.into_iter().map(|u| u.user_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(ids, ["a", "b", "c", "d", "e", "paal"]);
    assert_eq!(pages, 3);

    // A token is bound to its tenant and cannot be forged.
    let first = c.list(&paal(), 1, "").await.unwrap();
    let olga = Principal::new("10010", "olga", "Olga Admin");
    for (as_, token) in [
        (&olga, first.next_page_token.as_str()),
        (&paal(), "bm90LWEtdG9rZW4"),
    ] {
        let err = c.list(as_, 1, token).await;
        assert_eq!(refused(err).1.as_deref(), Some("page_token"));
    }
    for size in [-1, 1001] {
        let err = c.list(&paal(), size, "").await;
        assert_eq!(refused(err).1.as_deref(), Some("page_size"));
    }
    server.stop().await;
}

/// The stated bound: a revocation made through an instance takes effect on
/// it at once; on another replica within its decision-cache TTL.
#[tokio::test]
async fn a_revoked_permission_takes_effect_within_the_cache_bound() {
    let dir = tempfile::tempdir().unwrap();
    let ttl = Duration::from_millis(400);
    let mut a_config = config(&dir);
    a_config.decision_cache_ttl_ms = ttl.as_millis() as u64;
    let b_config = a_config.clone();
    let a = start(a_config).await;
    let ca = client(&a).await;
    let b = start(b_config).await;
    let cb = client(&b).await;
    let anna = Principal::new("10009", "anna", "Anna");
    let play = pb::Permissions {
        play_recordings: true,
        ..Default::default()
    };
    create(&ca, user("anna", "Anna", play)).await;
    // Both instances now hold anna's permissions in their caches.
    assert_eq!(
        verdict(&decide(&ca, &anna, Action::Play).await),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&decide(&cb, &anna, Action::Play).await),
        Verdict::Allow
    );
    let b_filled = Instant::now();

    ca.update(&paal(), user("anna", "Anna", Default::default()), None)
        .await
        .unwrap();
    let revoked = Instant::now();
    assert_eq!(
        verdict(&decide(&ca, &anna, Action::Play).await),
        Verdict::Deny,
        "the instance that made the change denies at once"
    );
    // Replica B may serve its cached grant until the TTL has passed, never
    // longer: B's entry was filled before the revocation, so any grant B
    // answers to a request sent `asked` after the revocation needs asked < ttl.
    let mut stale_answers = 0;
    loop {
        let asked = revoked.elapsed();
        match verdict(&decide(&cb, &anna, Action::Play).await) {
            Verdict::Deny => break,
            Verdict::Allow => {
                assert!(
                    asked < ttl,
                    "replica still allowed {asked:?} after the revocation"
                );
                stale_answers += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if b_filled.elapsed() > ttl * 2 {
        eprintln!("machine too slow to observe the stale window; the bound still held");
    } else {
        assert!(
            stale_answers > 0,
            "B answered from its cache before the TTL"
        );
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let c = client(&server).await;
    let me = c.mine(&paal()).await.unwrap();
    assert_eq!(me.display_name, "Paal Admin");
    let p = me.permissions.unwrap();
    assert!(
        p.admin
            && p.play_recordings
            && p.download_recordings
            && p.delete_recordings
            && p.view_audit_log
    );
    c.update(&paal(), user("paal", "Paal Renamed", p), None)
        .await
        .unwrap();
    server.stop().await;

    // A restart with the same entries creates nothing and overwrites nothing.
    let server = start(config(&dir)).await;
    let me = client(&server).await.mine(&paal()).await.unwrap();
    assert_eq!(me.display_name, "Paal Renamed");
    server.stop().await;

    // A malformed entry stops the start.
    let mut bad = config(&dir);
    bad.bootstrap_admins.push("10009:no display name".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = authz_svc::run(bad, listener, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, authz_svc::Error::Bootstrap { .. }), "{err}");
}

//! authz-svc and the audit trail: each user change commits with its
//! PERMISSION_CHANGED event in authz-svc's audit outbox and the relay
//! delivers it (to a stand-in audit-svc recording AppendEvents, so the
//! delivery itself can be watched and made to fail); a refused change
//! records nothing; a trail that is down delays the event, not the change.
//! And the real audit-svc asks authz-svc who may read the trail.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::{Principal, error::violated_field, shutdown::CancellationToken};
use archive_proto::v1::{
    self as pb, Action, AuditEventKind, Verdict, audit_service_client::AuditServiceClient,
};
use audit_svc::testing::FakeTrail;
use common::{Api, Server, identity, key, keys, paal};
use test_support::server::Running;
use tonic::{Code, transport::Channel};

fn user(id: &str, name: &str, permissions: pb::Permissions) -> pb::User {
    pb::User {
        user_id: id.into(),
        display_name: name.into(),
        agent_name: String::new(),
        permissions: Some(permissions),
        ..Default::default()
    }
}

fn play() -> pb::Permissions {
    pb::Permissions {
        play_recordings: true,
        ..Default::default()
    }
}

fn context(reason: &str) -> Option<pb::ActionContext> {
    Some(pb::ActionContext {
        request_id: format!("req-{reason}"),
        reason: reason.into(),
        ..Default::default()
    })
}

struct Suite {
    authz: Api,
    /// authz-svc and audit-svc, serving until the test ends.
    _servers: (Server, Running<audit_svc::Error>),
    audit: AuditServiceClient<Channel>,
    trail: FakeTrail,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

/// authz-svc delivering to the stand-in trail, and the real audit-svc
/// asking authz-svc who may read.
async fn start() -> Suite {
    let dir = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let trail = FakeTrail::default();
    let trail_url = trail.serve(keys().trust(), stop.clone()).await;

    let mut authz_config = authz_svc::Config::new(
        format!("sqlite://{}", dir.path().join("authz.db").display()),
        identity("authz-svc"),
    );
    authz_config.bootstrap_admins = vec!["10009:paal:Paal Admin".into()];
    authz_config.audit_url = Some(trail_url);
    let mut audit_config = audit_svc::Config::new(
        format!("sqlite://{}", dir.path().join("audit.db").display()),
        identity("audit-svc"),
    );
    let authz = common::start(authz_config).await;
    audit_config.authz_url = Some(authz.url());
    let audit = Running::start(|l, stop| audit_svc::run(audit_config, l, stop)).await;
    Suite {
        authz: common::client(&authz).await,
        audit: AuditServiceClient::new(audit.channel().await),
        _servers: (authz, audit),
        trail,
        stop,
        _dir: dir,
    }
}

#[tokio::test]
async fn each_user_change_reaches_the_trail_once_and_a_refused_one_not_at_all() {
    let mut s = start().await;
    let paal = paal();
    let c = &s.authz;
    c.create(&paal, user("anna", "Anna", play()), context("new agent"))
        .await
        .unwrap();
    let revoked = user("anna", "Anna", Default::default());
    c.update(&paal, revoked, context("left the team"))
        .await
        .unwrap();

    // Refused: already exists, not an admin, a bad context. None is recorded.
    let err = c.create(&paal, user("anna", "Dup", play()), None).await;
    assert_eq!(err.unwrap_err().code(), Code::AlreadyExists);
    let anna = Principal::new("10009", "anna", "Anna");
    let err = c.create(&anna, user("bo", "Bo", play()), None).await;
    assert_eq!(err.unwrap_err().code(), Code::PermissionDenied);
    let bell = Some(pb::ActionContext {
        reason: "bell\u{7}".into(),
        ..Default::default()
    });
    let err = c.delete(&paal, "anna", bell).await.unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("context.reason"));

    let events = s.trail.wait_for(3).await;
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(
        events.iter().all(|(caller, e)| caller.tenant == "10009"
            && caller.user_id == "system:authz-svc"
            && e.kind == AuditEventKind::PermissionChanged as i32),
        "the relay appends as authz-svc's system principal of the tenant"
    );
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|(_, e)| {
            (
                e.actor_id.as_str(),
                e.request_id.as_str(),
                e.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "system:bootstrap",
                "",
                "created user paal (Paal Admin), agent \"\", permissions: none -> play,download,delete,view_audit_log,admin; roles admin"
            ),
            (
                "paal",
                "req-new agent",
                "created user anna (Anna), agent \"\", permissions: none -> play"
            ),
            (
                "paal",
                "req-left the team",
                "updated user anna: display name \"Anna\" -> \"Anna\", agent \"\" -> \"\", permissions: play -> none"
            ),
        ]
    );
    assert_eq!(events[2].1.reason, "left the team");

    // Only users allowed to view the audit log may read it (audit-svc asks authz-svc).
    let err = s
        .audit
        .list_events(key().request(pb::ListEventsRequest::default(), &anna))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = s
        .audit
        .verify_chain(key().request(pb::VerifyChainRequest::default(), &anna))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let report = s
        .audit
        .verify_chain(key().request(pb::VerifyChainRequest::default(), &paal))
        .await
        .unwrap()
        .into_inner();
    assert!(report.intact);
    s.stop.cancel();
}

#[tokio::test]
async fn a_trail_that_is_down_delays_the_event_not_the_change() {
    let mut s = start().await;
    s.trail.wait_for(1).await; // the bootstrap admin
    s.trail.set_down(true);
    let c = &s.authz;
    c.create(&paal(), user("bo", "Bo", play()), None)
        .await
        .expect("the change does not wait for the trail");
    c.delete(&paal(), "bo", context("mistake")).await.unwrap();
    let err = c.get(&paal(), "bo").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Decisions answer as ever.
    let decision = s
        .authz
        .0
        .decide(key().request(
            pb::DecideRequest {
                action: Action::Play as i32,
                resource: None,
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert_eq!(decision.verdict, Verdict::Allow as i32);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.trail.events().len(),
        1,
        "nothing arrives while it is down"
    );

    // Back up: both events arrive, in order, once (after the relay's backoff).
    s.trail.set_down(false);
    let events = s.trail.wait_for(3).await;
    let details: Vec<&str> = events[1..].iter().map(|(_, e)| e.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "created user bo (Bo), agent \"\", permissions: none -> play",
            "deleted user bo (Bo), permissions: play -> none"
        ]
    );
    assert_eq!(events.len(), 3);
    s.stop.cancel();
}

#[tokio::test]
async fn callers_that_are_not_users_are_refused_and_the_refusal_recorded() {
    let mut s = start().await;
    s.trail.wait_for(1).await; // the bootstrap admin
    // A service acting as itself (archive-svc's retention sweeper) may not
    // manage users…
    let retention = Principal::system("10009", "retention");
    let err = s
        .authz
        .0
        .create_user(keys().signer("archive-svc").request(
            pb::CreateUserRequest {
                user: Some(user("bo", "Bo", play())),
                context: None,
            },
            &retention,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // …nor may a recording platform ask for decisions, even for its own tenant.
    let platform = keys().platform("recording-platform", &["10009"]);
    let err = s
        .authz
        .0
        .decide(platform.request(
            pb::DecideRequest {
                action: Action::Play as i32,
                resource: None,
            },
            "10009",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Nothing was created.
    let err = s.authz.get(&paal(), "bo").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Each refusal reaches the trail as ACCESS_DENIED, in the caller's
    // tenant, with the caller as the actor and the RPC named.
    let events = s.trail.wait_for(3).await;
    assert_eq!(events.len(), 3, "{events:#?}");
    let refusals: Vec<(&str, &str, AuditEventKind)> = events[1..]
        .iter()
        .map(|(caller, e)| {
            assert_eq!(
                (caller.tenant.as_str(), caller.user_id.as_str()),
                ("10009", "system:authz-svc")
            );
            (
                e.actor_id.as_str(),
                e.detail.as_str(),
                AuditEventKind::try_from(e.kind).unwrap(),
            )
        })
        .collect();
    assert_eq!(refusals[0].0, "system:retention");
    assert!(refusals[0].1.contains("CreateUser"), "{refusals:?}");
    assert_eq!(refusals[1].0, "system:recording-platform");
    assert!(refusals[1].1.contains("Decide"), "{refusals:?}");
    assert!(
        refusals
            .iter()
            .all(|(_, _, kind)| *kind == AuditEventKind::AccessDenied)
    );
    s.stop.cancel();
}

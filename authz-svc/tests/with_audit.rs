//! authz-svc and audit-svc together, both real servers: user changes are
//! recorded before they are made (and not made when the trail is down), and
//! audit-svc asks authz-svc who may read the trail.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::time::{Duration, Instant};

use archive_common::{IdentityKey, Principal, shutdown::CancellationToken};
use archive_proto::v1::{
    self as pb, Action, AuditEventKind, Verdict, audit_service_client::AuditServiceClient,
    authz_service_client::AuthzServiceClient,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{Code, transport::Channel};

const SECRET: &str = "test-identity-secret";

fn key() -> IdentityKey {
    IdentityKey::internal(SECRET.as_bytes())
}

fn paal() -> Principal {
    Principal::new("10009", "paal", "Paal Admin")
}

async fn channel(addr: std::net::SocketAddr) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("{addr} did not answer: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn user(id: &str, name: &str, permissions: pb::Permissions) -> pb::User {
    pb::User {
        user_id: id.into(),
        display_name: name.into(),
        agent_name: String::new(),
        permissions: Some(permissions),
        ..Default::default()
    }
}

/// Waits until authz-svc answers a decision (its store is open).
async fn until_ready(authz: &mut AuthzServiceClient<Channel>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let request = key().request(
            pb::DecideRequest {
                action: Action::Search as i32,
                resource: None,
            },
            &paal(),
        );
        match authz.decide(request).await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("authz-svc not ready: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn user_changes_are_audited_and_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let authz_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let audit_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (authz_addr, audit_addr) = (
        authz_listener.local_addr().unwrap(),
        audit_listener.local_addr().unwrap(),
    );

    let mut authz_config = authz_svc::Config::new(
        format!("sqlite://{}", dir.path().join("authz.db").display()),
        SECRET,
    );
    authz_config.bootstrap_admins = vec!["10009:paal:Paal Admin".into()];
    authz_config.audit_url = Some(format!("http://{audit_addr}"));
    let mut audit_config = audit_svc::Config::new(
        format!("sqlite://{}", dir.path().join("audit.db").display()),
        SECRET,
    );
    audit_config.authz_url = Some(format!("http://{authz_addr}"));

    let authz_stop = CancellationToken::new();
    let audit_stop = CancellationToken::new();
    let authz_task = tokio::spawn(authz_svc::run(
        authz_config,
        authz_listener,
        authz_stop.clone(),
    ));
    let audit_task: JoinHandle<_> = tokio::spawn(audit_svc::run(
        audit_config,
        audit_listener,
        audit_stop.clone(),
    ));
    let mut authz = AuthzServiceClient::new(channel(authz_addr).await);
    let mut audit = AuditServiceClient::new(channel(audit_addr).await);
    until_ready(&mut authz).await;

    // Each change is in the trail, done by the admin.
    let play = pb::Permissions {
        play_recordings: true,
        ..Default::default()
    };
    authz
        .create_user(key().request(
            pb::CreateUserRequest {
                context: Default::default(),
                user: Some(user("anna", "Anna", play)),
            },
            &paal(),
        ))
        .await
        .unwrap();
    authz
        .update_user(key().request(
            pb::UpdateUserRequest {
                context: Default::default(),
                user: Some(user("anna", "Anna", pb::Permissions::default())),
            },
            &paal(),
        ))
        .await
        .unwrap();
    let err = authz
        .create_user(key().request(
            pb::CreateUserRequest {
                context: Default::default(),
                user: Some(user("anna", "Dup", play)),
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let events = audit
        .list_events(key().request(pb::ListEventsRequest::default(), &paal()))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(
        events.len(),
        2,
        "a refused change is not recorded: {events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e.kind == AuditEventKind::PermissionChanged as i32)
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor_id == "paal" && e.customer == "10009")
    );
    assert!(
        events[1].detail.starts_with("created user anna (Anna)"),
        "{}",
        events[1].detail
    );
    assert!(
        events[0].detail.contains("permissions: play -> none"),
        "{}",
        events[0].detail
    );

    // Only users allowed to view the audit log may read it (audit-svc asks authz-svc).
    let anna = Principal::new("10009", "anna", "Anna");
    let err = audit
        .list_events(key().request(pb::ListEventsRequest::default(), &anna))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = audit
        .verify_chain(key().request(pb::VerifyChainRequest::default(), &anna))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let report = audit
        .verify_chain(key().request(pb::VerifyChainRequest::default(), &paal()))
        .await
        .unwrap()
        .into_inner();
    assert!(report.intact);
    assert_eq!(report.events_checked, 2);

    // With the trail down, changes are refused and nothing changes…
    audit_stop.cancel();
    audit_task.await.unwrap().unwrap();
    let err = authz
        .create_user(key().request(
            pb::CreateUserRequest {
                context: Default::default(),
                user: Some(user("bo", "Bo", play)),
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let err = authz
        .update_user(key().request(
            pb::UpdateUserRequest {
                context: Default::default(),
                user: Some(user("anna", "Anna", play)),
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let err = authz
        .delete_user(key().request(
            pb::DeleteUserRequest {
                context: Default::default(),
                user_id: "anna".into(),
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let err = authz
        .get_user(key().request(
            pb::GetUserRequest {
                user_id: "bo".into(),
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let still = authz
        .get_user(key().request(
            pb::GetUserRequest {
                user_id: "anna".into(),
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.permissions, Some(pb::Permissions::default()));

    // …while decisions, which change nothing, still answer.
    let decision = authz
        .decide(key().request(
            pb::DecideRequest {
                action: Action::Play as i32,
                resource: None,
            },
            &anna,
        ))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert_eq!(decision.verdict, Verdict::Deny as i32);

    authz_stop.cancel();
    authz_task.await.unwrap().unwrap();
}

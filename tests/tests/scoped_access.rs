//! Scoped access end to end through the gateway (the whole suite, seeded):
//! a queue-scoped supervisor searches, plays, downloads and deletes only
//! that queue's calls; an "own calls" agent only the calls he took part in,
//! an agent-to-agent recording only its initiator; rights reaching some
//! calls are decided per row. A call or recording outside the user's
//! search scope is NOT_FOUND (not theirs to find); one they may find but not
//! act on is PERMISSION_DENIED (docs/OPERATIONS.md, "Scoped access").

#![allow(unused_crate_dependencies)]

mod common;

use archive_common::Principal;
use archive_proto::v1::{self as pb, authz_service_client::AuthzServiceClient};
use common::{authed, client, play, start_suite};
use gateway::{auth::Authenticate, suite::Suite};
use tonic::{Code, Request, metadata::MetadataValue};

/// Every row `user` sees (one page of up to 1000).
async fn all_rows(suite: &Suite, request: Request<pb::SearchCallRowsRequest>) -> Vec<pb::CallRow> {
    client(suite)
        .await
        .search_call_rows(request)
        .await
        .unwrap()
        .into_inner()
        .rows
}

fn page() -> pb::SearchCallRowsRequest {
    pb::SearchCallRowsRequest {
        page_size: 1000,
        ..Default::default()
    }
}

fn call(row: &pb::CallRow) -> &pb::Call {
    row.call.as_ref().unwrap()
}

/// The first row of `rows` whose call `pick` takes and whose first
/// recording plays (for the admin).
fn playable(rows: &[pb::CallRow], pick: impl Fn(&pb::Call) -> bool) -> &pb::CallRow {
    rows.iter()
        .find(|r| {
            pick(call(r))
                && r.recordings
                    .first()
                    .is_some_and(|rec| rec.play_state == pb::PlayState::Enabled as i32)
        })
        .expect("a playable row")
}

fn first_recording(row: &pb::CallRow) -> String {
    row.recordings[0].recording_id.clone()
}

/// A request as a user the test created (not a demo user).
fn as_user<T>(suite: &Suite, user_id: &str, message: T) -> Request<T> {
    let token = Authenticate::hs256(suite.secrets.jwt_secret.as_bytes())
        .issue(&Principal::new("10009", user_id, user_id), 600);
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

/// Creates `user` in 10009 as the admin paal, through authz-svc.
async fn create_user(suite: &Suite, user: pb::User) {
    let request = pb::CreateUserRequest {
        user: Some(user),
        context: None,
    };
    let (mut authz, request) = as_admin(suite, request).await;
    authz.create_user(request).await.unwrap();
}

/// authz-svc's client, and a request of the admin paal.
async fn as_admin<T>(
    suite: &Suite,
    message: T,
) -> (AuthzServiceClient<tonic::transport::Channel>, Request<T>) {
    let authz = AuthzServiceClient::connect(format!("http://{}", suite.endpoints.authz))
        .await
        .unwrap();
    let key = common::keys::gateway_key(&suite.keys);
    let paal = gateway::demo::user("paal").unwrap().principal();
    (authz, key.request(message, &paal))
}

fn sales() -> pb::Scope {
    pb::Scope {
        queues: vec!["Sales".into()],
        ..Default::default()
    }
}

async fn export(suite: &Suite, request: Request<pb::CreateExportRequest>) -> Result<(), Code> {
    client(suite)
        .await
        .create_export(request)
        .await
        .map(|_| ())
        .map_err(|s| s.code())
}

fn export_of(id: &str) -> pb::CreateExportRequest {
    pb::CreateExportRequest {
        recording_ids: vec![id.into()],
        ..Default::default()
    }
}

fn delete_of(id: &str) -> pb::DeleteRecordingsRequest {
    pb::DeleteRecordingsRequest {
        recording_ids: vec![id.into()],
        confirmed: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_scoped_supervisor_reaches_only_that_queue() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let everything = all_rows(&suite, authed(&suite, "paal", page())).await;
    let sales_only = all_rows(&suite, authed(&suite, "siri", page())).await;
    assert!(!sales_only.is_empty());
    assert!(sales_only.len() < everything.len());
    assert!(
        sales_only
            .iter()
            .all(|r| call(r).queues.iter().any(|q| q == "Sales")),
        "only Sales calls"
    );
    let in_sales = everything
        .iter()
        .filter(|r| call(r).queues.iter().any(|q| q == "Sales"))
        .count();
    assert_eq!(sales_only.len(), in_sales, "every Sales call");

    // Her scope moved to Support: the next search follows at once (the
    // gateway's guess from her last search is not trusted).
    let mut support = gateway::demo::user("siri").unwrap().user();
    let to_support = pb::Scope {
        queues: vec!["Support".into()],
        ..Default::default()
    };
    support.scopes = Some(pb::Scopes {
        search: Some(to_support.clone()),
        play: Some(to_support),
        ..Default::default()
    });
    support.permissions = Some(pb::Permissions {
        play_recordings: true,
        ..Default::default()
    });
    let update = pb::UpdateUserRequest {
        user: Some(support.clone()),
        context: None,
    };
    let (mut authz, request) = as_admin(&suite, update).await;
    authz.update_user(request).await.unwrap();
    let moved = all_rows(&suite, authed(&suite, "siri", page())).await;
    assert!(!moved.is_empty());
    assert!(
        moved
            .iter()
            .all(|r| call(r).queues.iter().any(|q| q == "Support"))
    );
    support.scopes = gateway::demo::user("siri").unwrap().user().scopes;
    support.permissions = gateway::demo::user("siri").unwrap().user().permissions;
    let back = pb::UpdateUserRequest {
        user: Some(support),
        context: None,
    };
    let (mut authz, request) = as_admin(&suite, back).await;
    authz.update_user(request).await.unwrap();
    assert_eq!(
        all_rows(&suite, authed(&suite, "siri", page())).await.len(),
        in_sales
    );

    let is_sales = |c: &pb::Call| c.queues.iter().any(|q| q == "Sales");
    let sales_row = playable(&everything, is_sales);
    let support_row = playable(&everything, |c| c.queues.iter().any(|q| q == "Support"));
    let (sales_rec, support_rec) = (first_recording(sales_row), first_recording(support_row));

    // Play and download: the queue's recordings only; another queue's
    // recording is not there to find.
    play(&suite, "siri", &sales_rec, "").await.unwrap();
    let err = play(&suite, "siri", &support_rec, "").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains(&support_rec), "{}", err.message());
    assert_eq!(
        export(&suite, authed(&suite, "siri", export_of(&sales_rec))).await,
        Ok(())
    );
    assert_eq!(
        export(&suite, authed(&suite, "siri", export_of(&support_rec))).await,
        Err(Code::NotFound)
    );
    // The Recording tab of another queue's call: not found either.
    let row = pb::GetCallRowRequest {
        call_id: call(support_row).call_id.clone(),
    };
    let err = client(&suite)
        .await
        .get_call_row(authed(&suite, "siri", row))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Delete, for a supervisor who may delete Sales recordings only.
    let dora = pb::User {
        user_id: "dora".into(),
        display_name: "Dora Deleter".into(),
        permissions: Some(pb::Permissions {
            delete_recordings: true,
            ..Default::default()
        }),
        scopes: Some(pb::Scopes {
            search: Some(sales()),
            delete: Some(sales()),
            ..Default::default()
        }),
        ..Default::default()
    };
    create_user(&suite, dora).await;
    let mut gateway = client(&suite).await;
    let err = gateway
        .delete_recordings(as_user(&suite, "dora", delete_of(&support_rec)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let deleted = gateway
        .delete_recordings(as_user(&suite, "dora", delete_of(&sales_rec)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        deleted.recordings[0].play_state,
        pb::PlayState::Deleted as i32
    );
    // The refused attempt is in the audit trail.
    let denied = common::audit_events(client(&suite).await, &suite, &support_rec).await;
    assert!(
        denied
            .iter()
            .any(|e| e.kind == pb::AuditEventKind::AccessDenied as i32 && e.actor_id == "dora"),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_reaching_some_calls_are_decided_per_row() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    // Finds every call, plays only Sales calls.
    let pia = pb::User {
        user_id: "pia".into(),
        display_name: "Pia Player".into(),
        permissions: Some(pb::Permissions {
            play_recordings: true,
            ..Default::default()
        }),
        scopes: Some(pb::Scopes {
            play: Some(sales()),
            ..Default::default()
        }),
        ..Default::default()
    };
    create_user(&suite, pia).await;
    let everything = all_rows(&suite, authed(&suite, "paal", page())).await;
    let rows = all_rows(&suite, as_user(&suite, "pia", page())).await;
    assert_eq!(rows.len(), everything.len(), "search reaches every call");
    let support_rec = first_recording(playable(&everything, |c| {
        c.queues.iter().any(|q| q == "Support")
    }));
    let mut checked = 0;
    for row in rows.iter().filter(|r| !r.recordings.is_empty()) {
        let sales = call(row).queues.iter().any(|q| q == "Sales");
        for rec in &row.recordings {
            let expected = if sales {
                pb::Verdict::Allow
            } else {
                pb::Verdict::Deny
            };
            assert_eq!(rec.play, expected as i32, "{:?}", call(row).queues);
            if !sales && rec.play_state == pb::PlayState::Enabled as i32 {
                panic!("a Support/Billing recording shows ▶ enabled");
            }
            checked += 1;
        }
        assert_eq!(row.recording_tab_enabled, sales);
    }
    assert!(checked > 10);
    // Findable but not playable: PERMISSION_DENIED naming the scope.
    let err = client(&suite)
        .await
        .start_playback(as_user(
            &suite,
            "pia",
            pb::StartPlaybackRequest {
                recording_id: support_rec,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains("outside the user's play scope"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reaches_only_his_own_calls_and_his_agent_to_agent_recording() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let everything = all_rows(&suite, authed(&suite, "paal", page())).await;
    let own = all_rows(&suite, authed(&suite, "andreas", page())).await;
    assert!(!own.is_empty() && own.len() < everything.len());
    let a2a_session = |r: &pb::CallRow| call(r).session_id.starts_with("seed-a2a-");
    // An agent-to-agent call lists the called agent; it is the initiator's.
    assert!(
        own.iter()
            .all(|r| a2a_session(r) || call(r).agents.iter().any(|a| a == "Andreas Wallin")),
        "only calls he took part in"
    );
    let a2a = own
        .iter()
        .find(|r| a2a_session(r))
        .expect("his agent-to-agent call");
    let a2a_rec = first_recording(a2a);
    play(&suite, "andreas", &a2a_rec, "").await.unwrap();
    let his = playable(&own, |c| !c.session_id.starts_with("seed-a2a-"));
    play(&suite, "andreas", &first_recording(his), "")
        .await
        .unwrap();
    let others = playable(&everything, |c| {
        !c.agents.iter().any(|a| a == "Andreas Wallin")
    });
    let err = play(&suite, "andreas", &first_recording(others), "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Playing is all his role grants.
    let err = export(&suite, authed(&suite, "andreas", export_of(&a2a_rec))).await;
    assert_eq!(err, Err(Code::PermissionDenied));

    // The called agent took part, but the recording is the initiator's.
    let called = all_rows(&suite, authed(&suite, "paal-agent", page())).await;
    assert!(!called.is_empty());
    assert!(
        !called.iter().any(a2a_session),
        "not in the called agent's search"
    );
    assert!(
        called
            .iter()
            .all(|r| call(r).agents.iter().any(|a| a == "paal-agent"))
    );
    let err = play(&suite, "paal-agent", &a2a_rec, "").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Nor in his "My call recordings".
    let mine = client(&suite)
        .await
        .list_my_call_rows(authed(
            &suite,
            "paal-agent",
            pb::ListMyCallRowsRequest {
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert!(!mine.is_empty() && !mine.iter().any(a2a_session));

    // The session card says where each right reaches.
    let session = client(&suite)
        .await
        .get_session(authed(&suite, "andreas", pb::GetSessionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(session.roles, ["agent"]);
    // The demo tenant asks a reason (of those who must give one) for all three.
    let asks = session.reason_actions.unwrap();
    assert!(asks.play && asks.download && asks.delete);
    assert_eq!(session.agent_name, "Andreas Wallin");
    let scopes = session.scopes.unwrap();
    assert!(scopes.play.unwrap().own_calls);
    assert!(scopes.download.is_none());
    assert!(session.permissions.unwrap().play_recordings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_actions_auditor_reads_only_their_own_events() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let own = pb::Scope {
        own_calls: true,
        ..Default::default()
    };
    let olav = pb::User {
        user_id: "olav".into(),
        display_name: "Olav Own".into(),
        agent_name: "Olav".into(),
        permissions: Some(pb::Permissions {
            view_audit_log: true,
            ..Default::default()
        }),
        scopes: Some(pb::Scopes {
            view_audit: Some(own),
            ..Default::default()
        }),
        ..Default::default()
    };
    create_user(&suite, olav).await;
    // Olav searches (a SEARCH_PERFORMED of his), then reads the log.
    all_rows(&suite, as_user(&suite, "olav", page())).await;
    let list = |actor: &str| pb::ListEventsRequest {
        actor_id: actor.into(),
        page_size: 1000,
        ..Default::default()
    };
    let mut events = Vec::new();
    for _ in 0..50 {
        events = client(&suite)
            .await
            .list_audit_events(as_user(&suite, "olav", list("")))
            .await
            .unwrap()
            .into_inner()
            .events;
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!events.is_empty(), "his search is recorded");
    assert!(events.iter().all(|e| e.actor_id == "olav"), "{events:?}");
    let err = client(&suite)
        .await
        .list_audit_events(as_user(&suite, "olav", list("paal")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = client(&suite)
        .await
        .verify_audit_trail(as_user(&suite, "olav", pb::VerifyChainRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

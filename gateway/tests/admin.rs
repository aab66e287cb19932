//! Administration through the gateway, against the embedded suite: the
//! `ArchiveAdmin` gRPC service and the `/api/v1/admin/…` JSON routes for
//! the tenant's admin; non-admins refused; bad input refused naming the
//! field with nothing written; another tenant's users and calls NOT_FOUND;
//! every change in the audit trail with its before and after; the tenant's
//! choice of which actions need a reason honoured by the flows.

#![allow(unused_crate_dependencies)]

use std::time::Duration;

use archive_common::{Principal, error::violated_field, shutdown::CancellationToken};
use archive_proto::v1::{
    self as pb, archive_admin_client::ArchiveAdminClient,
    archive_service_client::ArchiveServiceClient,
};
use gateway::{SuiteConfig, auth::Authenticate, suite::Suite};
use serde_json::{Value, json};
use test_support::http::{request, send};
use tonic::{Code, Request, Response, metadata::MetadataValue, transport::Channel};

async fn start(data: &std::path::Path) -> Suite {
    Suite::start(SuiteConfig::ephemeral(data), CancellationToken::new())
        .await
        .unwrap()
}

/// A token for `who`, whoever they are (not only the demo users).
fn token(suite: &Suite, who: &Principal) -> String {
    Authenticate::hs256(suite.secrets.jwt_secret.as_bytes()).issue(who, 600)
}

fn demo(user_id: &str) -> Principal {
    gateway::demo::user(user_id).unwrap().principal()
}

fn authed<T>(bearer: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {bearer}")).unwrap(),
    );
    request
}

async fn admin_client(suite: &Suite) -> ArchiveAdminClient<Channel> {
    ArchiveAdminClient::connect(format!("http://{}", suite.endpoints.gateway))
        .await
        .unwrap()
}

/// Makes `boss` the first admin of tenant 20002 in the running suite's
/// authz database, as `authz-svc --bootstrap-admin` would.
async fn other_tenant_admin(suite: &Suite, data: &std::path::Path) -> Principal {
    let url = format!("sqlite://{}", data.join("authz.db").display());
    let mut config = authz_svc::Config::new(url, suite.keys.config("authz-svc"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics_listen = "127.0.0.1:0".parse().unwrap();
    config.bootstrap_admins = vec!["20002:boss:Boss Other".into()];
    let stop = CancellationToken::new();
    let started = authz_svc::start(config, stop.clone()).await.unwrap();
    stop.cancel();
    drop(started);
    Principal::new("20002", "boss", "Boss Other")
}

/// A call of the demo tenant (the seed's first row).
async fn a_call(suite: &Suite, bearer: &str) -> String {
    let mut calls = ArchiveServiceClient::connect(format!("http://{}", suite.endpoints.gateway))
        .await
        .unwrap();
    let found = calls
        .search_call_rows(authed(
            bearer,
            pb::SearchCallRowsRequest {
                page_size: 5,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    found.rows[0].call.as_ref().unwrap().call_id.clone()
}

/// The newest event of `kind` with `request_id`, once the services' outbox
/// relays have delivered it.
async fn audited(
    suite: &Suite,
    bearer: &str,
    kind: pb::AuditEventKind,
    request_id: &str,
) -> pb::AuditEvent {
    let mut calls = ArchiveServiceClient::connect(format!("http://{}", suite.endpoints.gateway))
        .await
        .unwrap();
    for _ in 0..100 {
        let listed = calls
            .list_audit_events(authed(
                bearer,
                pb::ListEventsRequest {
                    kind: kind as i32,
                    request_id: request_id.into(),
                    page_size: 10,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        if let Some(event) = listed.events.into_iter().next() {
            return event;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {kind:?} event with request id {request_id}");
}

fn context(request_id: &str) -> Option<pb::ActionContext> {
    Some(pb::ActionContext {
        request_id: request_id.into(),
        // The gateway says where a change came from, not the client.
        client_address: "203.0.113.9".into(),
        ..Default::default()
    })
}

/// `bearer` sets (`on`) or releases the legal hold of `call_id`.
async fn hold(
    admin: &mut ArchiveAdminClient<Channel>,
    bearer: &str,
    call_id: impl Into<String>,
    on: bool,
    context: Option<pb::ActionContext>,
) -> Result<Response<pb::SetLegalHoldResponse>, tonic::Status> {
    let request = pb::SetLegalHoldRequest {
        call_id: call_id.into(),
        legal_hold: on,
        context,
    };
    admin.set_legal_hold(authed(bearer, request)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_users_settings_and_holds_over_grpc() {
    let data = tempfile::tempdir().unwrap();
    let suite = start(data.path()).await;
    let paal = token(&suite, &demo("paal"));
    let sara = token(&suite, &demo("sara"));
    let mut admin = admin_client(&suite).await;

    // Users: list, create, read, update, delete.
    let listed = admin
        .list_users(authed(&paal, pb::ListUsersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.users.iter().any(|u| u.user_id == "sara"));
    let zed = pb::User {
        user_id: "zed".into(),
        display_name: "Zed Queue".into(),
        agent_name: "Zed Agent".into(),
        permissions: Some(pb::Permissions {
            play_recordings: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = admin
        .create_user(authed(
            &paal,
            pb::CreateUserRequest {
                user: Some(zed.clone()),
                context: context("admin-create-zed"),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.display_name, "Zed Queue");
    let bad = admin
        .create_user(authed(
            &paal,
            pb::CreateUserRequest {
                user: Some(pb::User {
                    user_id: "no spaces".into(),
                    ..zed.clone()
                }),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&bad).as_deref(), Some("user.user_id"));
    let updated = admin
        .update_user(authed(
            &paal,
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    display_name: "Zed Renamed".into(),
                    ..zed.clone()
                }),
                context: context("admin-update-zed"),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "Zed Renamed");
    let read = admin
        .get_user(authed(
            &paal,
            pb::GetUserRequest {
                user_id: "zed".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.display_name, "Zed Renamed");

    // A non-admin is refused everything, and nothing changes.
    let refused = admin
        .list_users(authed(&sara, pb::ListUsersRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let settings = admin
        .get_tenant_settings(authed(&paal, pb::GetTenantSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settings.recording_retention_days, 365);
    assert_eq!(
        settings.reason_actions,
        Some(pb::ReasonActions {
            play: true,
            download: true,
            delete: true
        })
    );
    let shorter = pb::TenantSettings {
        recording_retention_days: 100,
        reason_actions: Some(pb::ReasonActions {
            play: false,
            download: true,
            delete: true,
        }),
        ..settings.clone()
    };
    let refused = admin
        .update_tenant_settings(authed(
            &sara,
            pb::UpdateTenantSettingsRequest {
                settings: Some(shorter.clone()),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let call_id = a_call(&suite, &paal).await;
    let refused = hold(&mut admin, &sara, call_id.clone(), true, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Settings: metadata must outlive recordings, named in the refusal.
    let bad = admin
        .update_tenant_settings(authed(
            &paal,
            pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    metadata_retention_days: 50,
                    ..shorter.clone()
                }),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_field(&bad).as_deref(),
        Some("settings.metadata_retention_days")
    );
    let unchanged = admin
        .get_tenant_settings(authed(&paal, pb::GetTenantSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, settings, "a refused update writes nothing");
    let saved = admin
        .update_tenant_settings(authed(
            &paal,
            pb::UpdateTenantSettingsRequest {
                settings: Some(shorter.clone()),
                context: context("admin-settings-1"),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved, shorter);
    let read = admin
        .get_tenant_settings(authed(&paal, pb::GetTenantSettingsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, shorter);

    // Legal holds: set, listed, released.
    let held = hold(
        &mut admin,
        &paal,
        call_id.clone(),
        true,
        context("admin-hold-1"),
    )
    .await
    .unwrap()
    .into_inner();
    assert!(held.call.unwrap().legal_hold);
    let holds = admin
        .list_legal_holds(authed(&paal, pb::ListLegalHoldsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = holds.calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, [call_id.as_str()]);
    let bad = hold(&mut admin, &paal, "not-a-call", true, None)
        .await
        .unwrap_err();
    assert_eq!(violated_field(&bad).as_deref(), Some("call_id"));

    // Another tenant's admin finds none of this tenant's users or calls.
    let boss = token(&suite, &other_tenant_admin(&suite, data.path()).await);
    let missing = admin
        .get_user(authed(
            &boss,
            pb::GetUserRequest {
                user_id: "zed".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let missing = hold(&mut admin, &boss, call_id.clone(), false, None)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let theirs = admin
        .list_legal_holds(authed(&boss, pb::ListLegalHoldsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.calls.is_empty());

    hold(
        &mut admin,
        &paal,
        call_id.clone(),
        false,
        context("admin-release-1"),
    )
    .await
    .unwrap();
    let holds = admin
        .list_legal_holds(authed(&paal, pb::ListLegalHoldsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(holds.calls.is_empty());
    admin
        .delete_user(authed(
            &paal,
            pb::DeleteUserRequest {
                user_id: "zed".into(),
                context: context("admin-delete-zed"),
            },
        ))
        .await
        .unwrap();
    let gone = admin
        .get_user(authed(
            &paal,
            pb::GetUserRequest {
                user_id: "zed".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    // Each change in the trail, with before and after, from where the
    // gateway saw it.
    use pb::AuditEventKind::{LegalHoldChanged, PermissionChanged, TenantSettingsChanged};
    let event = audited(&suite, &paal, TenantSettingsChanged, "admin-settings-1").await;
    assert!(
        event
            .detail
            .contains("recording_retention_days: 365 -> 100"),
        "{}",
        event.detail
    );
    assert!(
        event
            .detail
            .contains("reason_actions: [play, download, delete] -> [download, delete]"),
        "{}",
        event.detail
    );
    assert_eq!(event.actor_id, "paal");
    assert_ne!(event.client_address, "203.0.113.9");
    let event = audited(&suite, &paal, LegalHoldChanged, "admin-hold-1").await;
    assert_eq!(event.detail, "legal_hold: false -> true");
    assert_eq!(event.call_id, call_id);
    let event = audited(&suite, &paal, LegalHoldChanged, "admin-release-1").await;
    assert_eq!(event.detail, "legal_hold: true -> false");
    let event = audited(&suite, &paal, PermissionChanged, "admin-create-zed").await;
    assert!(
        event.detail.starts_with("created user zed"),
        "{}",
        event.detail
    );
    let event = audited(&suite, &paal, PermissionChanged, "admin-update-zed").await;
    assert!(
        event.detail.contains("\"Zed Queue\" -> \"Zed Renamed\""),
        "{}",
        event.detail
    );
    let event = audited(&suite, &paal, PermissionChanged, "admin-delete-zed").await;
    assert!(
        event.detail.starts_with("deleted user zed"),
        "{}",
        event.detail
    );
    suite.stop().await.unwrap();
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_json_routes_mirror_grpc_and_reason_actions_reach_the_flows() {
    let data = tempfile::tempdir().unwrap();
    let suite = start(data.path()).await;
    let base = format!("http://{}/api/v1", suite.endpoints.gateway_http);
    let paal = format!("Bearer {}", token(&suite, &demo("paal")));
    let sara = format!("Bearer {}", token(&suite, &demo("sara")));
    let rita = format!("Bearer {}", token(&suite, &demo("rita")));
    let as_paal = [("Authorization", paal.as_str())];

    let users = request("GET", &format!("{base}/admin/users"), &as_paal).await;
    assert_eq!(users.status, 200);
    let users = json_of(&users.body);
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["user_id"] == "rita")
    );
    let refused = request(
        "GET",
        &format!("{base}/admin/users"),
        &[("Authorization", &sara)],
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(json_of(&refused.body)["error"]["code"], "PermissionDenied");
    let anonymous = request("GET", &format!("{base}/admin/settings"), &[]).await;
    assert_eq!(anonymous.status, 401);

    let zed = json!({"user": {
        "user_id": "zed", "display_name": "Zed Json", "agent_name": "",
        "permissions": {"play_recordings": true},
    }, "request_id": "json-create-zed"});
    let created = send(
        "POST",
        &format!("{base}/admin/users"),
        &as_paal,
        Some(&zed.to_string()),
    )
    .await;
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(json_of(&created.body)["user"]["display_name"], "Zed Json");
    let again = send(
        "POST",
        &format!("{base}/admin/users"),
        &as_paal,
        Some(&zed.to_string()),
    )
    .await;
    assert_eq!(again.status, 409);
    let unnamed = json!({"user": {"user_id": "zed2", "display_name": ""}});
    let bad = send(
        "POST",
        &format!("{base}/admin/users"),
        &as_paal,
        Some(&unnamed.to_string()),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(json_of(&bad.body)["error"]["field"], "user.display_name");
    let mistyped =
        json!({"user": {"user_id": "zed2", "display_name": "Z", "permissions": {"admin": "yes"}}});
    let bad = send(
        "POST",
        &format!("{base}/admin/users"),
        &as_paal,
        Some(&mistyped.to_string()),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        json_of(&bad.body)["error"]["field"],
        "user.permissions.admin"
    );

    let disabled = json!({"user": {"display_name": "Zed Json", "disabled": true,
        "permissions": {"play_recordings": true}}});
    let updated = send(
        "PUT",
        &format!("{base}/admin/users/zed"),
        &as_paal,
        Some(&disabled.to_string()),
    )
    .await;
    assert_eq!(
        updated.status,
        200,
        "{}",
        String::from_utf8_lossy(&updated.body)
    );
    assert_eq!(json_of(&updated.body)["user"]["user_id"], "zed");

    // Settings: refused naming the field, nothing written; then saved.
    let settings = request("GET", &format!("{base}/admin/settings"), &as_paal).await;
    assert_eq!(settings.status, 200);
    let mut settings = json_of(&settings.body)["settings"].clone();
    assert_eq!(
        settings["reason_actions"],
        json!({"play": true, "download": true, "delete": true})
    );
    assert_eq!(settings["reason_codes"][0]["code"], "QA");
    let mut bad = settings.clone();
    bad["metadata_retention_days"] = json!(10);
    let refused = send(
        "PUT",
        &format!("{base}/admin/settings"),
        &as_paal,
        Some(&json!({ "settings": bad }).to_string()),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        json_of(&refused.body)["error"]["field"],
        "settings.metadata_retention_days"
    );

    // A user who must give reasons: asked for one to play until the admin
    // says play needs none; download still needs one.
    let recording = {
        let found = request(
            "GET",
            &format!("{base}/calls?has_recording=true&page_size=5"),
            &as_paal,
        )
        .await;
        json_of(&found.body)["rows"][0]["recordings"][0]["recording_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let play = format!("{base}/recordings/{recording}/playback");
    let asked = send("POST", &play, &[("Authorization", &rita)], Some("{}")).await;
    assert_eq!(asked.status, 428);
    settings["reason_actions"]["play"] = json!(false);
    let saved = send(
        "PUT",
        &format!("{base}/admin/settings"),
        &as_paal,
        Some(&json!({ "settings": settings, "request_id": "json-settings-1" }).to_string()),
    )
    .await;
    assert_eq!(
        saved.status,
        200,
        "{}",
        String::from_utf8_lossy(&saved.body)
    );
    let session = request(
        "GET",
        &format!("{base}/session"),
        &[("Authorization", &rita)],
    )
    .await;
    assert_eq!(json_of(&session.body)["reason_actions"]["play"], false);
    let played = send("POST", &play, &[("Authorization", &rita)], Some("{}")).await;
    assert_eq!(
        played.status,
        200,
        "{}",
        String::from_utf8_lossy(&played.body)
    );
    let export = json!({ "recording_ids": [recording] }).to_string();
    let asked = send(
        "POST",
        &format!("{base}/exports"),
        &[("Authorization", &rita)],
        Some(&export),
    )
    .await;
    assert_eq!(asked.status, 428);

    // Legal holds.
    let call_id = {
        let found = request("GET", &format!("{base}/calls?page_size=5"), &as_paal).await;
        json_of(&found.body)["rows"][0]["call_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let hold = format!("{base}/admin/calls/{call_id}/legal-hold");
    let refused = send(
        "PUT",
        &hold,
        &[("Authorization", &sara)],
        Some(r#"{"legal_hold": true}"#),
    )
    .await;
    assert_eq!(refused.status, 403);
    let held = send(
        "PUT",
        &hold,
        &as_paal,
        Some(r#"{"legal_hold": true, "reason": "litigation"}"#),
    )
    .await;
    assert_eq!(held.status, 200, "{}", String::from_utf8_lossy(&held.body));
    assert_eq!(json_of(&held.body)["call"]["legal_hold"], true);
    let holds = request("GET", &format!("{base}/admin/legal-holds"), &as_paal).await;
    let holds = json_of(&holds.body);
    assert_eq!(holds["calls"].as_array().unwrap().len(), 1);
    assert_eq!(holds["calls"][0]["call_id"], call_id.as_str());
    assert!(holds["calls"][0]["start"].as_str().unwrap().contains('.'));
    let unknown = send(
        "PUT",
        &format!("{base}/admin/calls/00000000-0000-4000-8000-000000000000/legal-hold"),
        &as_paal,
        Some(r#"{"legal_hold": true}"#),
    )
    .await;
    assert_eq!(unknown.status, 404);

    // Roles: listed with the built-in ones; a refusal names the field.
    let roles = request("GET", &format!("{base}/admin/roles"), &as_paal).await;
    assert_eq!(roles.status, 200);
    assert_eq!(json_of(&roles.body)["roles"][0]["role_id"], "admin");
    assert_eq!(json_of(&roles.body)["roles"][0]["built_in"], true);
    let blank = json!({"role": {"role_id": "qa", "display_name": "QA",
        "permissions": {"play_recordings": true},
        "scopes": {"play": {"queues": [""]}}}});
    let bad = send(
        "POST",
        &format!("{base}/admin/roles"),
        &as_paal,
        Some(&blank.to_string()),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        json_of(&bad.body)["error"]["field"],
        "role.scopes.play.queues[0]"
    );
    let qa = json!({"role": {"role_id": "qa", "display_name": "QA",
        "permissions": {"play_recordings": true},
        "scopes": {"play": {"queues": ["Support"]}}}});
    let created = send(
        "POST",
        &format!("{base}/admin/roles"),
        &as_paal,
        Some(&qa.to_string()),
    )
    .await;
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(
        json_of(&created.body)["role"]["scopes"]["play"]["queues"][0],
        "Support"
    );
    let renamed = json!({"role": {"display_name": "Quality", "permissions": {"play_recordings": true},
        "scopes": {"play": {"queues": ["Support"]}}}});
    let updated = send(
        "PUT",
        &format!("{base}/admin/roles/qa"),
        &as_paal,
        Some(&renamed.to_string()),
    )
    .await;
    assert_eq!(
        updated.status,
        200,
        "{}",
        String::from_utf8_lossy(&updated.body)
    );
    assert_eq!(json_of(&updated.body)["role"]["display_name"], "Quality");
    let deleted = send("DELETE", &format!("{base}/admin/roles/qa"), &as_paal, None).await;
    assert_eq!(deleted.status, 200);

    let deleted = send("DELETE", &format!("{base}/admin/users/zed"), &as_paal, None).await;
    assert_eq!(deleted.status, 200);
    let gone = request("GET", &format!("{base}/admin/users/zed"), &as_paal).await;
    assert_eq!(gone.status, 404);
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_scopes_and_disabled_users_are_administered_with_their_fields_named() {
    let data = tempfile::tempdir().unwrap();
    let suite = start(data.path()).await;
    let paal = token(&suite, &demo("paal"));
    let sara = token(&suite, &demo("sara"));
    let mut admin = admin_client(&suite).await;
    let sales = || pb::Scope {
        queues: vec!["Sales".into()],
        ..Default::default()
    };
    let role = pb::Role {
        role_id: "sales-sup".into(),
        display_name: "Sales supervisor".into(),
        permissions: Some(pb::Permissions {
            play_recordings: true,
            ..Default::default()
        }),
        scopes: Some(pb::Scopes {
            search: Some(sales()),
            play: Some(sales()),
            ..Default::default()
        }),
        ..Default::default()
    };

    let refused = admin
        .create_role(authed(
            &sara,
            pb::CreateRoleRequest {
                role: Some(role.clone()),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let bad = admin
        .create_role(authed(
            &paal,
            pb::CreateRoleRequest {
                role: Some(pb::Role {
                    scopes: Some(pb::Scopes {
                        play: Some(pb::Scope {
                            queues: vec![" ".into()],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..role.clone()
                }),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_field(&bad).as_deref(),
        Some("role.scopes.play.queues[0]")
    );
    let created = admin
        .create_role(authed(
            &paal,
            pb::CreateRoleRequest {
                role: Some(role.clone()),
                context: context("admin-role-create"),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!created.built_in);
    let roles = admin
        .list_roles(authed(&paal, pb::ListRolesRequest {}))
        .await
        .unwrap()
        .into_inner()
        .roles;
    let ids: Vec<&str> = roles.iter().map(|r| r.role_id.as_str()).collect();
    assert_eq!(
        ids,
        ["admin", "supervisor", "agent", "auditor", "sales-sup"],
        "built-in roles first"
    );

    // A user with the role: their effective rights and scopes are the role's.
    let lena = pb::User {
        user_id: "lena".into(),
        display_name: "Lena Sales".into(),
        roles: vec!["sales-sup".into()],
        permissions: Some(pb::Permissions::default()),
        scopes: Some(pb::Scopes {
            search: Some(sales()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let bad = admin
        .create_user(authed(
            &paal,
            pb::CreateUserRequest {
                user: Some(pb::User {
                    permissions: Some(pb::Permissions {
                        play_recordings: true,
                        ..Default::default()
                    }),
                    scopes: Some(pb::Scopes {
                        play: Some(pb::Scope::default()),
                        ..Default::default()
                    }),
                    ..lena.clone()
                }),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&bad).as_deref(), Some("user.scopes.play"));
    let created = admin
        .create_user(authed(
            &paal,
            pb::CreateUserRequest {
                user: Some(lena.clone()),
                context: context("admin-create-lena"),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(created.effective_permissions.unwrap().play_recordings);
    let play = created.effective_scopes.unwrap().play.unwrap();
    assert_eq!(play.queues, ["Sales"]);

    // The role cannot go while lena holds it.
    let held = admin
        .delete_role(authed(
            &paal,
            pb::DeleteRoleRequest {
                role_id: "sales-sup".into(),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(held.code(), Code::FailedPrecondition);
    assert!(held.message().contains("lena"), "{}", held.message());

    // Disabled: lena keeps her record and is refused everything.
    let lena_token = token(&suite, &Principal::new("10009", "lena", "Lena Sales"));
    let mut calls = ArchiveServiceClient::connect(format!("http://{}", suite.endpoints.gateway))
        .await
        .unwrap();
    let search = || {
        authed(
            &lena_token,
            pb::SearchCallRowsRequest {
                page_size: 5,
                ..Default::default()
            },
        )
    };
    calls.search_call_rows(search()).await.unwrap();
    admin
        .update_user(authed(
            &paal,
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    disabled: true,
                    ..lena.clone()
                }),
                context: context("admin-disable-lena"),
            },
        ))
        .await
        .unwrap();
    let refused = calls.search_call_rows(search()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let kept = admin
        .get_user(authed(
            &paal,
            pb::GetUserRequest {
                user_id: "lena".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(kept.disabled);

    // Then she goes, and so can the role.
    admin
        .delete_user(authed(
            &paal,
            pb::DeleteUserRequest {
                user_id: "lena".into(),
                context: None,
            },
        ))
        .await
        .unwrap();
    admin
        .delete_role(authed(
            &paal,
            pb::DeleteRoleRequest {
                role_id: "sales-sup".into(),
                context: context("admin-role-delete"),
            },
        ))
        .await
        .unwrap();

    use pb::AuditEventKind::PermissionChanged;
    let event = audited(&suite, &paal, PermissionChanged, "admin-role-create").await;
    assert!(
        event
            .detail
            .starts_with("created role sales-sup (Sales supervisor): none -> "),
        "{}",
        event.detail
    );
    let event = audited(&suite, &paal, PermissionChanged, "admin-disable-lena").await;
    assert!(event.detail.contains("lena"), "{}", event.detail);
    let event = audited(&suite, &paal, PermissionChanged, "admin-role-delete").await;
    assert!(event.detail.ends_with("-> none"), "{}", event.detail);
    suite.stop().await.unwrap();
}

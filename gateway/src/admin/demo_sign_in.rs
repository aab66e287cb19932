//! Embedded mode's sign-in picker, for the users an admin created: besides
//! the static demo users (`crate::web`), `/api/v1/demo/tenant-users` lists
//! the demo tenant's other users from authz-svc with a fresh token each, so
//! a user made on the admin screen can be tried at once. Served only where
//! the demo sign-in is (embedded mode); the list is read as the demo admin,
//! the one user embedded mode always has.

use archive_proto::v1 as pb;
use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use crate::{
    api::ApiError,
    auth::Authenticate,
    demo,
    upstream::{AUTHZ, Upstreams},
};

#[derive(Clone)]
struct Picker {
    upstreams: Upstreams,
    auth: Authenticate,
}

pub(crate) fn router(upstreams: Upstreams, auth: Authenticate) -> Router {
    Router::new()
        .route("/api/v1/demo/tenant-users", get(tenant_users))
        .with_state(Picker { upstreams, auth })
}

/// What the card says a user may do, from their effective rights.
fn rights(p: &pb::Permissions) -> String {
    let named = [
        (p.play_recordings, "play"),
        (p.download_recordings, "download"),
        (p.delete_recordings, "delete"),
        (p.view_audit_log, "audit log"),
        (p.admin, "admin"),
        (p.require_reason, "must give reasons"),
    ];
    let on: Vec<&str> = named
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    if on.is_empty() {
        "created by an admin: search only".into()
    } else {
        format!("created by an admin: {}", on.join(", "))
    }
}

async fn tenant_users(State(picker): State<Picker>) -> Result<Json<Value>, ApiError> {
    let admin = demo::user(demo::ADMIN).expect("admin is a demo user");
    let caller = Upstreams::caller(&admin.principal());
    let mut users = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListUsersRequest {
            page_size: 100,
            page_token,
        };
        let answer = picker.upstreams.authz.list_users(&caller, request);
        let page = picker.upstreams.call(&AUTHZ, "ListUsers", answer).await?;
        users.extend(page.users);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let listed: Vec<Value> = users
        .into_iter()
        .filter(|u| demo::user(&u.user_id).is_none() && !u.disabled)
        .map(|u| {
            let principal =
                archive_common::Principal::new(demo::TENANT, &u.user_id, &u.display_name);
            let granted = u
                .effective_permissions
                .or(u.permissions)
                .unwrap_or_default();
            json!({
                "user_id": u.user_id,
                "display_name": u.display_name,
                "role": rights(&granted),
                "token": picker.auth.issue(&principal, 12 * 3600),
            })
        })
        .collect();
    Ok(Json(json!({ "users": listed })))
}

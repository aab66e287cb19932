//! The admin JSON routes (`/api/v1/admin/…`), for the page's admin screens
//! and for scripts: the same [`Admin`] methods as gRPC, with the API's
//! bearer token, error shape and status mapping (`crate::api`). A change's
//! body carries its resource under the contract's name (`user`, `role`,
//! `settings`), so a refused field is named as gRPC names it
//! (`settings.metadata_retention_days`), plus the action's optional
//! `request_id`, `reason`, `reason_code` and `case_id`.

use archive_proto::v1 as pb;
use axum::{
    Json, Router,
    extract::Path,
    routing::{get, put},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Admin,
    json::{HeldCall, Role, TenantSettings, User},
};
use crate::api::{Api, ApiResult, ApiState, JsonBody, Query};

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/admin/users", get(list_users).post(create_user))
        .route(
            "/api/v1/admin/users/{user_id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/api/v1/admin/roles", get(list_roles).post(create_role))
        .route(
            "/api/v1/admin/roles/{role_id}",
            put(update_role).delete(delete_role),
        )
        .route(
            "/api/v1/admin/settings",
            get(get_settings).put(update_settings),
        )
        .route("/api/v1/admin/legal-holds", get(list_holds))
        .route("/api/v1/admin/calls/{call_id}/legal-hold", put(set_hold))
        .with_state(state)
}

fn admin(api: &Api) -> Admin {
    Admin::new(api.state.gateway.clone())
}

/// What an admin's action says besides its resource (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Action {
    request_id: String,
    reason: String,
    reason_code: String,
    case_id: String,
}

impl Action {
    fn context(self) -> Option<pb::ActionContext> {
        Some(pb::ActionContext {
            request_id: self.request_id,
            reason: self.reason,
            reason_code: self.reason_code,
            case_id: self.case_id,
            ..Default::default()
        })
    }
}

#[derive(Debug, Deserialize)]
struct UserBody {
    user: User,
    #[serde(flatten)]
    action: Action,
}

#[derive(Debug, Deserialize)]
struct RoleBody {
    role: Role,
    #[serde(flatten)]
    action: Action,
}

#[derive(Debug, Deserialize)]
struct SettingsBody {
    settings: TenantSettings,
    #[serde(flatten)]
    action: Action,
}

#[derive(Debug, Deserialize)]
struct HoldBody {
    legal_hold: bool,
    #[serde(flatten)]
    action: Action,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    page_size: Option<i32>,
    page_token: Option<String>,
}

async fn list_users(api: Api, Query(q): Query<PageQuery>) -> ApiResult {
    let request = pb::ListUsersRequest {
        page_size: q.page_size.unwrap_or_default(),
        page_token: q.page_token.unwrap_or_default(),
    };
    let listed = admin(&api).list_users(&api.principal()?, request).await?;
    let users: Vec<User> = listed.users.into_iter().map(User::from).collect();
    Ok(Json(
        json!({ "users": users, "next_page_token": listed.next_page_token }),
    ))
}

async fn get_user(api: Api, Path(user_id): Path<String>) -> ApiResult {
    let request = pb::GetUserRequest { user_id };
    let user = admin(&api).get_user(&api.principal()?, request).await?;
    Ok(Json(json!({ "user": User::from(user) })))
}

async fn create_user(api: Api, JsonBody(body): JsonBody<UserBody>) -> ApiResult {
    let actor = api.actor(&body.action.request_id)?;
    let request = pb::CreateUserRequest {
        user: Some(body.user.into()),
        context: body.action.context(),
    };
    let user = admin(&api).create_user(&actor, request).await?;
    Ok(Json(json!({ "user": User::from(user) })))
}

async fn update_user(
    api: Api,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult {
    let actor = api.actor(&body.action.request_id)?;
    let request = pb::UpdateUserRequest {
        user: Some(body.user.with_id(user_id).into()),
        context: body.action.context(),
    };
    let user = admin(&api).update_user(&actor, request).await?;
    Ok(Json(json!({ "user": User::from(user) })))
}

async fn delete_user(
    api: Api,
    Path(user_id): Path<String>,
    body: Option<JsonBody<Action>>,
) -> ApiResult {
    let action = body.map(|b| b.0).unwrap_or_default();
    let actor = api.actor(&action.request_id)?;
    let request = pb::DeleteUserRequest {
        user_id,
        context: action.context(),
    };
    admin(&api).delete_user(&actor, request).await?;
    Ok(Json(json!({})))
}

async fn list_roles(api: Api) -> ApiResult {
    let request = pb::ListRolesRequest {};
    let listed = admin(&api).list_roles(&api.principal()?, request).await?;
    let roles: Vec<Role> = listed.roles.into_iter().map(Role::from).collect();
    Ok(Json(json!({ "roles": roles })))
}

async fn create_role(api: Api, JsonBody(body): JsonBody<RoleBody>) -> ApiResult {
    let actor = api.actor(&body.action.request_id)?;
    let request = pb::CreateRoleRequest {
        role: Some(body.role.into()),
        context: body.action.context(),
    };
    let role = admin(&api).create_role(&actor, request).await?;
    Ok(Json(json!({ "role": Role::from(role) })))
}

async fn update_role(
    api: Api,
    Path(role_id): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult {
    let actor = api.actor(&body.action.request_id)?;
    let request = pb::UpdateRoleRequest {
        role: Some(body.role.with_id(role_id).into()),
        context: body.action.context(),
    };
    let role = admin(&api).update_role(&actor, request).await?;
    Ok(Json(json!({ "role": Role::from(role) })))
}

async fn delete_role(
    api: Api,
    Path(role_id): Path<String>,
    body: Option<JsonBody<Action>>,
) -> ApiResult {
    let action = body.map(|b| b.0).unwrap_or_default();
    let actor = api.actor(&action.request_id)?;
    let request = pb::DeleteRoleRequest {
        role_id,
        context: action.context(),
    };
    admin(&api).delete_role(&actor, request).await?;
    Ok(Json(json!({})))
}

async fn get_settings(api: Api) -> ApiResult {
    let request = pb::GetTenantSettingsRequest {};
    let who = api.principal()?;
    let settings = admin(&api).get_tenant_settings(&who, request).await?;
    Ok(Json(json!({ "settings": TenantSettings::from(settings) })))
}

async fn update_settings(api: Api, JsonBody(body): JsonBody<SettingsBody>) -> ApiResult {
    let actor = api.actor(&body.action.request_id)?;
    let request = pb::UpdateTenantSettingsRequest {
        settings: Some(body.settings.into()),
        context: body.action.context(),
    };
    let saved = admin(&api).update_tenant_settings(&actor, request).await?;
    Ok(Json(json!({ "settings": TenantSettings::from(saved) })))
}

async fn list_holds(api: Api, Query(q): Query<PageQuery>) -> ApiResult {
    let who = api.principal()?;
    let request = pb::ListLegalHoldsRequest {
        page_size: q.page_size.unwrap_or_default(),
        page_token: q.page_token.unwrap_or_default(),
    };
    let admin = admin(&api);
    let held = admin.list_legal_holds(&who, request).await?;
    let tz = api.gateway().upstreams.time_zone(&who).await?;
    let calls: Vec<HeldCall> = held
        .calls
        .into_iter()
        .map(|c| HeldCall::of(c, tz))
        .collect();
    Ok(Json(
        json!({ "calls": calls, "next_page_token": held.next_page_token }),
    ))
}

async fn set_hold(
    api: Api,
    Path(call_id): Path<String>,
    JsonBody(body): JsonBody<HoldBody>,
) -> ApiResult {
    let actor = api.actor(&body.action.request_id)?;
    let who = actor.principal.clone();
    let request = pb::SetLegalHoldRequest {
        call_id,
        legal_hold: body.legal_hold,
        context: body.action.context(),
    };
    let set = admin(&api).set_legal_hold(&actor, request).await?;
    let tz = api.gateway().upstreams.time_zone(&who).await?;
    let call = set.call.map(|c| HeldCall::of(c, tz));
    Ok(Json(json!({ "call": call })))
}

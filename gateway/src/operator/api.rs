//! `/api/v1/operator/…`: the operator's JSON API, authenticated with the
//! operator credential (`Authorization: Bearer <operator token>`) and
//! answered by the same [`OperatorProxy`] calls as gRPC; errors are the
//! API's usual JSON errors (403 "tenant 20002 is suspended" and the like).
//!
//! - `GET  /api/v1/operator/tenants[?show_removed=true&page_size=&page_token=]`
//! - `POST /api/v1/operator/tenants` `{"tenant_id", "display_name", "admin": {"user_id", "display_name"}}`
//! - `GET  /api/v1/operator/tenants/{id}`
//! - `POST /api/v1/operator/tenants/{id}/suspend` (`/resume`, `/remove`), body `{"reason"}` optional
//! - `GET  /api/v1/operator/tenants/{id}/users`, `POST` the same with a user

use archive_proto::v1 as pb;
use axum::{
    Json, Router,
    extract::{Path, Request, State},
    http::header,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{OperatorCredential, OperatorProxy};
use crate::api::{ApiError, Incoming, JsonBody, Query, permissions_json};

#[derive(Clone)]
pub struct OperatorApi {
    pub proxy: OperatorProxy,
    pub credential: OperatorCredential,
}

type ApiResult = Result<Json<Value>, ApiError>;

pub fn router(state: OperatorApi) -> Router {
    Router::new()
        .route(
            "/api/v1/operator/tenants",
            get(list_tenants).post(create_tenant),
        )
        .route("/api/v1/operator/tenants/{tenant_id}", get(get_tenant))
        // suspend, resume or remove
        .route(
            "/api/v1/operator/tenants/{tenant_id}/{move}",
            post(set_state),
        )
        .route(
            "/api/v1/operator/tenants/{tenant_id}/users",
            get(list_users).post(create_user),
        )
        // The credential before anything of the request is read.
        .route_layer(middleware::from_fn_with_state(state.clone(), admit))
        .with_state(state)
}

/// Lets a request through only with the operator credential.
async fn admit(State(api): State<OperatorApi>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match api.credential.check(presented) {
        Ok(()) => next.run(request).await,
        Err(status) => ApiError::from(status).into_response(),
    }
}

impl OperatorApi {
    /// What the trail records with the operator's change: the request's
    /// idempotency key, the client's address and user agent, the reason.
    fn context(&self, incoming: &Incoming, reason: String) -> pb::ActionContext {
        pb::ActionContext {
            request_id: incoming.header("idempotency-key").to_owned(),
            reason,
            client_address: incoming.client_address(self.proxy.proxies()),
            user_agent: incoming.header("user-agent").chars().take(300).collect(),
            ..Default::default()
        }
    }
}

fn time(ts: Option<prost_types::Timestamp>) -> Value {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

fn state_name(state: i32) -> String {
    let name = pb::TenantState::try_from(state)
        .unwrap_or_default()
        .as_str_name();
    name.trim_start_matches("TENANT_STATE_")
        .to_ascii_lowercase()
}

fn tenant_json(t: pb::Tenant) -> Value {
    json!({
        "tenant_id": t.tenant_id,
        "display_name": t.display_name,
        "state": state_name(t.state),
        "create_time": time(t.create_time),
        "update_time": time(t.update_time),
    })
}

fn user_json(u: pb::User) -> Value {
    json!({
        "user_id": u.user_id,
        "display_name": u.display_name,
        "agent_name": u.agent_name,
        "roles": u.roles,
        "permissions": permissions_json(&u.permissions.unwrap_or_default()),
        "create_time": time(u.create_time),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    page_size: Option<i32>,
    page_token: Option<String>,
    show_removed: bool,
}

#[derive(Debug, Deserialize)]
struct UserBody {
    user_id: String,
    display_name: String,
    #[serde(default)]
    agent_name: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    reason: String,
}

impl UserBody {
    fn user(self) -> (pb::User, String) {
        let user = pb::User {
            user_id: self.user_id,
            display_name: self.display_name,
            agent_name: self.agent_name,
            roles: self.roles,
            ..Default::default()
        };
        (user, self.reason)
    }
}

#[derive(Debug, Deserialize)]
struct TenantBody {
    tenant_id: String,
    display_name: String,
    admin: UserBody,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonBody {
    reason: String,
}

async fn list_tenants(State(api): State<OperatorApi>, Query(q): Query<PageQuery>) -> ApiResult {
    let page = api
        .proxy
        .list_tenants(pb::ListTenantsRequest {
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
            show_removed: q.show_removed,
        })
        .await?;
    Ok(Json(json!({
        "tenants": page.tenants.into_iter().map(tenant_json).collect::<Vec<_>>(),
        "next_page_token": page.next_page_token,
    })))
}

async fn create_tenant(
    State(api): State<OperatorApi>,
    incoming: Incoming,
    JsonBody(body): JsonBody<TenantBody>,
) -> ApiResult {
    let proxy = &api.proxy;
    let (admin, _) = body.admin.user();
    let created = proxy
        .create_tenant(pb::CreateTenantRequest {
            tenant: Some(pb::Tenant {
                tenant_id: body.tenant_id,
                display_name: body.display_name,
                ..Default::default()
            }),
            admin: Some(admin),
            context: Some(api.context(&incoming, body.reason)),
        })
        .await?;
    Ok(Json(tenant_json(created)))
}

async fn get_tenant(State(api): State<OperatorApi>, Path(tenant_id): Path<String>) -> ApiResult {
    let tenant = api
        .proxy
        .get_tenant(pb::GetTenantRequest { tenant_id })
        .await?;
    Ok(Json(tenant_json(tenant)))
}

/// `suspend`, `resume` or `remove`.
async fn set_state(
    State(api): State<OperatorApi>,
    incoming: Incoming,
    Path((tenant_id, to)): Path<(String, String)>,
    body: Option<JsonBody<ReasonBody>>,
) -> ApiResult {
    let proxy = &api.proxy;
    let context = Some(api.context(&incoming, body.map(|b| b.0.reason).unwrap_or_default()));
    let tenant = match to.as_str() {
        "suspend" => {
            let request = pb::SuspendTenantRequest { tenant_id, context };
            proxy.suspend_tenant(request).await?
        }
        "resume" => {
            let request = pb::ResumeTenantRequest { tenant_id, context };
            proxy.resume_tenant(request).await?
        }
        "remove" => {
            let request = pb::RemoveTenantRequest { tenant_id, context };
            proxy.remove_tenant(request).await?
        }
        _ => return Err(tonic::Status::not_found(format!("no operator action {to:?}")).into()),
    };
    Ok(Json(tenant_json(tenant)))
}

async fn list_users(
    State(api): State<OperatorApi>,
    Path(tenant_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult {
    let page = api
        .proxy
        .list_tenant_users(pb::ListTenantUsersRequest {
            tenant_id,
            page_size: q.page_size.unwrap_or_default(),
            page_token: q.page_token.unwrap_or_default(),
        })
        .await?;
    Ok(Json(json!({
        "users": page.users.into_iter().map(user_json).collect::<Vec<_>>(),
        "next_page_token": page.next_page_token,
    })))
}

async fn create_user(
    State(api): State<OperatorApi>,
    incoming: Incoming,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult {
    let proxy = &api.proxy;
    let (user, reason) = body.user();
    let created = proxy
        .create_tenant_user(pb::CreateTenantUserRequest {
            tenant_id,
            user: Some(user),
            context: Some(api.context(&incoming, reason)),
        })
        .await?;
    Ok(Json(user_json(created)))
}

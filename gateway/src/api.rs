//! The HTTP/JSON API (`/api/v1/…`) for the web page and for scripts. Each
//! route verifies the bearer token and calls the same [`Gateway`] methods as
//! gRPC, so both surfaces share every rule; gRPC statuses map to HTTP ones
//! (INVALID_ARGUMENT 400 naming the field, UNAUTHENTICATED 401,
//! PERMISSION_DENIED 403, NOT_FOUND 404, reason required 428, other failed
//! preconditions 409, UNAVAILABLE 503 with `Retry-After`, DEADLINE_EXCEEDED
//! 504).

use std::sync::Arc;

use archive_common::{
    FieldViolation, Principal,
    convert::timestamp,
    error::{is_reason_required, retry_after, violated_field},
};
use archive_proto::v1 as pb;
use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequest, Path, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tonic::{Code, Status};

use crate::{
    Gateway,
    auth::Authenticate,
    flows::Actor,
    origin::TrustedProxies,
    rows::{ms, time},
};

#[derive(Clone)]
pub struct ApiState {
    pub gateway: Arc<Gateway>,
    pub auth: Authenticate,
    /// Whose `X-Forwarded-For` is believed for the client's address.
    pub proxies: TrustedProxies,
}

/// What a handler needs of the HTTP request besides its body: the headers
/// (bearer token, user agent, idempotency key, `X-Forwarded-For`) and the
/// peer's address when the server recorded it.
pub struct Incoming {
    headers: HeaderMap,
    peer: Option<SocketAddr>,
}

impl Incoming {
    /// The client's address: the peer, or the first untrusted
    /// `X-Forwarded-For` hop.
    /// A header's value as text; empty when absent or not text.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub(crate) fn client_address(&self, proxies: &TrustedProxies) -> String {
        let forwarded = self.headers.get_all("x-forwarded-for").iter();
        proxies.client_address(self.peer, forwarded.filter_map(|v| v.to_str().ok()))
    }

    /// Who acts in a request the HTTP side serves itself (a download):
    /// `principal` (from the link), from where this request came, at `at`.
    pub(crate) fn actor(
        &self,
        proxies: &TrustedProxies,
        principal: archive_common::Principal,
        at: DateTime<Utc>,
    ) -> crate::flows::Actor {
        let mut user_agents = self.headers.get_all("user-agent").iter();
        let user_agent = user_agents
            .find_map(|v| v.to_str().ok())
            .unwrap_or_default();
        crate::flows::Actor {
            principal,
            client_address: self.client_address(proxies),
            user_agent: user_agent.chars().take(300).collect(),
            request_id: String::new(),
            at,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Incoming {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            headers: parts.headers.clone(),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        })
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/session", get(session))
        .route("/api/v1/calls", get(search))
        .route("/api/v1/calls/{call_id}", get(call))
        .route("/api/v1/my/calls", get(my_calls))
        .route("/api/v1/recordings/{recording_id}/playback", post(playback))
        .route("/api/v1/playback/renew", post(renew_playback))
        .route("/api/v1/exports", post(export))
        .route("/api/v1/recordings/delete", post(delete))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/audit/checkpoint", get(audit_checkpoint))
        .route("/api/v1/audit/export", get(audit_export))
        .route("/api/v1/audit/verify", get(audit_verify))
        .with_state(state)
}

/// A failed call, as JSON: `{"error": {"code", "message", "field"?, "reason_required"?}}`.
pub struct ApiError(Status);

impl From<Status> for ApiError {
    fn from(s: Status) -> Self {
        Self(s)
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        Self(e.into())
    }
}

impl From<FieldViolation> for ApiError {
    fn from(v: FieldViolation) -> Self {
        Self(v.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let s = self.0;
        let reason_required = is_reason_required(&s);
        let status = match s.code() {
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::FailedPrecondition if reason_required => StatusCode::PRECONDITION_REQUIRED,
            Code::FailedPrecondition => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut error = json!({"code": format!("{:?}", s.code()), "message": s.message()});
        if let Some(field) = violated_field(&s) {
            error["field"] = json!(field);
        }
        if reason_required {
            error["reason_required"] = json!(true);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if let Some(header) = retry_after_header(&s) {
            response.headers_mut().insert(header::RETRY_AFTER, header);
        }
        response
    }
}

/// axum's `Query`, refusing a query string it cannot read as the API's
/// other errors are refused: 400 `{"error": …}` naming the field.
pub(crate) struct Query<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|r| refused(&r.body_text()))
    }
}

/// axum's `Json` request body, refused like [`Query`].
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        <Json<T> as FromRequest<S>>::from_request(request, state)
            .await
            .map(|j| Self(j.0))
            .map_err(|r| refused(&r.body_text()))
    }
}

/// A body that may be left out (no `Content-Type`): `Option<JsonBody<T>>`.
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        <Json<T> as OptionalFromRequest<S>>::from_request(request, state)
            .await
            .map(|j| j.map(|j| Self(j.0)))
            .map_err(|r| refused(&r.body_text()))
    }
}

/// INVALID_ARGUMENT for axum's words on a query string or body, naming the
/// field when they do: `<what failed>: <field path>: <why>` (serde's path),
/// or ``missing field `name` `` at the top.
fn refused(text: &str) -> ApiError {
    let why = text.split_once(": ").map_or(text, |(_, why)| why);
    let path = why.split_once(": ").map(|(path, _)| path).filter(|path| {
        path.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
    });
    let named = || why.split('`').nth(1).filter(|_| why.contains(" field `"));
    match path.or_else(named) {
        Some(field) => FieldViolation::new(field, text).into(),
        None => Status::invalid_argument(text).into(),
    }
}

/// `Retry-After` (whole seconds, rounded up) for a status that says when to
/// retry: UNAVAILABLE always does (see `archive_common::error::retry_after`).
pub fn retry_after_header(status: &Status) -> Option<HeaderValue> {
    let wait = retry_after(status)?;
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(HeaderValue::from(secs.max(1)))
}

pub(crate) type ApiResult = Result<Json<Value>, ApiError>;

/// What every handler starts from: the state and the request's [`Incoming`].
pub(crate) struct Api {
    pub(crate) state: ApiState,
    incoming: Incoming,
}

impl FromRequestParts<ApiState> for Api {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let incoming = Incoming::from_request_parts(parts, state).await?;
        let state = state.clone();
        Ok(Self { state, incoming })
    }
}

impl Api {
    pub(crate) fn gateway(&self) -> &Gateway {
        &self.state.gateway
    }

    /// The user the bearer token names.
    pub(crate) fn principal(&self) -> Result<Principal, ApiError> {
        let headers = &self.incoming.headers;
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
        Ok(self.state.auth.verify_bearer(bearer)?)
    }

    /// Who acts: the user, the client's address ([`Incoming::client_address`]),
    /// the user agent and the idempotency key — `request_id` from the body,
    /// else `Idempotency-Key`, else `X-Request-Id`.
    pub(crate) fn actor(&self, request_id: &str) -> Result<Actor, ApiError> {
        let headers = &self.incoming.headers;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let request_id = Some(request_id).filter(|id| !id.is_empty());
        let request_id = request_id
            .or(header("idempotency-key"))
            .or(header("x-request-id"));
        Ok(Actor::new(
            self.principal()?,
            self.incoming.client_address(&self.state.proxies),
            header("user-agent").unwrap_or_default(),
            request_id.unwrap_or_default(),
            self.gateway().clock.now(),
        )?)
    }
}

fn verdict(v: i32) -> &'static str {
    match pb::Verdict::try_from(v).unwrap_or_default() {
        pb::Verdict::Allow => "allow",
        pb::Verdict::ReasonRequired => "reason_required",
        _ => "deny",
    }
}

/// An enum value's name in the contract, without its type's prefix, in
/// lower case: `PLAY_STATE_NOT_AVAILABLE` → `not_available`.
fn snake_name(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_lowercase()
}

fn play_state(v: i32) -> String {
    let state = pb::PlayState::try_from(v).unwrap_or_default();
    snake_name(state.as_str_name(), "PLAY_STATE_")
}

fn recording_json(r: &pb::RecordingRow) -> Value {
    json!({
        "recording_id": r.recording_id,
        "nr": r.nr,
        "play_state": play_state(r.play_state),
        "start": r.start,
        "finish": r.finish,
        "segments": r.segments.iter().map(|s| json!({"start": s.start, "finish": s.finish, "queue": s.queue, "agent": s.agent})).collect::<Vec<_>>(),
        "deletion_text": r.deletion_text,
        "play": verdict(r.play),
        "download": verdict(r.download),
        "delete": verdict(r.delete),
    })
}

fn row_json(row: &pb::CallRow) -> Value {
    let call = row.call.clone().unwrap_or_default();
    json!({
        "call_id": call.call_id,
        "start": row.start,
        "access_point": row.access_point,
        "recording_time": row.recording_time,
        "speak_time": row.speak_time,
        "callers_number": row.callers_number,
        "time_before_answer": row.time_before_answer,
        "agents": row.agents,
        "deletion_text": row.deletion_text,
        "recording_tab_enabled": row.recording_tab_enabled,
        "recordings": row.recordings.iter().map(recording_json).collect::<Vec<_>>(),
        "raw": {
            "session_id": call.session_id,
            "start_time": time(call.start_time.as_ref()),
            "access_point_number": call.access_point.as_ref().map(|a| a.number.clone()),
            "access_point_name": call.access_point.as_ref().map(|a| a.name.clone()),
            "caller_number": call.caller_number,
            "queues": call.queues,
            "agents": call.agents,
            "time_before_answer_ms": ms(call.time_before_answer.as_ref()),
            "speak_time_ms": ms(call.speak_time.as_ref()),
            "recording_time_ms": ms(call.recording_time.as_ref()),
        },
    })
}

fn rows_json(response: pb::SearchCallRowsResponse) -> Value {
    json!({
        "rows": response.rows.iter().map(row_json).collect::<Vec<_>>(),
        "next_page_token": response.next_page_token,
    })
}

async fn session(api: Api) -> ApiResult {
    let who = api.principal()?;
    let s = api.gateway().get_session(&who).await?;
    let asks = s.reason_actions.unwrap_or_default();
    Ok(Json(json!({
        "customer": s.customer,
        "user_id": s.user_id,
        "display_name": s.display_name,
        "time_zone": s.time_zone,
        "permissions": permissions_json(&s.permissions.unwrap_or_default()),
        "reason_actions": {"play": asks.play, "download": asks.download, "delete": asks.delete},
        "reason_codes": s.reason_codes.iter().map(|c| json!({"code": c.code, "label": c.label})).collect::<Vec<_>>(),
        "roles": s.roles,
        "agent_name": s.agent_name,
        "access": access(s.scopes.unwrap_or_default()),
    })))
}

/// Each granted right and where it reaches, in words, for the session card.
fn access(scopes: pb::Scopes) -> Vec<serde_json::Value> {
    use authz_svc::scope::{Right, describe};
    Right::ALL
        .into_iter()
        .filter_map(|right| {
            let scope = right.scope_in(&scopes)?;
            Some(json!({"right": right.field(), "scope": describe(scope)}))
        })
        .collect()
}

/// A user's rights as the API shows them.
pub(crate) fn permissions_json(p: &pb::Permissions) -> Value {
    json!({
        "play_recordings": p.play_recordings,
        "download_recordings": p.download_recordings,
        "delete_recordings": p.delete_recordings,
        "require_reason": p.require_reason,
        "view_audit_log": p.view_audit_log,
        "admin": p.admin,
    })
}

/// Search parameters as query-string fields; times are RFC 3339.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchQuery {
    from: Option<String>,
    to: Option<String>,
    access_point: Option<String>,
    caller_number: Option<String>,
    partial: bool,
    agent: Option<String>,
    queue: Option<String>,
    has_recording: bool,
    include_deleted: bool,
    /// `newest` (default) or `oldest`.
    order: Option<String>,
    page_size: Option<i32>,
    page_token: Option<String>,
}

fn rfc3339(
    value: &Option<String>,
    field: &str,
) -> Result<Option<prost_types::Timestamp>, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| timestamp(t.with_timezone(&Utc)))
                .map_err(|_| FieldViolation::new(field, "must be an RFC 3339 time").into())
        })
        .transpose()
}

async fn search(api: Api, Query(q): Query<SearchQuery>) -> ApiResult {
    let order = match q.order.as_deref() {
        None | Some("") | Some("newest") => pb::SortOrder::StartTimeDesc as i32,
        Some("oldest") => pb::SortOrder::StartTimeAsc as i32,
        Some(_) => {
            return Err(FieldViolation::new("order", "must be newest or oldest").into());
        }
    };
    let filter = pb::CallFilter {
        start_time_from: rfc3339(&q.from, "filter.start_time_from")?,
        start_time_to: rfc3339(&q.to, "filter.start_time_to")?,
        access_point_number: q.access_point.unwrap_or_default(),
        caller_number: q.caller_number.unwrap_or_default(),
        caller_number_partial: q.partial,
        agent: q.agent.unwrap_or_default(),
        queue: q.queue.unwrap_or_default(),
        has_recording: q.has_recording,
        include_deleted: q.include_deleted,
        ..Default::default()
    };
    let request = pb::SearchCallRowsRequest {
        filter: Some(filter),
        order,
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let rows = api
        .gateway()
        .search_call_rows(&api.actor("")?, request)
        .await?;
    Ok(Json(rows_json(rows)))
}

async fn call(api: Api, Path(call_id): Path<String>) -> ApiResult {
    let request = pb::GetCallRowRequest { call_id };
    let row = api
        .gateway()
        .get_call_row(&api.principal()?, request)
        .await?
        .row;
    Ok(Json(row_json(&row.unwrap_or_default())))
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    page_size: Option<i32>,
    page_token: Option<String>,
}

async fn my_calls(api: Api, Query(q): Query<PageQuery>) -> ApiResult {
    let request = pb::ListMyCallRowsRequest {
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
    };
    let rows = api
        .gateway()
        .list_my_call_rows(&api.actor("")?, request)
        .await?;
    Ok(Json(rows_json(rows)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonBody {
    reason: String,
    reason_code: String,
    case_id: String,
    request_id: String,
}

async fn playback(
    api: Api,
    Path(recording_id): Path<String>,
    body: Option<JsonBody<ReasonBody>>,
) -> ApiResult {
    let body = body.map(|b| b.0).unwrap_or_default();
    let actor = api.actor(&body.request_id)?;
    let request = pb::StartPlaybackRequest {
        recording_id,
        reason: body.reason,
        reason_code: body.reason_code,
        case_id: body.case_id,
        request_id: body.request_id,
    };
    let started = api.gateway().start_playback(&actor, request).await?;
    Ok(playback_json(started))
}

fn playback_json(started: pb::StartPlaybackResponse) -> Json<Value> {
    Json(json!({
        "playback_url": started.playback_url,
        "expire_time": time(started.expire_time.as_ref()),
        "renewable_until": time(started.renewable_until.as_ref()),
    }))
}

#[derive(Debug, Deserialize)]
struct RenewBody {
    playback_url: String,
}

/// A fresh link for a playback started before (RenewPlayback).
async fn renew_playback(api: Api, JsonBody(body): JsonBody<RenewBody>) -> ApiResult {
    let request = pb::RenewPlaybackRequest {
        playback_url: body.playback_url,
    };
    let renewed = api
        .gateway()
        .renew_playback(&api.actor("")?, request)
        .await?;
    Ok(playback_json(renewed))
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct SelectionBody {
    recording_ids: Vec<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reason_code: String,
    #[serde(default)]
    case_id: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    confirmed: bool,
}

async fn export(api: Api, JsonBody(body): JsonBody<SelectionBody>) -> ApiResult {
    let actor = api.actor(&body.request_id)?;
    let request = pb::CreateExportRequest {
        recording_ids: body.recording_ids,
        reason: body.reason,
        reason_code: body.reason_code,
        case_id: body.case_id,
        request_id: body.request_id,
    };
    let e = api.gateway().create_export(&actor, request).await?;
    Ok(Json(json!({
        "export_id": e.export_id,
        "file_name": e.file_name,
        "download_url": e.download_url,
        "size_bytes": e.size_bytes,
        "entry_names": e.entry_names,
        "expire_time": time(e.expire_time.as_ref()),
    })))
}

async fn delete(api: Api, JsonBody(body): JsonBody<SelectionBody>) -> ApiResult {
    let actor = api.actor(&body.request_id)?;
    let request = pb::DeleteRecordingsRequest {
        recording_ids: body.recording_ids,
        reason: body.reason,
        reason_code: body.reason_code,
        case_id: body.case_id,
        request_id: body.request_id,
        confirmed: body.confirmed,
    };
    let deleted = api.gateway().delete_recordings(&actor, request).await?;
    Ok(Json(
        json!({ "recordings": deleted.recordings.iter().map(recording_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    from: Option<String>,
    to: Option<String>,
    actor: Option<String>,
    recording_id: Option<String>,
    call_id: Option<String>,
    /// An event kind as `kind` prints it, e.g. `playback_started`.
    kind: Option<String>,
    reason_code: Option<String>,
    case_id: Option<String>,
    request_id: Option<String>,
    page_size: Option<i32>,
    page_token: Option<String>,
}

/// `playback_started` → the kind's number; empty → any kind.
fn kind_number(name: Option<&str>) -> Result<i32, ApiError> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(0);
    };
    pb::AuditEventKind::from_str_name(&format!("AUDIT_EVENT_KIND_{}", name.to_uppercase()))
        .filter(|k| *k != pb::AuditEventKind::Unspecified)
        .map(|k| k as i32)
        .ok_or_else(|| FieldViolation::new("kind", format!("unknown event kind {name:?}")).into())
}

fn kind_name(kind: i32) -> String {
    pb::AuditEventKind::try_from(kind)
        .map(|k| snake_name(k.as_str_name(), "AUDIT_EVENT_KIND_"))
        .unwrap_or_default()
}

async fn audit(api: Api, Query(q): Query<AuditQuery>) -> ApiResult {
    let request = pb::ListEventsRequest {
        event_time_from: rfc3339(&q.from, "event_time_from")?,
        event_time_to: rfc3339(&q.to, "event_time_to")?,
        actor_id: q.actor.unwrap_or_default(),
        recording_id: q.recording_id.unwrap_or_default(),
        kind: kind_number(q.kind.as_deref())?,
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
        call_id: q.call_id.unwrap_or_default(),
        reason_code: q.reason_code.unwrap_or_default(),
        case_id: q.case_id.unwrap_or_default(),
        request_id: q.request_id.unwrap_or_default(),
    };
    let events = api
        .gateway()
        .list_audit_events(&api.principal()?, request)
        .await?;
    Ok(Json(json!({
        "events": events.events.iter().map(|e| json!({
            "sequence": e.sequence,
            "kind": kind_name(e.kind),
            "actor_id": e.actor_id,
            "actor_display_name": e.actor_display_name,
            "call_id": e.call_id,
            "recording_id": e.recording_id,
            "reason": e.reason,
            "reason_code": e.reason_code,
            "case_id": e.case_id,
            "request_id": e.request_id,
            "client_address": e.client_address,
            "user_agent": e.user_agent,
            "event_time": time(e.event_time.as_ref()),
            "detail": e.detail,
        })).collect::<Vec<_>>(),
        "next_page_token": events.next_page_token,
    })))
}

#[derive(Debug, Default, Deserialize)]
struct CheckpointQuery {
    /// `true`: sign the current head first.
    create: Option<String>,
}

/// An optional query value read as `T`, or 400 naming `field`.
fn parsed<T: std::str::FromStr>(
    value: Option<&str>,
    field: &str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| FieldViolation::new(field, format!("must be {what}")).into())
        })
        .transpose()
}

/// The tenant's newest signed checkpoint, as audit-svc stores it.
async fn audit_checkpoint(api: Api, Query(q): Query<CheckpointQuery>) -> ApiResult {
    let create = parsed(q.create.as_deref(), "create", "true or false")?.unwrap_or(false);
    let request = pb::GetCheckpointRequest { create };
    let c = api
        .gateway()
        .get_audit_checkpoint(&api.principal()?, request)
        .await?;
    Ok(Json(json!({
        "customer": c.customer,
        "sequence": c.sequence,
        "hash": c.hash,
        "sign_time": time(c.sign_time.as_ref()),
        "statement": c.statement,
        "signature": c.signature,
        "public_key": c.public_key,
    })))
}

/// A run of the trail by sequence (empty: from the first / to the last event).
#[derive(Debug, Default, Deserialize)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

impl RangeQuery {
    fn sequences(&self) -> Result<(u64, u64), ApiError> {
        let number = "a sequence number (1, 2, …)";
        Ok((
            parsed(self.from.as_deref(), "from_sequence", number)?.unwrap_or(0),
            parsed(self.to.as_deref(), "to_sequence", number)?.unwrap_or(0),
        ))
    }
}

/// The trail and its checkpoints as JSON lines (`audit-trail-<customer>.jsonl`),
/// streamed as audit-svc writes it, for `audit-verify --export`.
async fn audit_export(api: Api, Query(q): Query<RangeQuery>) -> Result<Response, ApiError> {
    let (from_sequence, to_sequence) = q.sequences()?;
    let request = pb::ExportTrailRequest {
        from_sequence,
        to_sequence,
    };
    let who = api.principal()?;
    let chunks = api.gateway().export_audit_trail(&who, request).await?;
    let customer = who.tenant;
    let body = axum::body::Body::from_stream(tokio_stream::StreamExt::map(chunks, |chunk| {
        chunk
            .map(|c| bytes::Bytes::from(c.data))
            .map_err(|s| std::io::Error::other(s.message().to_owned()))
    }));
    let file = format!(
        "audit-trail-{}.jsonl",
        customer.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
    );
    let headers = [
        (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ),
    ];
    Ok((headers, body).into_response())
}

/// The trail checked against its checkpoints by audit-svc.
async fn audit_verify(api: Api, Query(q): Query<RangeQuery>) -> ApiResult {
    let (from_sequence, to_sequence) = q.sequences()?;
    let request = pb::VerifyChainRequest {
        from_sequence,
        to_sequence,
    };
    let r = api
        .gateway()
        .verify_audit_trail(&api.principal()?, request)
        .await?;
    Ok(Json(json!({
        "intact": r.intact,
        "events_checked": r.events_checked,
        "checkpoints_checked": r.checkpoints_checked,
        "first_bad_sequence": r.first_bad_sequence,
        "problem": r.problem,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_503_with_retry_after_and_timeouts_504() {
        let response = ApiError(archive_common::error::unavailable("archive-svc")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry = response.headers().get(header::RETRY_AFTER).unwrap();
        assert_eq!(
            retry.to_str().unwrap(),
            archive_common::error::RETRY_AFTER.as_secs().to_string()
        );
        let response = ApiError(Status::deadline_exceeded("late")).into_response();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        let response = ApiError(Status::not_found("x")).into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    /// The JSON error of a refused request, and its HTTP status.
    async fn error_of(refusal: ApiError) -> (StatusCode, Value) {
        let response = refusal.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice::<Value>(&body).unwrap()["error"].clone(),
        )
    }

    #[tokio::test]
    async fn unreadable_queries_and_bodies_are_json_errors_naming_the_field() {
        let uri = "/api/v1/my/calls?page_size=many";
        let (mut parts, ()) = axum::http::Request::get(uri).body(()).unwrap().into_parts();
        let Err(refusal) = Query::<PageQuery>::from_request_parts(&mut parts, &()).await else {
            panic!("{uri} was read");
        };
        let (status, error) = error_of(refusal).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["code"], "InvalidArgument");
        assert_eq!(error["field"], "page_size", "{error}");

        let body = |json: &'static str| async move {
            let request = axum::http::Request::post("/api/v1/exports")
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(json))
                .unwrap();
            match <JsonBody<SelectionBody> as FromRequest<()>>::from_request(request, &()).await {
                Ok(_) => panic!("{json} was read"),
                Err(refusal) => error_of(refusal).await,
            }
        };
        let (status, error) = body(r#"{"recording_ids": 5}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["field"], "recording_ids", "{error}");
        let (_, error) = body(r#"{"reason": "x"}"#).await;
        assert_eq!(error["field"], "recording_ids", "{error}");
        let (status, error) = body("{").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["code"], "InvalidArgument", "{error}");
        let untyped = axum::http::Request::post("/").body(axum::body::Body::from("{}"));
        let request = untyped.unwrap();
        let Err(refusal) =
            <JsonBody<RenewBody> as FromRequest<()>>::from_request(request, &()).await
        else {
            panic!("a body without Content-Type was read");
        };
        let (status, error) = error_of(refusal).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            error["message"].as_str().unwrap().contains("Content-Type"),
            "{error}"
        );
    }
}

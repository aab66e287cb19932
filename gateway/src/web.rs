//! The Archive web page: static assets compiled into the binary (no Node.js
//! needed to run it), and, in embedded mode, a sign-in picker of demo users.

use axum::{
    Json, Router,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{auth::Authenticate, demo};

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `/`, `/app.js`, `/app.css`; with `demo_sign_in`, `/api/v1/demo/users` too.
pub(crate) fn router(auth: Authenticate, demo_sign_in: bool) -> Router {
    let router = Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        );
    if demo_sign_in {
        router.route("/api/v1/demo/users", get(demo_users).with_state(auth))
    } else {
        router
    }
}

/// The demo users with a fresh token each (embedded mode only).
async fn demo_users(State(auth): State<Authenticate>) -> Json<serde_json::Value> {
    let users: Vec<_> = demo::users()
        .into_iter()
        .map(|u| {
            json!({
                "user_id": u.user_id,
                "display_name": u.display_name,
                "role": u.role,
                "token": auth.issue(&u.principal(), 12 * 3600),
            })
        })
        .collect();
    Json(json!({ "users": users }))
}

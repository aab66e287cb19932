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

/// Every asset of the page: path, content type, body. The page's ES modules
/// import each other by these absolute paths.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../web/index.html")),
    ("/app.css", CSS, include_str!("../web/app.css")),
    ("/app.js", JS, include_str!("../web/app.js")),
    ("/js/actions.js", JS, include_str!("../web/js/actions.js")),
    ("/js/admin.js", JS, include_str!("../web/js/admin.js")),
    (
        "/js/admin-form.js",
        JS,
        include_str!("../web/js/admin-form.js"),
    ),
    (
        "/js/admin-tenant.js",
        JS,
        include_str!("../web/js/admin-tenant.js"),
    ),
    (
        "/js/admin-users.js",
        JS,
        include_str!("../web/js/admin-users.js"),
    ),
    ("/js/api.js", JS, include_str!("../web/js/api.js")),
    ("/js/audit.js", JS, include_str!("../web/js/audit.js")),
    ("/js/calls.js", JS, include_str!("../web/js/calls.js")),
    ("/js/dialogs.js", JS, include_str!("../web/js/dialogs.js")),
    ("/js/dom.js", JS, include_str!("../web/js/dom.js")),
    ("/js/menu.js", JS, include_str!("../web/js/menu.js")),
    ("/js/pager.js", JS, include_str!("../web/js/pager.js")),
    ("/js/player.js", JS, include_str!("../web/js/player.js")),
    ("/js/search.js", JS, include_str!("../web/js/search.js")),
    ("/js/signin.js", JS, include_str!("../web/js/signin.js")),
    ("/js/time.js", JS, include_str!("../web/js/time.js")),
    ("/favicon.svg", SVG, include_str!("../web/favicon.svg")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Every asset of [`ASSETS`]; with `demo_sign_in`, `/api/v1/demo/users` too.
pub(crate) fn router(auth: Authenticate, demo_sign_in: bool) -> Router {
    let router = ASSETS
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            router.route(path, get(move || async move { asset(content_type, body) }))
        });
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

#[cfg(test)]
mod tests {
    use super::ASSETS;

    /// `./x.js` or `/x.js` as seen from the asset at `from`.
    fn resolve(from: &str, reference: &str) -> String {
        if reference.starts_with('/') {
            return reference.to_owned();
        }
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop();
        for piece in reference.split('/') {
            match piece {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }

    /// The module specifiers of `import … from '…'` lines.
    fn imports(js: &str) -> Vec<&str> {
        js.lines()
            .filter(|l| l.starts_with("import "))
            .filter_map(|l| l.split(" from '").nth(1))
            .filter_map(|rest| rest.split('\'').next())
            .collect()
    }

    #[test]
    fn every_module_import_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.0).collect();
        let mut checked = 0;
        for (path, content_type, body) in ASSETS {
            if !content_type.starts_with("text/javascript") {
                continue;
            }
            for specifier in imports(body) {
                let target = resolve(path, specifier);
                assert!(
                    served.contains(&target.as_str()),
                    "{path} imports {specifier} ({target}), which is not served"
                );
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} imports found");
    }

    #[test]
    fn the_page_loads_only_served_assets() {
        let (_, _, index) = ASSETS.iter().find(|a| a.0 == "/").expect("index");
        for reference in ["/app.js", "/app.css", "/favicon.svg"] {
            assert!(index.contains(&format!("\"{reference}\"")), "{reference}");
            assert!(ASSETS.iter().any(|a| a.0 == reference), "{reference}");
        }
        // Closed networks: nothing may come from another host.
        for (path, _, body) in ASSETS {
            assert!(!body.contains("https://"), "{path} refers to another host");
        }
    }

    #[test]
    fn every_js_file_in_the_web_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/js");
        for entry in std::fs::read_dir(dir).expect("web/js") {
            let name = entry.expect("entry").file_name();
            let path = format!("/js/{}", name.to_string_lossy());
            assert!(ASSETS.iter().any(|a| a.0 == path), "{path} is not served");
        }
    }
}

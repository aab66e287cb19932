//! The sign-in's HTTP side: `/auth/config` (whether the page offers it),
//! `/auth/login`, `/auth/callback` and `/auth/session`.
//!
//! The token reaches the page through a cookie, not the URL: the callback
//! sets it HttpOnly, SameSite=Strict, scoped to `/auth/session` and valid two
//! minutes, and the page's one POST there takes it (and clears it). A URL —
//! even a fragment — would leave the token in the browser's history and in
//! any screenshot of the address bar; the cookie is sent nowhere else, not
//! to the API (whose requests carry the bearer header as before), so there
//! is no cookie-authenticated request to forge.

use std::sync::Arc;

use archive_common::Clock;
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    SignInFailure,
    answers::{append_cookie, cookie, cookie_value, no_store, redirect},
    config::{ClaimMap, OidcConfig, claim_list},
    id_token::{self, Expected},
    login::{self, Attempt},
    provider::{Provider, error_chain},
};
use crate::auth::Authenticate;

/// The cookie handing the gateway's token to the page.
const SESSION_COOKIE: &str = "archive_session";
const SESSION_PATH: &str = "/auth/session";
const CALLBACK_PATH: &str = "/auth/callback";
/// Seconds the page has to take the token after the callback.
const HANDOFF_SECS: i64 = 120;

/// The sign-in, as configured.
#[derive(Clone)]
pub(crate) struct SignIn(Arc<Settings>);

struct Settings {
    provider: Provider,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: String,
    scopes: String,
    claims: ClaimMap,
    provider_name: String,
    session_ttl_secs: i64,
    /// Cookies marked `Secure` (the gateway is reached over HTTPS).
    secure: bool,
    auth: Authenticate,
    clock: Arc<dyn Clock>,
}

impl SignIn {
    /// The sign-in of `config` (None when no issuer is configured); the
    /// callback defaults to `public_url` + `/auth/callback`.
    pub(crate) fn new(
        config: &OidcConfig,
        public_url: &str,
        auth: Authenticate,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, String> {
        let Some(issuer) = &config.oidc_issuer else {
            return Ok(None);
        };
        let redirect_url = config
            .oidc_redirect_url
            .clone()
            .unwrap_or_else(|| format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')));
        reqwest::Url::parse(&redirect_url)
            .map_err(|e| format!("--oidc-redirect-url {redirect_url:?}: {e}"))?;
        reqwest::Url::parse(issuer).map_err(|e| format!("--oidc-issuer {issuer:?}: {e}"))?;
        if config.oidc_client_id.trim().is_empty() {
            return Err("--oidc-client-id is empty".into());
        }
        let claims = ClaimMap {
            tenant: claim_list(&config.oidc_tenant_claim),
            fixed_tenant: config.oidc_tenant.clone().filter(|t| !t.trim().is_empty()),
            user: claim_list(&config.oidc_user_claim),
            name: claim_list(&config.oidc_name_claim),
        };
        if claims.user.is_empty() {
            return Err("--oidc-user-claim names no claim".into());
        }
        Ok(Some(Self(Arc::new(Settings {
            provider: Provider::new(issuer)?,
            client_id: config.oidc_client_id.clone(),
            client_secret: config.oidc_client_secret.clone().filter(|s| !s.is_empty()),
            secure: redirect_url.starts_with("https://"),
            redirect_url,
            scopes: config.oidc_scopes.clone(),
            claims,
            provider_name: config.oidc_provider_name.clone(),
            session_ttl_secs: config.oidc_session_minutes.max(1) * 60,
            auth,
            clock,
        }))))
    }
}

/// The sign-in's routes; without a sign-in, only `/auth/config`'s 404 (the
/// page then offers what it offers today).
pub(crate) fn router(sign_in: Option<SignIn>) -> Router {
    match sign_in {
        None => Router::new(),
        Some(sign_in) => Router::new()
            .route("/auth/config", get(describe))
            .route("/auth/login", get(start))
            .route(CALLBACK_PATH, get(callback))
            .route(SESSION_PATH, post(hand_over))
            .with_state(sign_in),
    }
}

/// What the page shows: "Sign in with …".
async fn describe(State(sign_in): State<SignIn>) -> Response {
    no_store(Json(json!({
        "provider_name": sign_in.0.provider_name,
        "login_url": "/auth/login",
    })))
}

/// Sends the browser to the provider, remembering the attempt in a cookie.
async fn start(State(sign_in): State<SignIn>) -> Response {
    let s = &sign_in.0;
    let discovery = match s.provider.discovery().await {
        Ok(discovery) => discovery,
        Err(failure) => return failure.into_response(),
    };
    let attempt = Attempt::new();
    let url = match attempt.authorize_url(&discovery, &s.client_id, &s.redirect_url, &s.scopes) {
        Ok(url) => url,
        Err(why) => return SignInFailure::Provider(why).into_response(),
    };
    let cookie = cookie(
        login::COOKIE,
        &attempt.cookie_value(),
        CALLBACK_PATH,
        login::LIFETIME_SECS,
        // Lax: the provider's redirect back is a cross-site navigation.
        "Lax",
        s.secure,
    );
    redirect(url.as_str(), &[cookie])
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The provider's answer: a code to exchange, or why not.
async fn callback(
    State(sign_in): State<SignIn>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let s = &sign_in.0;
    // The attempt is over whatever happens: its cookie goes.
    let clear = cookie(login::COOKIE, "", CALLBACK_PATH, 0, "Lax", s.secure);
    match finish(s, &headers, query).await {
        Ok(token) => {
            let handoff = cookie(
                SESSION_COOKIE,
                &token,
                SESSION_PATH,
                HANDOFF_SECS,
                "Strict",
                s.secure,
            );
            redirect("/", &[clear, handoff])
        }
        Err(failure) => {
            let mut response = failure.into_response();
            append_cookie(&mut response, &clear);
            response
        }
    }
}

async fn finish(
    s: &Settings,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<String, SignInFailure> {
    let attempt = cookie_value(headers, login::COOKIE)
        .and_then(Attempt::from_cookie)
        .ok_or_else(|| {
            SignInFailure::Callback(
                "no sign-in was started in this browser, or it took longer than 10 minutes; \
                 start again from the Archive page"
                    .into(),
            )
        })?;
    if let Some(error) = query.error {
        let description = query
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(SignInFailure::Refused(format!("{error}{description}")));
    }
    if query.state.as_deref() != Some(attempt.state.as_str()) {
        return Err(SignInFailure::Callback(
            "the callback's state is not the one this browser's sign-in sent \
             (a stale or forged callback); start again from the Archive page"
                .into(),
        ));
    }
    let code = query
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| SignInFailure::Callback("the callback carries no code".into()))?;
    let id_token = exchange(s, &code, &attempt).await?;
    let keys = s
        .provider
        .keys_with(id_token::key_id(&id_token)?.as_deref())
        .await?;
    let discovery = s.provider.discovery().await?;
    let claims = id_token::verify(
        &id_token,
        &keys,
        &Expected {
            issuer: &discovery.issuer,
            client_id: &s.client_id,
            nonce: &attempt.nonce,
            now: s.clock.now(),
        },
    )?;
    let principal = id_token::principal(&claims, &s.claims)?;
    tracing::info!(tenant = %principal.tenant, user = %principal.user_id, "signed in with the identity provider");
    Ok(s.auth.issue(&principal, s.session_ttl_secs))
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The code, exchanged at the token endpoint for an ID token.
async fn exchange(s: &Settings, code: &str, attempt: &Attempt) -> Result<String, SignInFailure> {
    let discovery = s.provider.discovery().await?;
    let url = &discovery.token_endpoint;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &s.redirect_url),
        ("code_verifier", &attempt.verifier),
        ("client_id", &s.client_id),
    ];
    let mut request = s.provider.http().post(url);
    if let Some(secret) = &s.client_secret {
        let methods = &discovery.token_endpoint_auth_methods_supported;
        // client_secret_basic is the default when the provider lists nothing.
        if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
            // RFC 6749 §2.3.1: each half form-encoded before Basic.
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(&s.client_id), Some(encode(secret)));
        } else {
            form.push(("client_secret", secret));
        }
    }
    let unreachable = |e: reqwest::Error| {
        SignInFailure::Provider(format!(
            "its token endpoint {url} could not be reached: {}",
            error_chain(&e)
        ))
    };
    let response = request.form(&form).send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
        SignInFailure::Provider(format!(
            "its token endpoint {url} answered {status} with no JSON"
        ))
    })?;
    if let Some(error) = answer.error {
        let description = answer
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(SignInFailure::Refused(format!(
            "the code was not exchanged: {error}{description}"
        )));
    }
    match answer.id_token {
        Some(token) if status.is_success() => Ok(token),
        _ => Err(SignInFailure::Provider(format!(
            "its token endpoint {url} answered {status} without an id_token (is `openid` among the client's scopes?)"
        ))),
    }
}

/// The page takes its token, once.
async fn hand_over(State(sign_in): State<SignIn>, headers: HeaderMap) -> Response {
    let Some(token) = cookie_value(&headers, SESSION_COOKIE) else {
        return no_store(StatusCode::NO_CONTENT);
    };
    let clear = cookie(
        SESSION_COOKIE,
        "",
        SESSION_PATH,
        0,
        "Strict",
        sign_in.0.secure,
    );
    let mut response = no_store(Json(json!({ "token": token })));
    append_cookie(&mut response, &clear);
    response
}

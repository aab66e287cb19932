//! A stand-in OpenID Connect provider on `127.0.0.1:0`, for the gateway's
//! sign-in tests (no network): discovery, a JWKS, an authorize endpoint that
//! either approves the configured user at once or shows a tiny login form (the
//! browser test), and a token endpoint that checks the client, the redirect
//! URL and the PKCE verifier before it signs an ID token with a fixed test
//! key. What it signs can be bent ([`IdTokenShape`]) to check that the
//! gateway refuses it, and its key can be rotated.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use archive_common::{
    identity::{Algorithm, EncodingKey, Header, jwk::Jwk},
    shutdown::CancellationToken,
};
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// The key the stand-in signs with first (RS256) and the one a rotation
/// moves to (ES256).
const KEYS: [(&str, Algorithm, &[u8]); 2] = [
    (
        "stand-in-1",
        Algorithm::RS256,
        include_bytes!("../fixtures/oidc-rs256.pem"),
    ),
    (
        "stand-in-2",
        Algorithm::ES256,
        include_bytes!("../fixtures/oidc-es256.pem"),
    ),
];

/// How the next ID tokens differ from a correct one.
#[derive(Debug, Clone, Default)]
pub struct IdTokenShape {
    /// Issued to this audience instead of the client.
    pub audience: Option<String>,
    /// This nonce instead of the one the authorize request carried.
    pub nonce: Option<String>,
    /// Seconds until `exp` (default 300; negative: already expired).
    pub expires_in: Option<i64>,
    /// This `kid` in the header (a key the JWKS does not publish).
    pub kid: Option<String>,
}

/// A code the authorize endpoint handed out, until it is exchanged.
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
    claims: Map<String, Value>,
}

struct Provider {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    /// Who signs in: the user approved at once, or (with a form) each by login name.
    users: Vec<(String, Map<String, Value>)>,
    login_form: bool,
    /// Index into [`KEYS`] of the key that signs and is published.
    key: usize,
    shape: IdTokenShape,
    grants: HashMap<String, Grant>,
}

/// A running stand-in provider; stops when dropped.
pub struct StandInIdp {
    /// Its issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
    provider: Arc<Mutex<Provider>>,
    jwks_fetches: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl Drop for StandInIdp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The claims of a demo-tenant user: `tenant`, `sub`, `preferred_username`, `name`.
pub fn user_claims(tenant: &str, user_id: &str, name: &str) -> Map<String, Value> {
    let claims = json!({
        "tenant": tenant,
        "sub": format!("{user_id}-subject"),
        "preferred_username": user_id,
        "name": name,
    });
    claims.as_object().cloned().unwrap_or_default()
}

#[derive(Clone)]
struct Shared {
    provider: Arc<Mutex<Provider>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl StandInIdp {
    /// A provider for client `client_id` that approves `claims`' user at once.
    pub async fn start(client_id: &str, claims: Map<String, Value>) -> Self {
        Self::start_with(client_id, vec![("user".into(), claims)], false, "127.0.0.1").await
    }

    /// A provider for client `client_id` showing a login form where each of
    /// `users` (login name, claims) signs in by name. Its issuer URL names
    /// `host` (`localhost` puts it on another site than a gateway at
    /// 127.0.0.1, as a real provider is: the cookies' SameSite rules apply).
    pub async fn with_login_form(
        client_id: &str,
        users: Vec<(String, Map<String, Value>)>,
        host: &str,
    ) -> Self {
        Self::start_with(client_id, users, true, host).await
    }

    async fn start_with(
        client_id: &str,
        users: Vec<(String, Map<String, Value>)>,
        login_form: bool,
        host: &str,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("its address").port();
        let issuer = format!("http://{host}:{port}");
        let provider = Arc::new(Mutex::new(Provider {
            issuer: issuer.clone(),
            client_id: client_id.to_owned(),
            client_secret: None,
            users,
            login_form,
            key: 0,
            shape: IdTokenShape::default(),
            grants: HashMap::new(),
        }));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            provider: provider.clone(),
            jwks_fetches: jwks_fetches.clone(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize).post(log_in))
            .route("/token", axum::routing::post(token))
            .with_state(shared);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await
                .expect("the stand-in identity provider");
        });
        Self {
            issuer,
            provider,
            jwks_fetches,
            stop,
        }
    }

    /// Requires this client secret at the token endpoint (Basic or form).
    pub fn require_secret(&self, secret: &str) {
        self.provider.lock().unwrap().client_secret = Some(secret.to_owned());
    }

    /// The claims of the user approved at once from now on.
    pub fn set_user(&self, claims: Map<String, Value>) {
        self.provider.lock().unwrap().users = vec![("user".into(), claims)];
    }

    /// How the next ID tokens are bent.
    pub fn shape(&self, shape: IdTokenShape) {
        self.provider.lock().unwrap().shape = shape;
    }

    /// Signs with a new key and publishes only that one (the old key retired).
    pub fn rotate_key(&self) {
        let mut provider = self.provider.lock().unwrap();
        provider.key = (provider.key + 1) % KEYS.len();
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

async fn discovery(State(shared): State<Shared>) -> Json<Value> {
    let issuer = shared.provider.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    }))
}

fn signing_key(index: usize) -> (EncodingKey, Jwk) {
    let (kid, alg, pem) = KEYS[index];
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .expect("the stand-in's fixture key");
    let mut jwk = Jwk::from_encoding_key(&key, alg).expect("its public JWK");
    jwk.common.key_id = Some(kid.to_owned());
    (key, jwk)
}

async fn jwks(State(shared): State<Shared>) -> Json<Value> {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let (_, jwk) = signing_key(shared.provider.lock().unwrap().key);
    Json(json!({ "keys": [jwk] }))
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, format!("stand-in identity provider: {why}\n")).into_response()
}

/// The authorize request, checked; on success a code is handed out for
/// `claims` and the browser is sent back.
fn grant(
    provider: &mut Provider,
    query: &HashMap<String, String>,
    claims: Map<String, Value>,
) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("client_id") != provider.client_id {
        return refuse(StatusCode::BAD_REQUEST, "unknown client_id");
    }
    if param("response_type") != "code" {
        return refuse(StatusCode::BAD_REQUEST, "response_type must be code");
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a PKCE S256 code_challenge is required",
        );
    }
    if !param("scope").split(' ').any(|s| s == "openid") {
        return refuse(StatusCode::BAD_REQUEST, "scope must include openid");
    }
    let redirect_uri = param("redirect_uri");
    let Ok(mut back) = url::Url::parse(&redirect_uri) else {
        return refuse(StatusCode::BAD_REQUEST, "redirect_uri is not a URL");
    };
    let code = uuid::Uuid::new_v4().simple().to_string();
    provider.grants.insert(
        code.clone(),
        Grant {
            client_id: param("client_id"),
            redirect_uri,
            challenge: param("code_challenge"),
            nonce: param("nonce"),
            claims,
        },
    );
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &param("state"));
    Redirect::to(back.as_str()).into_response()
}

async fn authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut provider = shared.provider.lock().unwrap();
    if !provider.login_form {
        let claims = provider
            .users
            .first()
            .map(|u| u.1.clone())
            .unwrap_or_default();
        return grant(&mut provider, &query, claims);
    }
    let hidden: String = query
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stand-in IdP login</title></head>\
         <body><main><h1>Stand-in IdP</h1><form method=\"post\" action=\"/authorize\">{hidden}\
         <label for=\"username\">Username</label> <input id=\"username\" name=\"username\" autocomplete=\"off\">\
         <button type=\"submit\">Log in</button></form></main></body></html>"
    ))
    .into_response()
}

/// The login form's answer.
async fn log_in(State(shared): State<Shared>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut provider = shared.provider.lock().unwrap();
    let username = form.get("username").cloned().unwrap_or_default();
    let Some(claims) = provider
        .users
        .iter()
        .find(|u| u.0 == username)
        .map(|u| u.1.clone())
    else {
        return refuse(StatusCode::UNAUTHORIZED, &format!("no user {username:?}"));
    };
    grant(&mut provider, &form, claims)
}

fn token_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| form.get(name).cloned().unwrap_or_default();
    let mut provider = shared.provider.lock().unwrap();
    if param("grant_type") != "authorization_code" {
        return token_error("unsupported_grant_type", "only authorization_code");
    }
    let Some(grant) = provider.grants.remove(&param("code")) else {
        return token_error("invalid_grant", "unknown or used code");
    };
    if let Some(secret) = &provider.client_secret {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| {
                // RFC 6749 §2.3.1: each half is form-encoded.
                let (id, secret) = pair.split_once(':')?;
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                };
                Some((decode(id)?, decode(secret)?))
            });
        let expected = (provider.client_id.clone(), secret.clone());
        if basic.as_ref() != Some(&expected) && param("client_secret") != *secret {
            return token_error("invalid_client", "wrong or missing client secret");
        }
    }
    if param("client_id") != grant.client_id {
        return token_error("invalid_client", "the code was issued to another client");
    }
    if param("redirect_uri") != grant.redirect_uri {
        return token_error(
            "invalid_grant",
            "redirect_uri differs from the authorize request's",
        );
    }
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(param("code_verifier").as_bytes()));
    if challenge != grant.challenge {
        return token_error("invalid_grant", "the PKCE code_verifier does not match");
    }
    let shape = provider.shape.clone();
    let now = chrono::Utc::now().timestamp();
    let mut claims = grant.claims;
    claims.insert("iss".into(), json!(provider.issuer));
    claims.insert(
        "aud".into(),
        json!(shape.audience.unwrap_or(grant.client_id)),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + shape.expires_in.unwrap_or(300)));
    claims.insert("nonce".into(), json!(shape.nonce.unwrap_or(grant.nonce)));
    let (key, jwk) = signing_key(provider.key);
    let mut header = Header::new(KEYS[provider.key].1);
    header.kid = shape.kid.or(jwk.common.key_id);
    let id_token =
        jsonwebtoken::encode(&header, &claims, &key).expect("signing with the fixture key");
    Json(json!({
        "access_token": uuid::Uuid::new_v4().simple().to_string(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

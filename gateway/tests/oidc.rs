//! The web page's sign-in with an identity provider, against the stand-in
//! provider of test-support and the whole suite on ephemeral ports: the code
//! flow ends in the gateway's own session for the principal of the configured
//! claims; a forged state, a foreign nonce, another audience, an expired
//! token, a key the provider does not publish, a missing tenant claim and an
//! unreachable provider each end on a page naming what is wrong.

#![allow(unused_crate_dependencies)]

use archive_common::Principal;
use gateway::{SuiteConfig, auth::Authenticate, oidc::OidcConfig, suite::Suite};
use serde_json::Value;
use test_support::{
    http::{HttpResponse, request},
    oidc::{IdTokenShape, StandInIdp, user_claims},
};

const CLIENT: &str = "archive-web";

struct Signing {
    suite: Suite,
    web: String,
    _dir: tempfile::TempDir,
}

impl Signing {
    /// The suite (no demo data) signing in with `oidc`.
    async fn start(oidc: OidcConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SuiteConfig::ephemeral(dir.path());
        config.no_seed = true;
        config.oidc = oidc;
        let suite = Suite::start(config, archive_common::shutdown::CancellationToken::new())
            .await
            .expect("the suite starts");
        let web = format!("http://{}", suite.endpoints.gateway_http);
        Self {
            suite,
            web,
            _dir: dir,
        }
    }

    /// The suite signing in with `idp` as its provider.
    async fn with(idp: &StandInIdp) -> Self {
        Self::start(OidcConfig::new(&idp.issuer, CLIENT)).await
    }

    /// `/auth/login` and the provider's approval: the callback URL the
    /// browser is sent back to, and the cookie the sign-in set.
    async fn to_callback(&self) -> (String, String) {
        let login = request("GET", &format!("{}/auth/login", self.web), &[]).await;
        assert_eq!(login.status, 303, "{}", text(&login));
        let (attempt, attributes) =
            cookie_and_attributes(&login, "archive_oidc_login").expect("the attempt's cookie");
        // Sent back only to the callback, which the provider reaches by a
        // cross-site navigation (Lax); never readable by the page's scripts.
        assert_eq!(
            attributes,
            "Path=/auth/callback; Max-Age=600; HttpOnly; SameSite=Lax"
        );
        let at_provider = request("GET", login.header("location").unwrap(), &[]).await;
        assert_eq!(at_provider.status, 303, "{}", text(&at_provider));
        let callback = at_provider.header("location").unwrap().to_owned();
        assert!(
            callback.starts_with(&format!("{}/auth/callback?", self.web)),
            "{callback}"
        );
        (callback, attempt)
    }

    /// The whole flow up to the callback's answer.
    async fn sign_in(&self) -> HttpResponse {
        let (callback, attempt) = self.to_callback().await;
        request("GET", &callback, &[("Cookie", &attempt)]).await
    }

    /// The session the page gets after a good callback: `/auth/session`'s
    /// token (once), and whom it names.
    async fn session(&self, callback: &HttpResponse) -> (String, Principal) {
        assert_eq!(callback.status, 303, "{}", text(callback));
        assert_eq!(callback.header("location"), Some("/"));
        let (handoff, attributes) =
            cookie_and_attributes(callback, "archive_session").expect("the handoff cookie");
        assert_eq!(
            attributes,
            "Path=/auth/session; Max-Age=120; HttpOnly; SameSite=Strict"
        );
        let token = &handoff["archive_session=".len()..];
        let elsewhere = callback
            .headers
            .iter()
            .filter(|(_, v)| v.contains(token) && !v.starts_with("archive_session="));
        assert_eq!(elsewhere.count(), 0, "the token is only in its cookie");
        let taken = request(
            "POST",
            &format!("{}/auth/session", self.web),
            &[("Cookie", &handoff)],
        )
        .await;
        assert_eq!(taken.status, 200);
        assert_eq!(taken.header("cache-control"), Some("no-store"));
        assert!(
            taken
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("set-cookie")
                    && v.starts_with("archive_session=;")
                    && v.contains("Max-Age=0")),
            "the handoff cookie is cleared"
        );
        let token = json(&taken)["token"].as_str().unwrap().to_owned();
        let principal = Authenticate::hs256(self.suite.secrets.jwt_secret.as_bytes())
            .verify_bearer(Some(&format!("Bearer {token}")))
            .expect("a token of the gateway");
        (token, principal)
    }
}

fn text(response: &HttpResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

fn json(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

/// `name=value` of a non-empty `Set-Cookie: name=…`.
fn set_cookie(response: &HttpResponse, name: &str) -> Option<String> {
    let (pair, _) = cookie_and_attributes(response, name)?;
    Some(pair)
}

/// A non-empty `Set-Cookie: name=…`: its `name=value` and its attributes.
fn cookie_and_attributes(response: &HttpResponse, name: &str) -> Option<(String, String)> {
    response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split_once(';'))
        .find(|(pair, _)| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
        .map(|(pair, attributes)| (pair.to_owned(), attributes.trim().to_owned()))
}

/// A refused sign-in: `status`, and a page whose text says `why`.
fn refused(response: &HttpResponse, status: u16, why: &str) {
    let page = text(response);
    assert_eq!(response.status, status, "{page}");
    assert!(page.contains(why), "{why:?} not in {page}");
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        set_cookie(response, "archive_session").is_none(),
        "no session"
    );
}

#[tokio::test]
async fn the_code_flow_ends_in_a_session_of_the_configured_claims() {
    let idp = StandInIdp::start(CLIENT, user_claims("10009", "paal", "Paal Admin")).await;
    let signing = Signing::with(&idp).await;
    // The page offers the provider, not the demo users.
    let config = request("GET", &format!("{}/auth/config", signing.web), &[]).await;
    assert_eq!(json(&config)["login_url"], "/auth/login");
    let demo = request("GET", &format!("{}/api/v1/demo/users", signing.web), &[]).await;
    assert_eq!(demo.status, 404);

    let (token, principal) = signing.session(&signing.sign_in().await).await;
    assert_eq!(principal, Principal::new("10009", "paal", "Paal Admin"));
    // The page's session: the API knows the user (authz-svc's bootstrap admin).
    let session = request(
        "GET",
        &format!("{}/api/v1/session", signing.web),
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(session.status, 200, "{}", text(&session));
    assert_eq!(json(&session)["display_name"], "Paal Admin");
    // Nothing left to take a second time.
    let again = request("POST", &format!("{}/auth/session", signing.web), &[]).await;
    assert_eq!(again.status, 204);
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn other_claims_and_a_fixed_tenant_map_as_configured() {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), "u-77".into());
    claims.insert("email".into(), "kari@example.com".into());
    claims.insert("given_name".into(), "Kari".into());
    let idp = StandInIdp::start(CLIENT, claims).await;
    idp.require_secret("s3cr:t&");
    let mut oidc = OidcConfig::new(&idp.issuer, CLIENT);
    oidc.oidc_client_secret = Some("s3cr:t&".into());
    oidc.oidc_user_claim = "email".into();
    oidc.oidc_name_claim = "display, given_name".into();
    oidc.oidc_tenant = Some("10010".into());
    let signing = Signing::start(oidc).await;
    let (_, principal) = signing.session(&signing.sign_in().await).await;
    assert_eq!(
        principal,
        Principal::new("10010", "kari@example.com", "Kari")
    );
    // A wrong secret: the provider refuses the code, and the page says so.
    idp.require_secret("another");
    refused(&signing.sign_in().await, 401, "invalid_client");
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn a_callback_this_browser_did_not_start_is_refused() {
    let idp = StandInIdp::start(CLIENT, user_claims("10009", "sara", "Sara Supervisor")).await;
    let signing = Signing::with(&idp).await;
    let (callback, attempt) = signing.to_callback().await;
    // Another state than the one this browser's attempt sent.
    let (_, own_state) = callback.split_once("state=").unwrap();
    let forged = callback.replace(own_state, &"0".repeat(64));
    refused(
        &request("GET", &forged, &[("Cookie", &attempt)]).await,
        400,
        "state is not the one this browser",
    );
    // No attempt in this browser at all.
    refused(
        &request("GET", &callback, &[]).await,
        400,
        "no sign-in was started",
    );
    // The provider's own refusal is shown as it said it.
    let denied = format!(
        "{}/auth/callback?error=access_denied&error_description=User+cancelled",
        signing.web
    );
    refused(
        &request("GET", &denied, &[("Cookie", &attempt)]).await,
        401,
        "access_denied (User cancelled)",
    );
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn a_foreign_nonce_another_audience_or_an_expired_token_is_refused() {
    let idp = StandInIdp::start(CLIENT, user_claims("10009", "sara", "Sara Supervisor")).await;
    let signing = Signing::with(&idp).await;
    for (shape, why) in [
        (
            IdTokenShape {
                nonce: Some("replayed".into()),
                ..Default::default()
            },
            "nonce is not this sign-in",
        ),
        (
            IdTokenShape {
                audience: Some("another-client".into()),
                ..Default::default()
            },
            "not for this client",
        ),
        (
            IdTokenShape {
                expires_in: Some(-600),
                ..Default::default()
            },
            "the ID token expired",
        ),
    ] {
        idp.shape(shape);
        refused(&signing.sign_in().await, 401, why);
    }
    idp.shape(IdTokenShape::default());
    signing.session(&signing.sign_in().await).await;
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_an_unknown_one_is_refused_without_a_fetch_storm() {
    let idp = StandInIdp::start(CLIENT, user_claims("10009", "sara", "Sara Supervisor")).await;
    let signing = Signing::with(&idp).await;
    signing.session(&signing.sign_in().await).await;
    assert_eq!(idp.jwks_fetches(), 1);
    signing.session(&signing.sign_in().await).await;
    assert_eq!(idp.jwks_fetches(), 1, "the keys are kept");

    idp.rotate_key();
    signing.session(&signing.sign_in().await).await;
    assert_eq!(idp.jwks_fetches(), 2, "the new key was fetched");

    idp.shape(IdTokenShape {
        kid: Some("nobody".into()),
        ..Default::default()
    });
    for _ in 0..3 {
        refused(
            &signing.sign_in().await,
            401,
            "key &quot;nobody&quot; is not among the provider's published keys",
        );
    }
    assert_eq!(idp.jwks_fetches(), 2, "refetches are bounded");
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn a_token_without_a_tenant_claim_is_refused() {
    let mut claims = user_claims("10009", "sara", "Sara Supervisor");
    claims.remove("tenant");
    let idp = StandInIdp::start(CLIENT, claims).await;
    let signing = Signing::with(&idp).await;
    refused(
        &signing.sign_in().await,
        403,
        "no tenant claim (tenant) and no fixed tenant is configured",
    );
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_provider_is_named() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let signing = Signing::start(OidcConfig::new(&issuer, CLIENT)).await;
    let login = request("GET", &format!("{}/auth/login", signing.web), &[]).await;
    refused(
        &login,
        502,
        &format!("{issuer}/.well-known/openid-configuration could not be reached"),
    );
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_provider_the_demo_users_stay() {
    let signing = Signing::start(OidcConfig::default()).await;
    let config = request("GET", &format!("{}/auth/config", signing.web), &[]).await;
    assert_eq!(config.status, 404);
    let demo = request("GET", &format!("{}/api/v1/demo/users", signing.web), &[]).await;
    assert_eq!(demo.status, 200);
    signing.suite.stop().await.unwrap();
}

#[tokio::test]
async fn behind_https_the_cookies_are_secure_and_the_callback_is_the_configured_one() {
    let idp = StandInIdp::start(CLIENT, user_claims("10009", "paal", "Paal Admin")).await;
    let mut oidc = OidcConfig::new(&idp.issuer, CLIENT);
    oidc.oidc_redirect_url = Some("https://archive.example.com/auth/callback".into());
    let signing = Signing::start(oidc).await;
    let login = request("GET", &format!("{}/auth/login", signing.web), &[]).await;
    assert_eq!(login.status, 303, "{}", text(&login));
    let (_, attributes) = cookie_and_attributes(&login, "archive_oidc_login").unwrap();
    assert!(attributes.ends_with("; Secure"), "{attributes}");
    let at_provider = request("GET", login.header("location").unwrap(), &[]).await;
    let back = at_provider.header("location").unwrap();
    assert!(
        back.starts_with("https://archive.example.com/auth/callback?code="),
        "{back}"
    );
    signing.suite.stop().await.unwrap();
}

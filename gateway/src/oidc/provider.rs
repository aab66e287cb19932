//! The identity provider as the gateway reaches it: its discovery document
//! (fetched on the first sign-in, kept once it answered) and its signing keys
//! (the JWKS at `jwks_uri`, kept, fetched again when an ID token names a key
//! it does not hold — a rotation — at most once per [`REFETCH_AFTER`]).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use archive_common::identity::jwk::JwkSet;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::SignInFailure;

/// How long one request to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest time between two key fetches caused by unknown key ids: a
/// stream of forged tokens must not turn into a stream of requests.
pub(crate) const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// What the gateway needs of the discovery document.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discovery {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) token_endpoint_auth_methods_supported: Vec<String>,
}

#[derive(Default)]
struct Known {
    discovery: Option<Arc<Discovery>>,
    keys: Option<Arc<JwkSet>>,
    /// When unknown key ids last caused a fetch.
    refetched: Option<Instant>,
}

/// The provider at one issuer URL.
#[derive(Clone)]
pub(crate) struct Provider {
    issuer: String,
    http: reqwest::Client,
    known: Arc<Mutex<Known>>,
}

impl Provider {
    pub(crate) fn new(issuer: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            // The provider answers; it does not send the gateway elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("OIDC HTTP client: {e}"))?;
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            http,
            known: Arc::default(),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The discovery document, fetched once it is first needed.
    pub(crate) async fn discovery(&self) -> Result<Arc<Discovery>, SignInFailure> {
        if let Some(known) = &self.known.lock().await.discovery {
            return Ok(known.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Discovery = self.get_json(&url).await?;
        // OpenID Connect Discovery §4.3: the document speaks for this issuer only.
        if discovery.issuer.trim_end_matches('/') != self.issuer {
            return Err(SignInFailure::Provider(format!(
                "{url} names issuer {:?}, not the configured {:?}",
                discovery.issuer, self.issuer
            )));
        }
        let discovery = Arc::new(discovery);
        self.known.lock().await.discovery = Some(discovery.clone());
        Ok(discovery)
    }

    /// The provider's keys; fetched again when `kid` is not among them
    /// (and the last such fetch is older than [`REFETCH_AFTER`]).
    pub(crate) async fn keys_with(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, SignInFailure> {
        let discovery = self.discovery().await?;
        let mut known = self.known.lock().await;
        let holds = |keys: &JwkSet| kid.is_none_or(|kid| keys.find(kid).is_some());
        match &known.keys {
            Some(keys) if holds(keys) => return Ok(keys.clone()),
            Some(keys)
                if known
                    .refetched
                    .is_some_and(|at| at.elapsed() < REFETCH_AFTER) =>
            {
                return Ok(keys.clone());
            }
            Some(_) => known.refetched = Some(Instant::now()),
            None => {}
        }
        // Held across the fetch: concurrent sign-ins wait for one fetch.
        let keys: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let keys = Arc::new(keys);
        known.keys = Some(keys.clone());
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, SignInFailure> {
        let unreachable = |e: reqwest::Error| {
            SignInFailure::Provider(format!("{url} could not be reached: {}", error_chain(&e)))
        };
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(SignInFailure::Provider(format!("{url} answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| {
            SignInFailure::Provider(format!("{url} answered something unreadable: {e}"))
        })
    }
}

/// reqwest's error with its causes ("error sending request: … connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

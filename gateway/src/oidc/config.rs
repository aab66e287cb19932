//! The operator's identity provider as the gateway is told about it: the
//! `--oidc-*` flags (and `OIDC_*` environment) of `gateway serve` and of the
//! embedded suite.

/// Sign-in with an OpenID Connect provider (authorization code with PKCE).
/// Off unless `--oidc-issuer` is given.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is
    /// `<issuer>/.well-known/openid-configuration`), e.g.
    /// `https://sso.example.com/realms/archive`. Turns the demo sign-in off.
    #[arg(long, env = "OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The client id registered at the provider (the ID token's audience).
    #[arg(long, env = "OIDC_CLIENT_ID", default_value = "archive")]
    pub oidc_client_id: String,
    /// The client's secret (confidential clients); public clients rely on PKCE alone.
    #[arg(long, env = "OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Where the provider sends the browser back (register it at the
    /// provider); default: the public URL + `/auth/callback`.
    #[arg(long, env = "OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
    /// Scopes asked for (space-separated; `openid` is always asked for).
    #[arg(long, env = "OIDC_SCOPES", default_value = "openid profile")]
    pub oidc_scopes: String,
    /// Claims carrying the tenant, first present wins (comma-separated).
    #[arg(long, env = "OIDC_TENANT_CLAIM", default_value = "tenant")]
    pub oidc_tenant_claim: String,
    /// The tenant of every user, for a provider that has no tenant claim
    /// (one provider per tenant). Used only when no tenant claim is present.
    #[arg(long, env = "OIDC_TENANT")]
    pub oidc_tenant: Option<String>,
    /// Claims carrying the user id, first present wins (comma-separated).
    #[arg(
        long,
        env = "OIDC_USER_CLAIM",
        default_value = "preferred_username,sub"
    )]
    pub oidc_user_claim: String,
    /// Claims carrying the display name, first present wins; the user id when none is.
    #[arg(long, env = "OIDC_NAME_CLAIM", default_value = "name")]
    pub oidc_name_claim: String,
    /// The provider's name on the sign-in button ("Sign in with …").
    #[arg(long, env = "OIDC_PROVIDER_NAME", default_value = "single sign-on")]
    pub oidc_provider_name: String,
    /// Minutes the page's session lasts after a sign-in (then the user
    /// signs in again, usually one click while the provider's session lasts).
    #[arg(long, env = "OIDC_SESSION_MINUTES", default_value_t = 60)]
    pub oidc_session_minutes: i64,
}

impl OidcConfig {
    /// A provider at `issuer` for client `client_id`, everything else at its default (tests).
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            oidc_issuer: Some(issuer.into()),
            oidc_client_id: client_id.into(),
            oidc_client_secret: None,
            oidc_redirect_url: None,
            oidc_scopes: "openid profile".into(),
            oidc_tenant_claim: "tenant".into(),
            oidc_tenant: None,
            oidc_user_claim: "preferred_username,sub".into(),
            oidc_name_claim: "name".into(),
            oidc_provider_name: "single sign-on".into(),
            oidc_session_minutes: 60,
        }
    }

    pub fn enabled(&self) -> bool {
        self.oidc_issuer.is_some()
    }
}

/// Which claims make the principal.
#[derive(Debug, Clone)]
pub(crate) struct ClaimMap {
    pub(crate) tenant: Vec<String>,
    pub(crate) fixed_tenant: Option<String>,
    pub(crate) user: Vec<String>,
    pub(crate) name: Vec<String>,
}

/// `a, b` → `["a", "b"]`.
pub(crate) fn claim_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

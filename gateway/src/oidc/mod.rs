//! Sign-in with the operator's OpenID Connect provider, for the web page:
//! the authorization-code flow with PKCE, state and nonce. The page leaves
//! for the provider at `/auth/login`; the provider sends the browser back to
//! `/auth/callback`, where the code is exchanged, the ID token verified and
//! the principal read from the configured claims; the gateway then issues its
//! own short-lived bearer token (as the demo sign-in does), handed to the page
//! once through `/auth/session` (see [`routes`] for why a cookie).

mod answers;
mod config;
mod id_token;
mod login;
mod provider;
mod routes;

pub use config::OidcConfig;
pub(crate) use routes::{SignIn, router};

/// Why a sign-in did not end in a session: each answers the browser with a
/// page naming what is wrong (never a bare 500). Not a gRPC error: the
/// sign-in is HTTP only.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignInFailure {
    /// The provider could not be reached or answered nonsense (502).
    #[error("the identity provider could not be used: {0}")]
    Provider(String),
    /// The provider said no (the user cancelled, the code was refused) (401).
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The callback does not belong to a sign-in this browser started (400).
    #[error("{0}")]
    Callback(String),
    /// The ID token failed verification (401).
    #[error("the identity provider's ID token was refused: {0}")]
    Token(String),
    /// The token verified but does not name a principal the archive knows how to use (403).
    #[error("signed in at the identity provider, but {0}")]
    Claim(String),
}

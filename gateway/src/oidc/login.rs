//! One sign-in in progress: its state (the callback belongs to this
//! browser), nonce (the ID token was issued for this sign-in) and PKCE
//! verifier (only who started it can exchange the code), kept in the browser
//! itself in an HttpOnly cookie scoped to the callback, so any gateway
//! replica can finish what another started.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::provider::Discovery;
use crate::secrets::random_key;

/// The cookie holding the attempt.
pub(crate) const COOKIE: &str = "archive_oidc_login";
/// Seconds a user may spend at the provider.
pub(crate) const LIFETIME_SECS: i64 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
}

impl Attempt {
    pub(crate) fn new() -> Self {
        Self {
            // 244 random bits as 64 hex digits: a valid PKCE verifier too.
            state: random_key(),
            nonce: random_key(),
            verifier: random_key(),
        }
    }

    /// RFC 7636's S256 challenge of the verifier.
    pub(crate) fn challenge(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The cookie's value: the three hex strings, dot-separated.
    pub(crate) fn cookie_value(&self) -> String {
        format!("{}.{}.{}", self.state, self.nonce, self.verifier)
    }

    pub(crate) fn from_cookie(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let attempt = Self {
            state: parts.next()?.to_owned(),
            nonce: parts.next()?.to_owned(),
            verifier: parts.next()?.to_owned(),
        };
        let well_formed = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (parts.next().is_none()
            && [&attempt.state, &attempt.nonce, &attempt.verifier]
                .iter()
                .all(|s| well_formed(s)))
        .then_some(attempt)
    }

    /// Where the browser goes to sign in.
    pub(crate) fn authorize_url(
        &self,
        discovery: &Discovery,
        client_id: &str,
        redirect_url: &str,
        scopes: &str,
    ) -> Result<reqwest::Url, String> {
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint).map_err(|e| {
            format!(
                "its authorization_endpoint {:?} is not a URL: {e}",
                discovery.authorization_endpoint
            )
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_url)
            .append_pair("scope", &scopes_with_openid(scopes))
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &self.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }
}

/// `scopes` with `openid` in front unless it is there already.
fn scopes_with_openid(scopes: &str) -> String {
    let mut all = vec!["openid"];
    all.extend(scopes.split_whitespace().filter(|s| *s != "openid"));
    all.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_survives_its_cookie_and_a_tampered_one_does_not() {
        let attempt = Attempt::new();
        assert_eq!(
            Attempt::from_cookie(&attempt.cookie_value()),
            Some(attempt.clone())
        );
        assert_ne!(attempt.state, Attempt::new().state);
        for bad in [
            "",
            "a.b.c",
            &format!("{}.x", attempt.cookie_value()),
            &attempt.state,
        ] {
            assert_eq!(Attempt::from_cookie(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        let attempt = Attempt {
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            ..Attempt::new()
        };
        assert_eq!(
            attempt.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn openid_is_always_asked_for_once() {
        assert_eq!(scopes_with_openid("profile email"), "openid profile email");
        assert_eq!(scopes_with_openid("profile openid"), "openid profile");
        assert_eq!(scopes_with_openid(""), "openid");
    }
}

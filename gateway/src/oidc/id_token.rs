//! The ID token a code is exchanged for: its signature (a key of the
//! provider's JWKS, found by `kid`), issuer, audience (our client id), expiry
//! on the gateway's clock, and the nonce of this browser's sign-in; then the
//! principal read from the configured claims.

use archive_common::{
    Principal,
    identity::{Algorithm, DecodingKey, jwk::JwkSet},
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{SignInFailure, config::ClaimMap};

/// Seconds of clock difference allowed between the provider and the gateway.
const LEEWAY: i64 = 60;

/// What a provider may sign ID tokens with; symmetric algorithms (keyed with
/// the client secret) are not accepted.
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// The expectations of one sign-in.
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) now: DateTime<Utc>,
}

/// The `kid` of `token`'s header (to know whether the keys must be fetched again).
pub(crate) fn key_id(token: &str) -> Result<Option<String>, SignInFailure> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| SignInFailure::Token(format!("the ID token is not a JWT: {e}")))?;
    Ok(header.kid)
}

/// The verified claims of `token`.
pub(crate) fn verify(
    token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, SignInFailure> {
    let bad = |why: String| SignInFailure::Token(why);
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| bad(format!("the ID token is not a JWT: {e}")))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(bad(format!(
            "the ID token is signed with {:?}, which is not accepted",
            header.alg
        )));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| {
        bad(format!(
            "the ID token's key {:?} is not among the provider's published keys",
            header.kid.as_deref().unwrap_or("(no kid)")
        ))
    })?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|e| bad(format!("the provider's key is unusable: {e}")))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[expected.client_id]);
    validation.set_issuer(&[expected.issuer, &format!("{}/", expected.issuer)]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    // The gateway's clock decides, not the system's (jsonwebtoken would read it).
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| {
            bad(match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAudience => format!(
                    "the ID token is not for this client (its audience is not {:?})",
                    expected.client_id
                ),
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                    format!("the ID token was not issued by {:?}", expected.issuer)
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    "the ID token's signature does not verify".to_owned()
                }
                _ => format!("the ID token is invalid: {e}"),
            })
        })?
        .claims;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if expected.now.timestamp() > exp + LEEWAY {
        return Err(bad(format!(
            "the ID token expired at {}",
            DateTime::from_timestamp(exp, 0).map_or(exp.to_string(), |t| t.to_rfc3339())
        )));
    }
    // Core §3.1.3.7: with several audiences, the token must have been issued to us.
    if let Some(Value::Array(audiences)) = claims.get("aud")
        && audiences.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(expected.client_id)
    {
        return Err(bad(format!(
            "the ID token has several audiences and was not issued to {:?} (azp)",
            expected.client_id
        )));
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(expected.nonce) {
        return Err(bad(
            "the ID token's nonce is not this sign-in's (a replayed or foreign token)".into(),
        ));
    }
    Ok(claims)
}

/// The principal named by `claims` under `map`.
pub(crate) fn principal(
    claims: &Map<String, Value>,
    map: &ClaimMap,
) -> Result<Principal, SignInFailure> {
    let first = |names: &[String]| {
        names.iter().find_map(|name| match claims.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            // A numeric tenant ("customer": 10009) is a tenant too.
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    let tenant = first(&map.tenant)
        .or_else(|| map.fixed_tenant.clone())
        .ok_or_else(|| SignInFailure::Claim(format!(
            "the ID token has no tenant claim ({}) and no fixed tenant is configured (--oidc-tenant)",
            map.tenant.join(", ")
        )))?;
    let user = first(&map.user).ok_or_else(|| {
        SignInFailure::Claim(format!(
            "the ID token has no user id claim ({})",
            map.user.join(", ")
        ))
    })?;
    let name = first(&map.name).unwrap_or_else(|| user.clone());
    Ok(Principal::new(tenant, user, name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map() -> ClaimMap {
        ClaimMap {
            tenant: vec!["tenant".into()],
            fixed_tenant: None,
            user: vec!["preferred_username".into(), "sub".into()],
            name: vec!["name".into()],
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_principal_comes_from_the_first_present_claims() {
        let full = claims(
            json!({"tenant": "10009", "preferred_username": "sara", "sub": "f3a1", "name": "Sara S"}),
        );
        assert_eq!(
            principal(&full, &map()).unwrap(),
            Principal::new("10009", "sara", "Sara S")
        );
        // No preferred_username: sub; no name: the user id; a numeric tenant.
        let bare = claims(json!({"tenant": 10009, "sub": "f3a1", "preferred_username": " "}));
        assert_eq!(
            principal(&bare, &map()).unwrap(),
            Principal::new("10009", "f3a1", "f3a1")
        );
    }

    #[test]
    fn a_missing_tenant_is_refused_unless_one_is_fixed() {
        let untenanted = claims(json!({"sub": "f3a1"}));
        let err = principal(&untenanted, &map()).unwrap_err();
        assert!(
            err.to_string().contains("no tenant claim (tenant)"),
            "{err}"
        );
        let fixed = ClaimMap {
            fixed_tenant: Some("10010".into()),
            ..map()
        };
        assert_eq!(principal(&untenanted, &fixed).unwrap().tenant, "10010");
        // A claim present wins over the fixed tenant.
        let tenanted = claims(json!({"sub": "f3a1", "tenant": "10009"}));
        assert_eq!(principal(&tenanted, &fixed).unwrap().tenant, "10009");
    }
}

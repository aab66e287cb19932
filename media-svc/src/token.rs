//! Playback tokens: a short-lived grant, minted by the gateway after the
//! authorization decision and the audit entry, to fetch one recording of one
//! tenant over HTTP. Format: `base64url(json claims) "." base64url(HMAC-SHA256)`,
//! the MAC taken over a domain label and the encoded claims, so the token can
//! travel in a URL and nobody without the key can forge or alter one.
//!
//! A token is short-lived (a minute, by default) so that a revoked permission
//! or a deletion stops issued links soon; the one Play it was minted for lasts
//! longer (`renewable_until`): until then the gateway renews the link
//! (RenewPlayback) after deciding again, without a second audit event.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Keeps a MAC for this purpose from ever matching one made with the same key elsewhere.
const DOMAIN: &[u8] = b"archive.v1 playback token\n";
/// Tokens longer than this are not even decoded.
const MAX_TOKEN_LEN: usize = 2048;

/// A grant to play `recording_id` of `tenant`, issued to `user_id` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackToken {
    pub tenant: String,
    pub recording_id: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    /// Until when the gateway may renew the link without a new Play (and
    /// audit event); `None`: not renewable. media-svc does not read it.
    pub renewable_until: Option<DateTime<Utc>>,
}

/// Why a token was refused. The HTTP endpoint answers all of them with 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed playback token")]
    Malformed,
    #[error("playback token signature does not verify")]
    BadSignature,
    #[error("playback token expired")]
    Expired,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Tenant.
    t: String,
    /// Recording id.
    r: String,
    /// User id.
    u: String,
    /// Expiry, seconds since the epoch.
    e: i64,
    /// Renewable until, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<i64>,
}

fn mac(key: &[u8], claims: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(DOMAIN);
    mac.update(claims.as_bytes());
    mac
}

impl PlaybackToken {
    /// The token string (URL-safe; expiry kept to whole seconds).
    pub fn sign(&self, key: &[u8]) -> String {
        let claims = Claims {
            t: self.tenant.clone(),
            r: self.recording_id.clone(),
            u: self.user_id.clone(),
            e: self.expires_at.timestamp(),
            s: self.renewable_until.map(|t| t.timestamp()),
        };
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise"));
        let tag = mac(key, &claims).finalize().into_bytes();
        format!("{claims}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks the signature (in constant time) and then the expiry against `now`.
    pub fn verify(token: &str, key: &[u8], now: DateTime<Utc>) -> Result<Self, TokenError> {
        let claims = Self::verify_signature(token, key)?;
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Checks the signature (in constant time) only: the claims of a token
    /// this key signed, expired or not (what a renewal starts from).
    pub fn verify_signature(token: &str, key: &[u8]) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (claims, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        mac(key, claims)
            .verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| TokenError::Malformed)?;
        let c: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        let at = |secs| DateTime::from_timestamp(secs, 0).ok_or(TokenError::Malformed);
        Ok(Self {
            tenant: c.t,
            recording_id: c.r,
            user_id: c.u,
            expires_at: at(c.e)?,
            renewable_until: c.s.map(at).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 11, 23, 8, 46, 15).unwrap()
    }

    fn grant() -> PlaybackToken {
        PlaybackToken {
            tenant: "10009".into(),
            recording_id: "0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f".into(),
            user_id: "paal".into(),
            expires_at: now() + Duration::minutes(5),
            renewable_until: None,
        }
    }

    #[test]
    fn round_trip() {
        let token = grant().sign(b"key");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(
            PlaybackToken::verify(&token, b"key", now()).unwrap(),
            grant()
        );
    }

    #[test]
    fn a_renewable_token_carries_its_window_and_verifies_expired_by_signature_only() {
        let renewable = PlaybackToken {
            renewable_until: Some(now() + Duration::minutes(60)),
            ..grant()
        };
        let token = renewable.sign(b"key");
        assert_eq!(
            PlaybackToken::verify(&token, b"key", now()).unwrap(),
            renewable
        );
        let later = now() + Duration::minutes(10);
        assert_eq!(
            PlaybackToken::verify(&token, b"key", later),
            Err(TokenError::Expired)
        );
        assert_eq!(
            PlaybackToken::verify_signature(&token, b"key").unwrap(),
            renewable
        );
        assert_eq!(
            PlaybackToken::verify_signature(&token, b"other"),
            Err(TokenError::BadSignature)
        );
        // A token without the window (minted before renewals existed) is not renewable.
        let plain = grant().sign(b"key");
        assert_eq!(
            PlaybackToken::verify_signature(&plain, b"key")
                .unwrap()
                .renewable_until,
            None
        );
    }

    #[test]
    fn expiry_is_enforced() {
        let token = grant().sign(b"key");
        let at_expiry = now() + Duration::minutes(5);
        assert_eq!(
            PlaybackToken::verify(&token, b"key", at_expiry),
            Err(TokenError::Expired)
        );
        assert!(PlaybackToken::verify(&token, b"key", at_expiry - Duration::seconds(1)).is_ok());
    }

    #[test]
    fn forgery_and_tampering_are_refused() {
        let token = grant().sign(b"key");
        assert_eq!(
            PlaybackToken::verify(&token, b"other", now()),
            Err(TokenError::BadSignature)
        );

        // Claims of another tenant with the original signature.
        let (_, tag) = token.split_once('.').unwrap();
        let mut other = grant();
        other.tenant = "10010".into();
        let forged_claims = other
            .sign(b"attacker")
            .split_once('.')
            .unwrap()
            .0
            .to_owned();
        let forged = format!("{forged_claims}.{tag}");
        assert_eq!(
            PlaybackToken::verify(&forged, b"key", now()),
            Err(TokenError::BadSignature)
        );

        for bad in ["", ".", "abc", "a.b.c", "!!!.###", &"x".repeat(5000)] {
            assert!(
                PlaybackToken::verify(bad, b"key", now()).is_err(),
                "{bad:?}"
            );
        }
    }
}

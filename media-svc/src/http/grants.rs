//! Playback tokens that verified, remembered by their text: a player seeking
//! through a recording sends the same URL again and again, and checking its
//! HMAC, decoding its base64 and JSON and deriving the recording's keys was
//! a twentieth of a 64 KiB seek's CPU. Only a token that verified with the
//! key is remembered (so none can be forged through here), its expiry is
//! checked on every use, and at most [`CAPACITY`] are kept.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};

use crate::{
    keys::{RecordingId, RecordingKeys},
    token::{PlaybackToken, TokenError},
};

/// Tokens remembered at most; when full, expired ones go, then all.
pub(crate) const CAPACITY: usize = 4096;

/// What a valid token grants: one recording of one tenant, until a time.
#[derive(Debug)]
pub(crate) struct Grant {
    pub(crate) recording: RecordingId,
    pub(crate) keys: RecordingKeys,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Why a token grants nothing (all answered with 403).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the playback token names no valid recording or tenant")]
    Claims,
}

#[derive(Debug, Default)]
pub(crate) struct Grants {
    verified: Mutex<HashMap<Box<str>, Arc<Grant>>>,
}

impl Grants {
    /// The grant of `token` at `now`, verified with `key` unless remembered.
    pub(crate) fn check(
        &self,
        token: &str,
        key: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Arc<Grant>, Refusal> {
        let remembered = self.verified.lock().expect("grants").get(token).cloned();
        if let Some(grant) = remembered {
            if now >= grant.expires_at {
                self.verified.lock().expect("grants").remove(token);
                return Err(TokenError::Expired.into());
            }
            return Ok(grant);
        }
        let claims = PlaybackToken::verify(token, key, now)?;
        let recording = RecordingId::parse(&claims.recording_id, "recording_id")
            .map_err(|_| Refusal::Claims)?;
        if claims.tenant.is_empty() {
            return Err(Refusal::Claims);
        }
        let grant = Arc::new(Grant {
            recording,
            keys: RecordingKeys::new(&claims.tenant, recording),
            expires_at: claims.expires_at,
        });
        let mut verified = self.verified.lock().expect("grants");
        if verified.len() >= CAPACITY {
            verified.retain(|_, g| now < g.expires_at);
            if verified.len() >= CAPACITY {
                verified.clear();
            }
        }
        verified.insert(token.into(), grant.clone());
        Ok(grant)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.verified.lock().expect("grants").len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    const KEY: &[u8] = b"grant test key";
    const ID: &str = "0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    fn token(tenant: &str, recording: &str, expires_at: DateTime<Utc>) -> String {
        PlaybackToken {
            tenant: tenant.into(),
            recording_id: recording.into(),
            user_id: "paal".into(),
            expires_at,
            renewable_until: None,
        }
        .sign(KEY)
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let grants = Grants::default();
        let t = token("10009", ID, now() + Duration::seconds(60));
        let grant = grants.check(&t, KEY, now()).unwrap();
        assert_eq!(grant.recording.to_string(), ID);
        assert_eq!(
            grant.keys.audio.as_ref(),
            format!("tenants/10009/recordings/{ID}.mp3")
        );
        // Remembered: the same grant, even checked with another key.
        let again = grants.check(&t, b"another key", now()).unwrap();
        assert!(Arc::ptr_eq(&grant, &again));
        assert!(matches!(
            grants.check(&t, KEY, now() + Duration::seconds(60)),
            Err(Refusal::Token(TokenError::Expired))
        ));
        assert_eq!(grants.len(), 0);
    }

    #[test]
    fn what_does_not_verify_is_neither_granted_nor_remembered() {
        let grants = Grants::default();
        let forged = token("10009", ID, now() + Duration::seconds(60)).replace('.', ".x");
        assert!(matches!(
            grants.check(&forged, KEY, now()),
            Err(Refusal::Token(_))
        ));
        let mut tampered = token("10009", ID, now() + Duration::seconds(60));
        tampered.insert(3, 'A');
        assert!(grants.check(&tampered, KEY, now()).is_err());
        let no_uuid = token("10009", "not-a-uuid", now() + Duration::seconds(60));
        assert!(matches!(
            grants.check(&no_uuid, KEY, now()),
            Err(Refusal::Claims)
        ));
        let no_tenant = token("", ID, now() + Duration::seconds(60));
        assert!(matches!(
            grants.check(&no_tenant, KEY, now()),
            Err(Refusal::Claims)
        ));
        assert_eq!(grants.len(), 0);
    }

    #[test]
    fn at_most_capacity_tokens_are_remembered() {
        let grants = Grants::default();
        for i in 0..CAPACITY + 10 {
            let t = token(&format!("t{i}"), ID, now() + Duration::seconds(60));
            grants.check(&t, KEY, now()).unwrap();
        }
        assert!(grants.len() <= CAPACITY);
    }
}

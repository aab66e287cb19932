//! Opaque, tamper-evident page tokens. A token carries only the cursor and an
//! HMAC over (tenant, query fingerprint, cursor); the tenant and fingerprint are
//! recomputed when it comes back, so a token from another tenant, for another
//! filter, or edited by hand fails verification and is INVALID_ARGUMENT.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Serialize, de::DeserializeOwned};
use sha2::Sha256;

use crate::FieldViolation;

const MAC_LEN: usize = 32;

#[derive(Clone)]
pub struct PageTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens")
    }
}

impl PageTokens {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, tenant: &str, fingerprint: &[u8], cursor: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        for part in [tenant.as_bytes(), fingerprint, cursor] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    pub fn seal<C: Serialize>(&self, tenant: &str, fingerprint: &[u8], cursor: &C) -> String {
        let mut bytes = serde_json::to_vec(cursor).expect("cursor serialises");
        let tag = self
            .mac(tenant, fingerprint, &bytes)
            .finalize()
            .into_bytes();
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Opens a token; `field` names the request field in the error.
    pub fn open<C: DeserializeOwned>(
        &self,
        token: &str,
        tenant: &str,
        fingerprint: &[u8],
        field: &str,
    ) -> Result<C, FieldViolation> {
        let invalid = || FieldViolation::new(field, "is not a page token of this query");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() <= MAC_LEN {
            return Err(invalid());
        }
        let (cursor, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        self.mac(tenant, fingerprint, cursor)
            .verify_slice(tag)
            .map_err(|_| invalid())?;
        serde_json::from_slice(cursor).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_evidence() {
        let tokens = PageTokens::new(b"k");
        let token = tokens.seal("10009", b"filter-a", &(42i64, "id".to_string()));
        let back: (i64, String) = tokens
            .open(&token, "10009", b"filter-a", "page_token")
            .unwrap();
        assert_eq!(back, (42, "id".to_string()));

        let other_tenant = tokens.open::<(i64, String)>(&token, "10010", b"filter-a", "page_token");
        assert_eq!(other_tenant.unwrap_err().field, "page_token");
        assert!(
            tokens
                .open::<(i64, String)>(&token, "10009", b"filter-b", "p")
                .is_err()
        );
        let mut edited = token.into_bytes();
        edited[2] ^= 1;
        let edited = String::from_utf8(edited).unwrap();
        assert!(
            tokens
                .open::<(i64, String)>(&edited, "10009", b"filter-a", "p")
                .is_err()
        );
        assert!(
            tokens
                .open::<(i64, String)>("garbage!", "10009", b"filter-a", "p")
                .is_err()
        );
    }
}

//! Signed checkpoints of each tenant's chain, kept outside the audit database.
//!
//! A database owner can delete the newest events and move the head back, or
//! edit an event and recompute every later hash: the chain alone still walks
//! clean. A checkpoint is a statement of the chain signed with an Ed25519 key
//! the database cannot read, written to a store the database cannot rewrite
//! (a directory, or S3 with Object Lock); verification then names the first
//! event that disagrees with what was signed.
//!
//! One checkpoint is one line of JSON, byte for byte the same in the
//! checkpoint store and in an export of the trail:
//!
//! ```text
//! {"checkpoint":<statement>,"signature":"<base64 Ed25519 signature over the statement's exact bytes>"}
//! ```
//!
//! where the statement is the compact JSON object
//!
//! ```text
//! {"format":"archive.audit.checkpoint/1","tenant":"10009","from_sequence":1,"sequence":5,
//!  "hash":"<hex of event 5's hash>","previous_checkpoint_sequence":0,
//!  "sign_time":"2026-11-27T10:00:00.000000Z","public_key":"<hex, 32 bytes>",
//!  "event_hashes":["<base64 of event 1's 32-byte hash>", …, "<… event 5's>"]}
//! ```
//!
//! `event_hashes` holds every event `from_sequence..=sequence`, so each event
//! is compared with what was signed, not only the head. `from_sequence` is
//! `previous_checkpoint_sequence + 1` (1 for a tenant's first checkpoint).
//!
//! This module owns the statement and its signature; `key` the key file,
//! `objects` where checkpoints are stored, `signer` the checkpointer that
//! writes them, `config` the settings.

mod config;
mod key;
mod objects;
mod signer;

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::value::RawValue;

use archive_common::convert;
use archive_proto::v1 as pb;

pub use config::{CheckpointConfig, S3Options};
pub use key::{
    ensure_key_file, generate_key_file, key_command, load_key_file, parse_public_key,
    public_key_hex,
};
pub use objects::{CheckpointStore, tenant_segment};
pub use signer::{Checkpointer, MAX_EVENTS, Opened};

/// The statement's format tag; a new layout gets a new tag.
pub const FORMAT: &str = "archive.audit.checkpoint/1";

/// One event's SHA-256, 32 bytes; base64 (standard, padded) in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EventHash(pub [u8; 32]);

impl EventHash {
    /// From the chain's lower-case hex form; `None` when it is not 32 bytes of hex.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl Serialize for EventHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 44];
        let n = STANDARD
            .encode_slice(self.0, &mut buf)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(std::str::from_utf8(&buf[..n]).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for EventHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = EventHash;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the base64 of a 32-byte hash")
            }
            // Decoded in place: a statement carries up to MAX_EVENTS of these.
            fn visit_str<E: de::Error>(self, text: &str) -> Result<EventHash, E> {
                let mut buf = [0u8; 48];
                match STANDARD.decode_slice(text, &mut buf) {
                    Ok(32) => Ok(EventHash(buf[..32].try_into().expect("32 bytes"))),
                    _ => Err(E::custom(format!("{text:?} is not the base64 of 32 bytes"))),
                }
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// What a checkpoint states (see the module comment for the JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub format: String,
    pub tenant: String,
    pub from_sequence: u64,
    /// The head it signs: the last event's sequence and (hex) hash.
    pub sequence: u64,
    pub hash: String,
    /// 0 for the tenant's first checkpoint.
    pub previous_checkpoint_sequence: u64,
    /// RFC 3339, UTC.
    pub sign_time: String,
    /// The signing key's public half, lower-case hex.
    pub public_key: String,
    /// The hashes of events `from_sequence..=sequence`, in order.
    pub event_hashes: Vec<EventHash>,
}

impl Statement {
    /// The hash this statement signed for event `sequence`, if it covers it.
    pub fn event_hash(&self, sequence: u64) -> Option<&EventHash> {
        let index = sequence.checked_sub(self.from_sequence)?;
        self.event_hashes.get(usize::try_from(index).ok()?)
    }

    /// Whether the fields agree with each other (a signed statement always
    /// does unless the signer is broken; checked anyway before it is trusted).
    fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("unknown format {:?}", self.format));
        }
        if self.from_sequence != self.previous_checkpoint_sequence + 1 {
            return Err(format!(
                "from_sequence {} does not follow previous_checkpoint_sequence {}",
                self.from_sequence, self.previous_checkpoint_sequence
            ));
        }
        let count = (self.sequence + 1).checked_sub(self.from_sequence);
        if count != Some(self.event_hashes.len() as u64) || self.event_hashes.is_empty() {
            return Err(format!(
                "{} event hashes for sequences {}..={}",
                self.event_hashes.len(),
                self.from_sequence,
                self.sequence
            ));
        }
        if self.event_hashes.last().copied() != EventHash::from_hex(&self.hash) {
            return Err("the last event hash is not the head's hash".into());
        }
        Ok(())
    }
}

/// A checkpoint as stored: the statement's exact bytes and their signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub statement: String,
    pub signature: [u8; 64],
}

/// The stored line, read back: the statement's exact text is kept by `RawValue`.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    checkpoint: &'a RawValue,
    signature: String,
}

impl Signed {
    /// Serialises `statement` and signs its bytes.
    pub fn sign(statement: &Statement, key: &SigningKey) -> Self {
        let statement = serde_json::to_string(statement).expect("a statement serialises");
        let signature = key.sign(statement.as_bytes()).to_bytes();
        Self {
            statement,
            signature,
        }
    }

    /// The one line stored and exported, without the line break.
    pub fn to_line(&self) -> String {
        format!(
            "{{\"checkpoint\":{},\"signature\":\"{}\"}}",
            self.statement,
            self.signature_base64()
        )
    }

    pub fn signature_base64(&self) -> String {
        STANDARD.encode(self.signature)
    }

    /// Reads a stored line (a trailing line break is allowed). Says why not,
    /// for the verification report.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let line: Line = serde_json::from_slice(bytes.trim_ascii_end())
            .map_err(|e| format!("unreadable ({e})"))?;
        let signature = STANDARD
            .decode(&line.signature)
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
            .ok_or("the signature is not 64 bytes of base64")?;
        Ok(Self {
            statement: line.checkpoint.get().to_owned(),
            signature,
        })
    }

    /// The statement, if the signature holds for one of `keys` and the
    /// statement is well-formed; otherwise why not ("bad signature", …).
    pub fn open(&self, keys: &[VerifyingKey]) -> Result<Statement, String> {
        let signature = Signature::from_bytes(&self.signature);
        let Some(key) = keys
            .iter()
            .find(|k| k.verify(self.statement.as_bytes(), &signature).is_ok())
        else {
            // Naming the key it claims helps tell a rotated key from a forgery.
            let claimed = serde_json::from_str::<Statement>(&self.statement)
                .map(|s| s.public_key)
                .unwrap_or_default();
            let known = keys.iter().any(|k| public_key_hex(k) == claimed);
            return Err(if claimed.is_empty() || known {
                "bad signature".into()
            } else {
                format!("bad signature (its statement names another key, {claimed})")
            });
        };
        let statement: Statement = serde_json::from_str(&self.statement)
            .map_err(|e| format!("signed statement unreadable ({e})"))?;
        statement
            .check()
            .map_err(|e| format!("malformed statement: {e}"))?;
        if statement.public_key != public_key_hex(key) {
            return Err("malformed statement: public_key is not the signing key".into());
        }
        Ok(statement)
    }

    /// The answer of GetCheckpoint.
    pub fn to_proto(&self, statement: &Statement) -> pb::Checkpoint {
        let sign_time = chrono::DateTime::parse_from_rfc3339(&statement.sign_time)
            .ok()
            .map(|t| convert::timestamp(t.with_timezone(&chrono::Utc)));
        pb::Checkpoint {
            customer: statement.tenant.clone(),
            sequence: statement.sequence,
            hash: statement.hash.clone(),
            sign_time,
            statement: self.statement.clone(),
            signature: self.signature_base64(),
            public_key: statement.public_key.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn statement(key: &SigningKey) -> Statement {
        let hashes: Vec<EventHash> = (1..=3u8).map(|i| EventHash([i; 32])).collect();
        Statement {
            format: FORMAT.into(),
            tenant: "10009".into(),
            from_sequence: 1,
            sequence: 3,
            hash: hex::encode([3u8; 32]),
            previous_checkpoint_sequence: 0,
            sign_time: "2026-11-27T10:00:00.000000Z".into(),
            public_key: public_key_hex(&key.verifying_key()),
            event_hashes: hashes,
        }
    }

    #[test]
    fn a_signed_line_round_trips_and_opens() {
        let k = key(1);
        let s = statement(&k);
        let signed = Signed::sign(&s, &k);
        let line = signed.to_line();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("{\"checkpoint\":{\"format\":\"archive.audit.checkpoint/1\""));
        assert!(line.contains(&format!(
            "\"event_hashes\":[\"{}\"",
            STANDARD.encode([1u8; 32])
        )));
        let back = Signed::parse(format!("{line}\n").as_bytes()).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.open(&[k.verifying_key()]).unwrap(), s);
        assert_eq!(s.event_hash(2), Some(&EventHash([2; 32])));
        assert_eq!(s.event_hash(4), None);
        assert_eq!(s.event_hash(0), None);
    }

    #[test]
    fn a_changed_statement_or_another_key_is_a_bad_signature() {
        let k = key(1);
        let line = Signed::sign(&statement(&k), &k).to_line();
        // One character of the statement changed.
        let forged = line.replacen("\"sequence\":3", "\"sequence\":2", 1);
        let err = Signed::parse(forged.as_bytes())
            .unwrap()
            .open(&[k.verifying_key()])
            .unwrap_err();
        assert_eq!(err, "bad signature");
        // Whitespace counts too: the exact bytes are signed.
        let spaced = line.replacen("\"tenant\":", "\"tenant\": ", 1);
        let err = Signed::parse(spaced.as_bytes())
            .unwrap()
            .open(&[k.verifying_key()])
            .unwrap_err();
        assert_eq!(err, "bad signature");
        // Signed by another key entirely.
        let other = key(2);
        let err = Signed::sign(&statement(&other), &other)
            .open(&[k.verifying_key()])
            .unwrap_err();
        assert!(
            err.starts_with("bad signature (its statement names another key"),
            "{err}"
        );
        // Any of several trusted keys will do.
        let signed = Signed::sign(&statement(&other), &other);
        assert!(
            signed
                .open(&[k.verifying_key(), other.verifying_key()])
                .is_ok()
        );
    }

    #[test]
    fn malformed_lines_and_statements_are_named() {
        assert!(
            Signed::parse(b"not json")
                .unwrap_err()
                .starts_with("unreadable")
        );
        assert!(
            Signed::parse(b"{\"checkpoint\":{},\"signature\":\"AAAA\"}")
                .unwrap_err()
                .contains("64 bytes")
        );
        let k = key(1);
        let mut s = statement(&k);
        s.event_hashes.pop();
        let err = Signed::sign(&s, &k).open(&[k.verifying_key()]).unwrap_err();
        assert!(err.contains("2 event hashes for sequences 1..=3"), "{err}");
        let mut s = statement(&k);
        s.hash = hex::encode([9u8; 32]);
        let err = Signed::sign(&s, &k).open(&[k.verifying_key()]).unwrap_err();
        assert!(err.contains("head's hash"), "{err}");
        let mut s = statement(&k);
        s.public_key = public_key_hex(&key(2).verifying_key());
        let err = Signed::sign(&s, &k).open(&[k.verifying_key()]).unwrap_err();
        assert!(err.contains("not the signing key"), "{err}");
        let mut s = statement(&k);
        s.from_sequence = 2;
        let err = Signed::sign(&s, &k).open(&[k.verifying_key()]).unwrap_err();
        assert!(err.contains("does not follow"), "{err}");
    }

    #[test]
    fn event_hashes_are_32_bytes_of_base64() {
        let ok: EventHash =
            serde_json::from_str(&format!("\"{}\"", STANDARD.encode([7u8; 32]))).unwrap();
        assert_eq!(ok, EventHash([7; 32]));
        for bad in [
            STANDARD.encode([7u8; 31]),
            STANDARD.encode([7u8; 33]),
            "!!".into(),
        ] {
            assert!(serde_json::from_str::<EventHash>(&format!("\"{bad}\"")).is_err());
        }
        assert_eq!(
            EventHash::from_hex(&"ab".repeat(32)),
            Some(EventHash([0xab; 32]))
        );
        assert_eq!(EventHash::from_hex("abc"), None);
    }
}

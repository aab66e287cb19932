//! Object keys. They are derived from the verified tenant and a recording id
//! that must be a UUID, so no request can name (or escape to) another key:
//!
//! - `tenants/{tenant}/recordings/{id}.mp3` — the file;
//! - `tenants/{tenant}/recordings/{id}.json` — its metadata, written last: a
//!   recording exists only once this exists;
//! - `staging/{tenant}/{id}.{upload}.mp3` — an upload in progress (a lifecycle
//!   rule on `staging/` can sweep what crashed uploads leave behind).

use archive_common::FieldViolation;
use object_store::path::{Path, PathPart};
use uuid::Uuid;

/// A validated recording id (a UUID), in its canonical lower-case form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordingId(Uuid);

impl RecordingId {
    /// Parses a request field; `field` names it in the error.
    pub fn parse(value: &str, field: &str) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            return Err(FieldViolation::missing(field));
        }
        Uuid::try_parse(value)
            .map(Self)
            .map_err(|_| FieldViolation::new(field, "must be a UUID"))
    }

    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for RecordingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The keys of one recording of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingKeys {
    pub audio: Path,
    pub sidecar: Path,
    tenant: String,
    id: RecordingId,
}

impl RecordingKeys {
    /// `tenant` comes from the verified principal; it is percent-encoded as one
    /// path segment, so `/`, `.` or `..` in it cannot change the layout.
    pub fn new(tenant: &str, id: RecordingId) -> Self {
        // An empty segment would be dropped from the path; the identity layer
        // never yields an empty tenant, but a key must never depend on that.
        let tenant_part = if tenant.is_empty() { "%00" } else { tenant };
        let dir = |name: String| {
            Path::from_iter([
                PathPart::from("tenants"),
                PathPart::from(tenant_part),
                PathPart::from("recordings"),
                PathPart::from(name),
            ])
        };
        Self {
            audio: dir(format!("{id}.mp3")),
            sidecar: dir(format!("{id}.json")),
            tenant: tenant_part.to_owned(),
            id,
        }
    }

    /// A fresh staging key for one upload attempt: one level under the
    /// tenant, no directory of its own (on the local filesystem a directory
    /// per upload would have to be removed afterwards, and removing one
    /// raced with a concurrent upload creating its own beside it).
    pub fn staging(&self) -> Path {
        Path::from_iter([
            PathPart::from("staging"),
            PathPart::from(self.tenant.as_str()),
            PathPart::from(format!("{}.{}.mp3", self.id, Uuid::new_v4().simple())),
        ])
    }

    pub fn id(&self) -> RecordingId {
        self.id
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f";

    #[test]
    fn keys_are_tenant_scoped() {
        let id = RecordingId::parse(ID, "recording_id").unwrap();
        let keys = RecordingKeys::new("10009", id);
        assert_eq!(
            keys.audio.as_ref(),
            format!("tenants/10009/recordings/{ID}.mp3")
        );
        assert_eq!(
            keys.sidecar.as_ref(),
            format!("tenants/10009/recordings/{ID}.json")
        );
        assert!(
            keys.staging()
                .as_ref()
                .starts_with(&format!("staging/10009/{ID}."))
        );
        assert_ne!(keys.staging(), keys.staging());
    }

    #[test]
    fn tenant_cannot_escape_its_segment() {
        let id = RecordingId::parse(ID, "recording_id").unwrap();
        for tenant in ["..", "a/b", "../10010", ""] {
            let keys = RecordingKeys::new(tenant, id);
            let parts: Vec<_> = keys.audio.parts().collect();
            assert_eq!(parts.len(), 4, "{tenant:?} -> {}", keys.audio);
            assert_eq!(parts[0].as_ref(), "tenants");
            assert_ne!(parts[1].as_ref(), "..");
            assert_ne!(parts[1].as_ref(), "10010");
        }
    }

    #[test]
    fn ids_must_be_uuids() {
        assert_eq!(
            RecordingId::parse("", "recording_id").unwrap_err().field,
            "recording_id"
        );
        for bad in [
            "../x",
            "123",
            "not-a-uuid",
            "0b7e6a8c3f0e4c1a9d2e5b6a7c8d9e0f0",
        ] {
            let err = RecordingId::parse(bad, "recording_ids[2]").unwrap_err();
            assert_eq!(err.field, "recording_ids[2]");
        }
        // Upper case and simple forms name the same recording as the canonical one.
        let upper = RecordingId::parse(&ID.to_uppercase(), "r").unwrap();
        assert_eq!(upper.to_string(), ID);
    }
}

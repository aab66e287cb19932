//! The operator credential: a random bearer token, kept in a file readable
//! by its owner only (embedded mode: `DATA_DIR/operator.token`, made on the
//! first start; split mode: `gateway serve --operator-token-file`). The
//! gateway compares what a caller presents with it in constant time; a
//! gateway configured without one refuses every operator call.

use std::{path::Path, sync::Arc};

use hmac::{Hmac, Mac};
use tonic::{Request, Status, metadata::MetadataMap, service::Interceptor};

/// The file's name in the embedded suite's data directory.
pub const FILE_NAME: &str = "operator.token";

type Tag = Hmac<sha2::Sha256>;

/// The configured credential, or none (every operator call refused).
#[derive(Clone, Default)]
pub struct OperatorCredential(Option<Arc<str>>);

impl std::fmt::Debug for OperatorCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "OperatorCredential(…)"
        } else {
            "OperatorCredential(none)"
        })
    }
}

/// A token's tag under a fixed label: comparing tags (with the MAC's
/// constant-time check) reveals nothing of the token by timing.
fn tag(token: &str) -> Tag {
    let mut mac = Tag::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(b"archive operator credential");
    mac
}

impl OperatorCredential {
    /// The token itself (tests, and a file just read).
    pub fn new(token: &str) -> Self {
        Self(Some(token.trim().into()))
    }

    /// None configured.
    pub fn none() -> Self {
        Self(None)
    }

    /// Reads the token file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let token =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if token.trim().is_empty() {
            return Err(format!("{}: empty operator credential", path.display()));
        }
        Ok(Self::new(&token))
    }

    /// Reads `dir/operator.token`, creating it (owner-only) when missing.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            let token = format!(
                "op_{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let tmp = dir.join(format!("{FILE_NAME}.tmp"));
            std::fs::write(&tmp, &token)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            }
            std::fs::rename(&tmp, &path)?;
        }
        Self::load(&path).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn token(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Whether `presented` (an `Authorization` header's value) is
    /// `Bearer <this credential>`.
    pub fn check(&self, presented: Option<&str>) -> Result<(), Status> {
        let Some(expected) = &self.0 else {
            return Err(Status::permission_denied(
                "this gateway has no operator credential configured (--operator-token-file)",
            ));
        };
        let token = presented
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated(
                    "the operator credential is missing (authorization: Bearer …)",
                )
            })?;
        let expected = tag(expected).finalize().into_bytes();
        tag(token.trim())
            .verify_slice(&expected)
            .map_err(|_| Status::unauthenticated("not the operator credential"))
    }

    /// [`Self::check`] on gRPC metadata.
    pub fn check_metadata(&self, metadata: &MetadataMap) -> Result<(), Status> {
        self.check(metadata.get("authorization").and_then(|v| v.to_str().ok()))
    }
}

/// Admits a gRPC call only with the operator credential.
impl Interceptor for OperatorCredential {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.check_metadata(request.metadata())?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn only_the_configured_token_passes() {
        let credential = OperatorCredential::new("op_secret\n");
        assert!(credential.check(Some("Bearer op_secret")).is_ok());
        for wrong in [
            None,
            Some("op_secret"),
            Some("Bearer op_other"),
            Some("Bearer "),
        ] {
            assert_eq!(
                credential.check(wrong).unwrap_err().code(),
                Code::Unauthenticated,
                "{wrong:?}"
            );
        }
        let none = OperatorCredential::none();
        assert_eq!(
            none.check(Some("Bearer op_secret")).unwrap_err().code(),
            Code::PermissionDenied
        );
    }

    #[test]
    fn the_file_is_made_once_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let first = OperatorCredential::load_or_create(dir.path()).unwrap();
        let again = OperatorCredential::load_or_create(dir.path()).unwrap();
        assert_eq!(first.token(), again.token());
        assert!(first.token().unwrap().starts_with("op_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

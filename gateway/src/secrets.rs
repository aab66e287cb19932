//! Embedded mode's keys: generated on first start and kept in the data
//! directory, so tokens and page tokens stay valid across restarts.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secrets {
    /// Signs users' bearer tokens.
    pub jwt_secret: String,
    /// Signs playback URLs that media-svc serves.
    pub playback_key: String,
}

pub(crate) fn random_key() -> String {
    // Two v4 UUIDs: 244 random bits from the OS generator.
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Secrets {
    /// Reads `dir/secrets.json` of a suite that has started once.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("secrets.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "{} does not exist: start the suite once with this data directory \
                     (cargo run --release -- --data-dir {}) or pass --data-dir",
                    path.display(),
                    dir.display()
                )
            } else {
                format!("{}: {e}", path.display())
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads `dir/secrets.json`, creating it (owner-only) on first start.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join("secrets.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secrets = Self {
                    jwt_secret: random_key(),
                    playback_key: random_key(),
                };
                let json = serde_json::to_vec_pretty(&secrets).expect("serialises");
                let tmp = dir.join("secrets.json.tmp");
                std::fs::write(&tmp, json)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
                }
                std::fs::rename(&tmp, &path)?;
                Ok(secrets)
            }
            Err(e) => Err(e),
        }
    }
}

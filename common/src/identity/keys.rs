//! Key material: Ed25519 private keys in PKCS#8 PEM files (what
//! `openssl genpkey -algorithm ed25519` writes), one per holder and readable
//! by that holder's process only, and the trust file: the public keys every
//! service verifies with, each naming its holder and [`Role`]. The trust file
//! holds nothing secret (a Kubernetes ConfigMap); a private key is a Secret
//! mounted into its own holder's pods only.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use ed25519_dalek::{
    SigningKey, VerifyingKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::IdentityError;

/// What a key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Users' principals (after verifying their bearer tokens) and its own
    /// `system:…` principals.
    Gateway,
    /// Its own `system:…` principals only.
    Service,
    /// Recording-platform credentials (the operator's key; no service holds it).
    Authority,
}

/// One public key the suite trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The `kid` of tokens signed with it: `<holder>.<16 hex digits>`.
    pub kid: String,
    /// Who holds the private half: `gateway`, `archive-svc`, …, `authority`.
    pub holder: String,
    pub role: Role,
    /// The 32-byte Ed25519 public key, lower-case hex.
    pub public_key: String,
    /// Refused after this time (a key rotated out, kept for a window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<DateTime<Utc>>,
}

/// The trust file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustFile {
    pub keys: Vec<TrustedKey>,
}

/// The holders of a suite and their roles: the gateway, the four services
/// and the operator's authority.
pub const SUITE_HOLDERS: [(&str, Role); 6] = [
    ("gateway", Role::Gateway),
    ("archive-svc", Role::Service),
    ("media-svc", Role::Service),
    ("authz-svc", Role::Service),
    ("audit-svc", Role::Service),
    ("authority", Role::Authority),
];

/// The key id of `holder`'s `key`.
pub fn kid(holder: &str, key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("{holder}.{}", hex::encode(&digest[..8]))
}

fn keys_error(path: &Path, what: impl std::fmt::Display) -> IdentityError {
    IdentityError::Keys(format!("{}: {what}", path.display()))
}

impl TrustFile {
    pub fn read(path: &Path) -> Result<Self, IdentityError> {
        let text = fs::read(path).map_err(|e| keys_error(path, e))?;
        let file: Self = serde_json::from_slice(&text)
            .map_err(|e| keys_error(path, format!("not a trust file: {e}")))?;
        for key in &file.keys {
            parse_public_key(&key.public_key)
                .map_err(|why| keys_error(path, format!("key {}: {why}", key.kid)))?;
        }
        Ok(file)
    }

    /// Replaces the file at `path` atomically (a verifier reloading it never
    /// sees half of it).
    pub fn write(&self, path: &Path) -> Result<(), IdentityError> {
        let json = serde_json::to_vec_pretty(self).expect("a trust file serialises");
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, json)
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|e| keys_error(path, e))
    }

    /// Trusts `key` as `holder`'s, with `role`; answers its kid.
    pub fn add(&mut self, holder: &str, role: Role, key: &VerifyingKey) -> String {
        let kid = kid(holder, key);
        self.keys.retain(|k| k.kid != kid);
        self.keys.push(TrustedKey {
            kid: kid.clone(),
            holder: holder.to_owned(),
            role,
            public_key: hex::encode(key.as_bytes()),
            not_after: None,
        });
        kid
    }

    /// The entry of `key`, if trusted.
    pub fn entry_of(&self, key: &VerifyingKey) -> Option<&TrustedKey> {
        let hex = hex::encode(key.as_bytes());
        self.keys.iter().find(|k| k.public_key == hex)
    }
}

/// Reads a public key given as 64 hex digits.
pub(crate) fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes)
        .map_err(|_| format!("{text:?} is not a public key (64 hex digits)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| format!("{text:?} is not an Ed25519 public key"))
}

/// Reads a private key file.
pub fn load_key_file(path: &Path) -> Result<SigningKey, IdentityError> {
    let pem = match fs::read_to_string(path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(keys_error(path, "no such key file"));
        }
        Err(e) => return Err(keys_error(path, e)),
    };
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| keys_error(path, format!("not an Ed25519 PKCS#8 PEM private key ({e})")))
}

/// Creates a new private key at `path`, readable and writable by its owner
/// only (0600); refuses to replace an existing file. Answers the public half.
pub fn generate_key_file(path: &Path) -> Result<VerifyingKey, IdentityError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| keys_error(path, format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| keys_error(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| keys_error(dir, e))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| keys_error(path, e))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| keys_error(path, e))?;
    Ok(key.verifying_key())
}

/// A directory of keys: `<holder>.pem` for each holder and `trust.json`.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub dir: PathBuf,
}

impl KeySet {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn trust_file(&self) -> PathBuf {
        self.dir.join("trust.json")
    }

    pub fn key_file(&self, holder: &str) -> PathBuf {
        self.dir.join(format!("{holder}.pem"))
    }

    /// `holder`'s configuration: its key file and the trust file.
    pub fn config(&self, holder: &str) -> super::IdentityConfig {
        super::IdentityConfig::new(self.key_file(holder), self.trust_file())
    }

    /// Creates what is missing of the suite's keys ([`SUITE_HOLDERS`]) and
    /// trusts each; keys already there are kept.
    pub fn ensure_suite(&self) -> Result<TrustFile, IdentityError> {
        fs::create_dir_all(&self.dir).map_err(|e| keys_error(&self.dir, e))?;
        let path = self.trust_file();
        let mut trust = if path.exists() {
            TrustFile::read(&path)?
        } else {
            TrustFile::default()
        };
        let before = trust.clone();
        for (holder, role) in SUITE_HOLDERS {
            let file = self.key_file(holder);
            let public = if file.exists() {
                load_key_file(&file)?.verifying_key()
            } else {
                generate_key_file(&file)?
            };
            if trust.entry_of(&public).is_none() {
                trust.add(holder, role, &public);
            }
        }
        if trust != before {
            trust.write(&path)?;
        }
        Ok(trust)
    }

    /// Rotates `holder`'s key: the current file moves to
    /// `<holder>.<kid>.pem`, a new key takes its place and is trusted, and
    /// the old one stays trusted until `now + window`. Answers the new kid.
    pub fn rotate(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<String, IdentityError> {
        let path = self.trust_file();
        let mut trust = TrustFile::read(&path)?;
        let file = self.key_file(holder);
        let old = load_key_file(&file)?.verifying_key();
        let role = trust
            .entry_of(&old)
            .map(|k| k.role)
            .ok_or_else(|| keys_error(&file, format!("{holder}'s key is not in the trust file")))?;
        let old_kid = kid(holder, &old);
        let kept = self.dir.join(format!("{old_kid}.pem"));
        fs::rename(&file, &kept).map_err(|e| keys_error(&file, e))?;
        let new = generate_key_file(&file)?;
        for key in &mut trust.keys {
            if key.kid == old_kid {
                key.not_after = Some(now + window);
            }
        }
        let new_kid = trust.add(holder, role, &new);
        trust.write(&path)?;
        Ok(new_kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suite_key_set_is_private_trusted_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let set = KeySet::new(dir.path().join("keys"));
        let trust = set.ensure_suite().unwrap();
        assert_eq!(trust.keys.len(), SUITE_HOLDERS.len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(set.key_file("gateway"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second start keeps every key.
        assert_eq!(set.ensure_suite().unwrap(), trust);
        let gateway = load_key_file(&set.key_file("gateway")).unwrap();
        let entry = trust.entry_of(&gateway.verifying_key()).unwrap();
        assert_eq!(
            (entry.holder.as_str(), entry.role),
            ("gateway", Role::Gateway)
        );
        assert!(generate_key_file(&set.key_file("gateway")).is_err());
    }

    #[test]
    fn rotation_trusts_both_keys_until_the_window_ends() {
        let dir = tempfile::tempdir().unwrap();
        let set = KeySet::new(dir.path());
        set.ensure_suite().unwrap();
        let old = load_key_file(&set.key_file("archive-svc")).unwrap();
        let now = Utc::now();
        let new_kid = set
            .rotate("archive-svc", now, chrono::Duration::hours(1))
            .unwrap();
        let trust = TrustFile::read(&set.trust_file()).unwrap();
        let old_entry = trust.entry_of(&old.verifying_key()).unwrap();
        assert_eq!(old_entry.not_after, Some(now + chrono::Duration::hours(1)));
        let new = load_key_file(&set.key_file("archive-svc")).unwrap();
        assert_eq!(kid("archive-svc", &new.verifying_key()), new_kid);
        assert_eq!(
            trust.entry_of(&new.verifying_key()).unwrap().role,
            Role::Service
        );
        assert!(dir.path().join(format!("{}.pem", old_entry.kid)).exists());
    }

    #[test]
    fn bad_files_are_named_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = load_key_file(&dir.path().join("nope.pem"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope.pem: no such key file"), "{missing}");
        let path = dir.path().join("k.pem");
        fs::write(&path, "not a key").unwrap();
        assert!(
            load_key_file(&path)
                .unwrap_err()
                .to_string()
                .contains("PKCS#8")
        );
        let trust = dir.path().join("trust.json");
        fs::write(
            &trust,
            r#"{"keys":[{"kid":"x","holder":"x","role":"service","public_key":"zz"}]}"#,
        )
        .unwrap();
        let err = TrustFile::read(&trust).unwrap_err().to_string();
        assert!(
            err.contains("key x") && err.contains("not a public key"),
            "{err}"
        );
    }
}

//! The checkpoint signing key: an Ed25519 private key in a PKCS#8 PEM file
//! (what `openssl genpkey -algorithm ed25519` writes), readable by audit-svc's
//! process and never stored in a database. Also `audit-svc checkpoint-key`,
//! which prints the public half an auditor verifies with.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use ed25519_dalek::{
    SigningKey, VerifyingKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding},
};

use crate::Error;

/// Reads the signing key from `path`.
pub fn load_key_file(path: &Path) -> Result<SigningKey, Error> {
    let why = |what: String| Error::Checkpoints(format!("{}: {what}", path.display()));
    let pem = fs::read_to_string(path).map_err(|e| why(e.to_string()))?;
    let key = SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| why(format!("not an Ed25519 PKCS#8 PEM private key ({e})")))?;
    warn_if_shared(path);
    Ok(key)
}

/// Creates a new key at `path`, readable and writable by its owner only
/// (0600); refuses to replace an existing file. Answers the public half.
pub fn generate_key_file(path: &Path) -> Result<VerifyingKey, Error> {
    let why = |what: String| Error::Checkpoints(format!("{}: {what}", path.display()));
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| why(format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| why(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| why(e.to_string()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| why(e.to_string()))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| why(e.to_string()))?;
    Ok(key.verifying_key())
}

/// The key at `path`, generated first if there is no file (the embedded suite).
pub fn ensure_key_file(path: &Path) -> Result<VerifyingKey, Error> {
    if path.exists() {
        Ok(load_key_file(path)?.verifying_key())
    } else {
        generate_key_file(path)
    }
}

/// Lower-case hex of the 32-byte public key.
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// Reads a public key given as 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes)
        .map_err(|_| format!("{text:?} is not a public key (64 hex digits)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| format!("{text:?} is not an Ed25519 public key"))
}

/// A key others may read is a key others may sign with.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Group access is how a Kubernetes Secret volume lets a non-root
        // process read a file (mode 0440 with fsGroup), so only access for
        // every other user is worth a warning.
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o007 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the checkpoint key file is readable by every user: chmod 600 (or 440 for its group) it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[derive(clap::Parser, Debug)]
#[command(
    name = "audit-svc checkpoint-key",
    about = "Print the public key (hex) of the checkpoint signing key, which auditors verify with"
)]
struct KeyArgs {
    /// The PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519 -out F`).
    #[arg(long, env = "AUDIT_CHECKPOINT_KEY_FILE")]
    key_file: PathBuf,
    /// Create the key file (mode 0600) if it does not exist yet.
    #[arg(long)]
    generate: bool,
}

/// `audit-svc checkpoint-key --key-file F [--generate]` (`args` start with
/// the subcommand's own name): the public key in hex. Needs no other
/// configuration.
pub fn key_command(args: impl IntoIterator<Item = String>) -> Result<String, Error> {
    use clap::Parser;
    let args = KeyArgs::parse_from(args);
    let key = if args.generate {
        ensure_key_file(&args.key_file)?
    } else {
        load_key_file(&args.key_file)?.verifying_key()
    };
    Ok(public_key_hex(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_file_is_private_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/checkpoint.pem");
        let public = generate_key_file(&path).unwrap();
        assert_eq!(load_key_file(&path).unwrap().verifying_key(), public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        // Never replaced; ensure_key_file keeps it.
        assert!(generate_key_file(&path).is_err());
        assert_eq!(ensure_key_file(&path).unwrap(), public);
        let hex = public_key_hex(&public);
        assert_eq!(hex.len(), 64);
        assert_eq!(parse_public_key(&hex).unwrap(), public);
    }

    #[test]
    fn bad_keys_are_refused_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        fs::write(&path, "not a key").unwrap();
        let err = load_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("PKCS#8"), "{err}");
        assert!(load_key_file(&dir.path().join("missing.pem")).is_err());
        assert!(parse_public_key("abc").is_err());
        assert!(parse_public_key(&"zz".repeat(32)).is_err());
    }

    /// A key as OpenSSL writes it loads (when `openssl` is installed).
    #[test]
    fn an_openssl_key_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openssl.pem");
        let made = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&path)
            .status();
        if !matches!(made, Ok(s) if s.success()) {
            eprintln!("openssl not available: skipped");
            return;
        }
        let key = load_key_file(&path).unwrap();
        // openssl agrees on the public half.
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-outform", "DER", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        // The DER SubjectPublicKeyInfo ends with the raw 32-byte key.
        assert_eq!(
            &out.stdout[out.stdout.len() - 32..],
            key.verifying_key().as_bytes()
        );
    }
}

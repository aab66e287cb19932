//! `gateway credentials …`: what an operator issues. The suite's keys (one
//! private key per process, one trust file of public keys), a recording
//! platform's credential (signed by the operator's authority key, naming
//! its tenants), a user's bearer token for `gateway serve` (signed with the
//! configured user-token secret), and key rotation with a window in which
//! the old and the new key are both accepted.

use std::path::PathBuf;

use archive_common::{
    Principal, SystemClock,
    identity::{IdentityKey, KeySet, SharedKey, Trust, TrustFile, load_key_file},
};

/// Operator commands (`gateway credentials --help`).
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Credentials {
    /// Creates what is missing of the suite's keys in `--keys-dir`: a
    /// private key per process (gateway, archive-svc, media-svc, authz-svc,
    /// audit-svc), the operator's authority key, and trust.json.
    Init(KeysDir),
    /// Prints the trusted keys (holder, role, kid, until when).
    List(KeysDir),
    /// Issues a recording platform's credential: it may ingest calls and
    /// upload recordings for the named tenants, and nothing else.
    Platform {
        /// The platform's name, as the audit trail shows it (`system:NAME`).
        name: String,
        /// A tenant it may act for (repeat for several).
        #[arg(long = "tenant", required = true)]
        tenants: Vec<String>,
        /// Days the credential is valid.
        #[arg(long, default_value_t = 365)]
        days: i64,
        #[command(flatten)]
        keys: KeysDir,
    },
    /// Prints a user's bearer token for the gateway, signed with its
    /// user-token secret (`ARCHIVE_JWT_SECRET`, or the data directory's).
    User {
        /// The user's login id (as created in authz-svc).
        user_id: String,
        #[arg(long)]
        tenant: String,
        /// The name the page and the audit trail show.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 12 * 3600)]
        ttl: i64,
        /// The gateway's `ARCHIVE_JWT_SECRET`; without it, the embedded
        /// suite's (`--data-dir`).
        #[arg(long, env = "ARCHIVE_JWT_SECRET", hide_env_values = true)]
        jwt_secret: Option<String>,
    },
    /// Replaces HOLDER's key: the new one is trusted at once, the old one
    /// until the window ends (restart HOLDER's processes within it).
    Rotate {
        /// gateway, archive-svc, media-svc, authz-svc, audit-svc or authority.
        holder: String,
        /// Minutes the old key stays accepted.
        #[arg(long, default_value_t = 60)]
        window_minutes: i64,
        #[command(flatten)]
        keys: KeysDir,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct KeysDir {
    /// The keys directory (`<holder>.pem` files and trust.json); default
    /// the embedded suite's `DATA_DIR/keys`.
    #[arg(long = "keys-dir", env = "ARCHIVE_KEYS_DIR")]
    pub dir: Option<PathBuf>,
}

impl KeysDir {
    fn set(&self, data_dir: &std::path::Path) -> KeySet {
        KeySet::new(self.dir.clone().unwrap_or_else(|| data_dir.join("keys")))
    }
}

/// Runs `command`; what it prints on success.
pub fn run(command: &Credentials, data_dir: &std::path::Path) -> Result<String, String> {
    let text = |e: archive_common::IdentityError| e.to_string();
    match command {
        Credentials::Init(keys) => {
            let set = keys.set(data_dir);
            let trust = set.ensure_suite().map_err(text)?;
            Ok(format!(
                "{}\nKeys in {}: mount <holder>.pem into that holder's processes only \
                 (ARCHIVE_IDENTITY_KEY_FILE), trust.json into every process \
                 (ARCHIVE_TRUST_FILE); keep authority.pem with the operator.",
                describe(&trust),
                set.dir.display()
            ))
        }
        Credentials::List(keys) => {
            let set = keys.set(data_dir);
            Ok(describe(&TrustFile::read(&set.trust_file()).map_err(text)?))
        }
        Credentials::Platform {
            name,
            tenants,
            days,
            keys,
        } => {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err("the platform's name must be one word, e.g. dialer-eu".into());
            }
            let set = keys.set(data_dir);
            let authority = signer(&set, "authority")?;
            Ok(authority
                .issue_platform(name, tenants, chrono::Duration::days((*days).max(1)))
                .token()
                .to_owned())
        }
        Credentials::User {
            user_id,
            tenant,
            name,
            ttl,
            jwt_secret,
        } => {
            let secret = match jwt_secret {
                Some(secret) => secret.clone(),
                None => crate::Secrets::load(data_dir)?.jwt_secret,
            };
            let principal = Principal::new(
                tenant,
                user_id,
                name.clone().unwrap_or_else(|| user_id.clone()),
            );
            Ok(
                SharedKey::new(secret.as_bytes(), crate::auth::AUDIENCE, *ttl)
                    .sign(&principal, chrono::Utc::now()),
            )
        }
        Credentials::Rotate {
            holder,
            window_minutes,
            keys,
        } => {
            let set = keys.set(data_dir);
            let kid = set
                .rotate(
                    holder,
                    chrono::Utc::now(),
                    chrono::Duration::minutes(*window_minutes),
                )
                .map_err(text)?;
            Ok(format!(
                "{holder} now signs with {kid} (restart its processes to use it); its old \
                 key is accepted for {window_minutes} more minutes. Every process re-reads \
                 trust.json by itself."
            ))
        }
    }
}

fn signer(set: &KeySet, holder: &str) -> Result<IdentityKey, String> {
    let trust = Trust::load(&set.trust_file()).map_err(|e| e.to_string())?;
    let key = load_key_file(&set.key_file(holder)).map_err(|e| e.to_string())?;
    IdentityKey::new(&key, &trust, std::sync::Arc::new(SystemClock)).map_err(|e| e.to_string())
}

fn describe(trust: &TrustFile) -> String {
    trust
        .keys
        .iter()
        .map(|k| {
            let until = k
                .not_after
                .map_or_else(|| "no end".to_owned(), |t| format!("until {t}"));
            format!("{:<12} {:<10?} {}  {until}", k.holder, k.role, k.kid)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

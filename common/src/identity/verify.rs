//! A process's identity as configured ([`IdentityConfig`]: its private key
//! file and the trust file), and the server interceptor that verifies every
//! caller ([`VerifyIdentity`]).

use std::{path::PathBuf, sync::Arc};

use tonic::{Request, Status, service::Interceptor};

use super::{IDENTITY_HEADER, IdentityError, IdentityKey, TENANT_HEADER, Trust, load_key_file};
use crate::{Clock, SystemClock};

/// Where a process finds its key and the keys it trusts.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// This process's own Ed25519 private key (PKCS#8 PEM), whose public half
    /// is in the trust file (`gateway credentials init` makes both).
    #[arg(
        id = "identity_key_file",
        long = "identity-key-file",
        env = "ARCHIVE_IDENTITY_KEY_FILE"
    )]
    pub key_file: PathBuf,
    /// The suite's trust file (public keys only), re-read when it changes.
    #[arg(id = "trust_file", long = "trust-file", env = "ARCHIVE_TRUST_FILE")]
    pub trust_file: PathBuf,
}

impl IdentityConfig {
    pub fn new(key_file: impl Into<PathBuf>, trust_file: impl Into<PathBuf>) -> Self {
        Self {
            key_file: key_file.into(),
            trust_file: trust_file.into(),
        }
    }

    pub fn load(&self) -> Result<ServiceIdentity, IdentityError> {
        self.load_with(Arc::new(SystemClock))
    }

    pub fn load_with(&self, clock: Arc<dyn Clock>) -> Result<ServiceIdentity, IdentityError> {
        let trust = Trust::load(&self.trust_file)?;
        let key = load_key_file(&self.key_file)?;
        let key = IdentityKey::new(&key, &trust, clock.clone())
            .map_err(|e| IdentityError::Keys(format!("{}: {e}", self.key_file.display())))?;
        Ok(ServiceIdentity { key, trust, clock })
    }
}

/// A process's key and trust, loaded.
#[derive(Clone)]
pub struct ServiceIdentity {
    pub key: IdentityKey,
    pub trust: Trust,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServiceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceIdentity")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ServiceIdentity {
    pub fn verifier(&self) -> VerifyIdentity {
        VerifyIdentity::new(self.trust.clone(), self.clock.clone())
    }
}

/// Server interceptor: verifies the caller's token (`x-archive-identity`, or
/// `authorization: Bearer` for a platform) and puts the [`Caller`] and its
/// [`Principal`] in the request's extensions; anything else is
/// UNAUTHENTICATED. Whether the caller may call this RPC is the handler's
/// [`super::Rule`].
#[derive(Clone)]
pub struct VerifyIdentity {
    trust: Trust,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for VerifyIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyIdentity").finish_non_exhaustive()
    }
}

impl VerifyIdentity {
    pub fn new(trust: Trust, clock: Arc<dyn Clock>) -> Self {
        Self { trust, clock }
    }
}

fn token<T>(request: &Request<T>) -> Result<&str, IdentityError> {
    let metadata = request.metadata();
    if let Some(value) = metadata.get(IDENTITY_HEADER) {
        return value
            .to_str()
            .map_err(|_| IdentityError::Invalid("not ASCII".into()));
    }
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(IdentityError::Missing)
}

impl Interceptor for VerifyIdentity {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let token = token(&request)?;
        let tenant = request
            .metadata()
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok());
        let caller = self
            .trust
            .verify(token, tenant, self.clock.now())
            .inspect_err(|e| tracing::info!(error = %e, "caller refused"))?;
        request.extensions_mut().insert(caller.principal.clone());
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The shape of the services' command lines: serving settings with the
    /// identity flattened in (not an `Option`: clap leaves an optional
    /// struct with flattened parts `None` whatever is given).
    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[arg(long, default_value = "x")]
        listen: String,
        #[command(flatten)]
        identity: IdentityConfig,
    }

    #[test]
    fn the_identity_flags_parse_and_are_required() {
        let cli = Cli::try_parse_from([
            "svc",
            "--listen",
            "y",
            "--identity-key-file",
            "k.pem",
            "--trust-file",
            "t.json",
        ])
        .unwrap();
        assert_eq!(cli.identity, IdentityConfig::new("k.pem", "t.json"));
        let err = Cli::try_parse_from(["svc", "--trust-file", "t.json"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(err.to_string().contains("--identity-key-file"), "{err}");
    }
}

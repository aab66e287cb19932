//! A throw-away key set for tests of any crate: every suite holder's key and
//! a trust file in a temporary directory (removed when dropped).

use std::sync::Arc;

use super::{
    IdentityConfig, IdentityKey, KeySet, PlatformCredential, Role, ServiceIdentity, Trust,
    load_key_file,
};
use crate::{Clock, SystemClock};

pub struct TestKeys {
    dir: tempfile::TempDir,
    set: KeySet,
}

impl Default for TestKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl TestKeys {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let set = KeySet::new(dir.path());
        set.ensure_suite().expect("test keys");
        Self { dir, set }
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn set(&self) -> &KeySet {
        &self.set
    }

    /// `holder`'s configuration (its key file and the trust file).
    pub fn config(&self, holder: &str) -> IdentityConfig {
        self.set.config(holder)
    }

    pub fn identity(&self, holder: &str) -> ServiceIdentity {
        self.config(holder).load().expect("test identity")
    }

    pub fn trust(&self) -> Trust {
        Trust::load(&self.set.trust_file()).expect("test trust")
    }

    /// `holder`'s signer.
    pub fn signer(&self, holder: &str) -> IdentityKey {
        self.identity(holder).key
    }

    /// The gateway's signer: what user principals are signed with.
    pub fn gateway(&self) -> IdentityKey {
        self.signer("gateway")
    }

    /// A recording platform's credential for `tenants`, valid a day.
    pub fn platform(&self, name: &str, tenants: &[&str]) -> PlatformCredential {
        let tenants: Vec<String> = tenants.iter().map(|t| (*t).to_owned()).collect();
        self.signer("authority")
            .issue_platform(name, &tenants, chrono::Duration::days(1))
    }

    /// A key nobody trusts, claiming to be `holder` with `role`.
    pub fn stranger(&self, holder: &str, role: Role) -> IdentityKey {
        let path = self.dir.path().join(format!("stranger-{holder}.pem"));
        if !path.exists() {
            super::generate_key_file(&path).expect("stranger key");
        }
        let key = load_key_file(&path).expect("stranger key");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        IdentityKey::with_holder(&key, holder, role, clock)
    }
}

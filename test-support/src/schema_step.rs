//! A service binary run as a process, without the suite's identity settings
//! in its environment, and the schema step's contract every service with a
//! database keeps (`<service> migrate`, as the Kubernetes Job runs it).

use std::process::{Command, Output};

/// A service's binary (`env!("CARGO_BIN_EXE_…")`) and its environment prefix
/// (`ARCHIVE`, `AUTHZ`, `AUDIT`).
pub struct ServiceBinary {
    pub path: &'static str,
    pub env_prefix: &'static str,
}

impl ServiceBinary {
    /// `args`, with no identity key, trust file, database URL or migrate
    /// switch inherited from the test's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.path);
        command
            .args(args)
            .env_remove("ARCHIVE_IDENTITY_KEY_FILE")
            .env_remove("ARCHIVE_TRUST_FILE")
            .env_remove(self.url_env())
            .env_remove(format!("{}_MIGRATE", self.env_prefix));
        command
    }

    /// Runs `args` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run the service binary")
    }

    fn url_env(&self) -> String {
        format!("{}_DATABASE_URL", self.env_prefix)
    }

    /// The schema step on the SQLite database at `url`, given as the Job
    /// gives it (the owner's URL in the environment, so no password is on
    /// the command line), with no key, trust file or serving settings: it
    /// succeeds, again with nothing to do, refuses `--grant-to` (SQLite has
    /// no roles) saying so, and serving still asks for its key and trust file.
    pub fn check_schema_step(&self, url: &str) {
        let run = |args: &[&str]| {
            self.command(args)
                .env(self.url_env(), url)
                .output()
                .unwrap()
        };
        let out = run(&["migrate"]);
        assert!(out.status.success(), "{out:?}");
        assert!(run(&["migrate"]).status.success(), "nothing to do is fine");
        let out = run(&["migrate", "--grant-to", "rt"]);
        assert!(!out.status.success(), "{out:?}");
        // Said in the error log line (stdout) or on stderr.
        let said = [out.stdout, out.stderr].concat();
        let said = String::from_utf8_lossy(&said);
        assert!(said.contains("--grant-to needs PostgreSQL"), "{said}");
        let out = run(&[]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--identity-key-file") && stderr.contains("--trust-file"),
            "{stderr}"
        );
    }
}

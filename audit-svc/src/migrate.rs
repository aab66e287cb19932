//! The schema step, apart from serving: `audit-svc migrate [--database-url
//! URL] [--grant-to ROLE]` runs the migrations as the database owner and
//! grants ROLE what the service needs at run time (SELECT and INSERT on
//! `audit_events`, see [`RUNTIME_GRANTS`]), so audit-svc can serve as a role
//! that cannot alter, update, delete or truncate the trail. Its arguments are
//! parsed apart from [`Config`](crate::Config)'s, so it needs no identity
//! secret.

use std::ffi::OsString;

pub use crate::store::RUNTIME_GRANTS;
use crate::{
    Error,
    store::{PostgresStore, SqliteStore},
};

/// `audit-svc migrate`'s command line.
#[derive(clap::Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "audit-svc",
    about = "The append-only, hash-chained Archive Audit log"
)]
pub struct Cli {
    /// `sqlite://path` or `postgres://…` (before or after `migrate`).
    #[arg(
        long,
        env = "AUDIT_DATABASE_URL",
        default_value = "sqlite://audit.db",
        global = true
    )]
    pub database_url: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Bring the schema up to date (as the database owner) and exit.
    Migrate {
        /// A PostgreSQL role to grant what audit-svc needs to serve, and nothing more.
        #[arg(long)]
        grant_to: Option<String>,
    },
}

/// Whether the command line asks for the schema step rather than serving.
pub fn requested(args: &[OsString]) -> bool {
    args.iter().skip(1).any(|a| a == "migrate")
}

/// Migrates the database at `database_url` and, with `grant_to`, grants that
/// role audit-svc's runtime privileges (PostgreSQL only).
pub async fn run(database_url: &str, grant_to: Option<&str>) -> Result<(), Error> {
    if database_url.starts_with("sqlite:") {
        if grant_to.is_some() {
            return Err(Error::Usage(
                "--grant-to needs PostgreSQL: SQLite has no roles".into(),
            ));
        }
        SqliteStore::open(database_url, true).await?;
    } else {
        let store = PostgresStore::open(database_url, true).await?;
        if let Some(role) = grant_to {
            store.grant_runtime_role(role).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_database_url_goes_before_or_after_the_subcommand() {
        let after = args(&[
            "audit-svc",
            "migrate",
            "--database-url",
            "postgres://owner@db/audit",
            "--grant-to",
            "audit_rt",
        ]);
        assert!(requested(&after));
        let cli = Cli::try_parse_from(&after).unwrap();
        assert_eq!(cli.database_url, "postgres://owner@db/audit");
        assert_eq!(
            cli.command,
            Command::Migrate {
                grant_to: Some("audit_rt".into())
            }
        );
        let before = args(&["audit-svc", "--database-url", "sqlite://a.db", "migrate"]);
        let cli = Cli::try_parse_from(&before).unwrap();
        assert_eq!(cli.database_url, "sqlite://a.db");
        assert!(!requested(&args(&[
            "audit-svc",
            "--listen",
            "0.0.0.0:50054"
        ])));
    }
}

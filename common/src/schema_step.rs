//! The schema step of every service with a database: `<service> migrate
//! [--database-url URL] [--grant-to ROLE]`, run as the database owner (the
//! Kubernetes Job) before the service serves as a role without DDL. It is
//! parsed apart from the serving flags, so it needs no identity key or trust
//! file, and takes the URL before or after `migrate` or from the service's
//! own environment variable (no password on the command line).

use std::ffi::OsString;

use clap::{Arg, ArgMatches};

/// What one service's schema step is called and where its URL comes from.
#[derive(Debug, Clone, Copy)]
pub struct SchemaStepOf {
    /// The binary's name, as `--help` shows it.
    pub service: &'static str,
    /// The environment variable that also gives the serving URL.
    pub url_env: &'static str,
    /// The embedded default (`sqlite://<service>.db`).
    pub default_url: &'static str,
}

/// A parsed `<service> migrate …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStep {
    /// `sqlite://path` or `postgres://…`, connecting as the schema's owner.
    pub database_url: String,
    /// The role the service runs as (PostgreSQL only): granted what it
    /// needs at run time and nothing more.
    pub grant_to: Option<String>,
}

impl SchemaStepOf {
    /// The schema step when `args` ask for it (`<service> migrate …`, or
    /// `<service> --database-url URL migrate …`); `None` when they ask to
    /// serve. A malformed step exits as clap does, printing the usage.
    pub fn requested(&self, args: &[OsString]) -> Option<SchemaStep> {
        if !args.iter().skip(1).any(|a| a == "migrate") {
            return None;
        }
        Some(
            self.try_parse(args.iter().cloned())
                .unwrap_or_else(|e| e.exit()),
        )
    }

    /// Parses `<service> migrate …`, without exiting on an error.
    pub fn try_parse(
        &self,
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<SchemaStep, clap::Error> {
        let matches = self.command().try_get_matches_from(args)?;
        let text = |m: &ArgMatches, id: &str| m.get_one::<String>(id).cloned();
        let step = matches
            .subcommand_matches("migrate")
            .expect("the subcommand is required");
        Ok(SchemaStep {
            database_url: text(step, "database-url").expect("it has a default"),
            grant_to: text(step, "grant-to"),
        })
    }

    fn command(&self) -> clap::Command {
        let url = Arg::new("database-url")
            .long("database-url")
            .env(self.url_env)
            .default_value(self.default_url)
            .global(true)
            .help("`sqlite://path` or `postgres://…`, connecting as the schema's owner");
        let grant_to = Arg::new("grant-to").long("grant-to").help(
            "The role the service runs as (PostgreSQL): granted what it needs to serve, no DDL",
        );
        let migrate = clap::Command::new("migrate")
            .about("Brings the schema up to date as its owner, grants the runtime role, exits")
            .arg(grant_to);
        clap::Command::new(self.service)
            .arg(url)
            .subcommand(migrate)
            .subcommand_required(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: SchemaStepOf = SchemaStepOf {
        service: "calls-svc",
        url_env: "SCHEMA_STEP_TEST_URL_UNSET",
        default_url: "sqlite://calls.db",
    };

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_url_goes_before_or_after_migrate_and_defaults_to_the_embedded_file() {
        let owner = "postgres://owner@db/calls";
        let expected = SchemaStep {
            database_url: owner.into(),
            grant_to: Some("calls_rt".into()),
        };
        let after = args(&[
            "calls-svc",
            "migrate",
            "--database-url",
            owner,
            "--grant-to",
            "calls_rt",
        ]);
        assert_eq!(STEP.requested(&after), Some(expected.clone()));
        let before = args(&[
            "calls-svc",
            "--database-url",
            owner,
            "migrate",
            "--grant-to",
            "calls_rt",
        ]);
        assert_eq!(STEP.requested(&before), Some(expected));
        let bare = STEP.requested(&args(&["calls-svc", "migrate"])).unwrap();
        assert_eq!(bare.database_url, "sqlite://calls.db");
        assert_eq!(bare.grant_to, None);
    }

    #[test]
    fn serving_arguments_are_not_the_schema_step() {
        let serve = args(&["calls-svc", "--identity-key-file", "k.pem", "--migrate"]);
        assert_eq!(STEP.requested(&serve), None);
        let err = STEP
            .try_parse(["calls-svc", "migrate", "--identity-key-file", "k.pem"])
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}

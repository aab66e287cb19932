//! archive-svc as its own process: serving, or `archive-svc migrate`.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use std::process::ExitCode;

use archive_common::{metrics, shutdown, telemetry};
use archive_svc::{Cli, Command, Config, MigrateCli};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let command = if MigrateCli::requested(&args) {
        Err(MigrateCli::parse_from(args).command)
    } else {
        Ok(Cli::parse_from(args).serve)
    };
    let _telemetry = telemetry::init("archive-svc");
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // In words (e.g. "… run `archive-svc migrate` …"), not as a debug dump.
            tracing::error!(error = %e, "archive-svc failed");
            ExitCode::FAILURE
        }
    }
}

/// Serves with `config`, or runs the schema step.
async fn run(command: Result<Config, Command>) -> Result<(), Box<dyn std::error::Error>> {
    let config = match command {
        Ok(config) => config,
        Err(Command::Migrate(args)) => {
            archive_svc::migrate(&args).await?;
            tracing::info!(grant_to = ?args.grant_to, "archive-svc schema is current");
            return Ok(());
        }
    };
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    archive_svc::run(config, listener, shutdown).await?;
    Ok(())
}

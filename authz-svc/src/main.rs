//! authz-svc as its own process: serving, or `authz-svc migrate`.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use std::process::ExitCode;

use archive_common::{metrics, shutdown, telemetry};
use authz_svc::{Cli, Command, MigrateCli};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let cli = if MigrateCli::requested(&args) {
        let MigrateCli { command } = MigrateCli::parse_from(args);
        Cli {
            command: Some(command),
            serve: None,
        }
    } else {
        Cli::parse_from(args)
    };
    let _telemetry = telemetry::init("authz-svc");
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // In words (e.g. "… run `authz-svc migrate` …"), not as a debug dump.
            tracing::error!(error = %e, "authz-svc failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::Migrate(args)) = cli.command {
        authz_svc::migrate(&args).await?;
        tracing::info!(grant_to = ?args.grant_to, "authz-svc schema is current");
        return Ok(());
    }
    // Without a subcommand clap has required the serving settings.
    let config = cli.serve.ok_or("the serving settings are missing")?;
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    authz_svc::run(config, listener, shutdown).await?;
    Ok(())
}

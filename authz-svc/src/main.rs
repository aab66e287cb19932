//! authz-svc as its own process: serving, or `authz-svc migrate`.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use archive_common::{metrics, shutdown, telemetry};
use authz_svc::{Cli, Command};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init("authz-svc");
    if let Some(Command::Migrate(args)) = cli.command {
        authz_svc::migrate(&args).await?;
        tracing::info!(grant_to = ?args.grant_to, "authz-svc schema is current");
        return Ok(());
    }
    let config = cli.serve;
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    authz_svc::run(config, listener, shutdown).await?;
    Ok(())
}

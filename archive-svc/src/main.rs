//! archive-svc as its own process: serving, or `archive-svc migrate`.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use archive_common::{metrics, shutdown, telemetry};
use archive_svc::{Cli, Command};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init("archive-svc");
    if let Some(Command::Migrate(args)) = cli.command {
        archive_svc::migrate(&args).await?;
        tracing::info!(grant_to = ?args.grant_to, "archive-svc schema is current");
        return Ok(());
    }
    let config = cli.serve;
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    archive_svc::run(config, listener, shutdown).await?;
    Ok(())
}

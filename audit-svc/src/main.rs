//! audit-svc as its own process: `audit-svc [flags]` serves,
//! `audit-svc migrate [--database-url URL] [--grant-to ROLE]` is the schema
//! step (parsed on its own, so it needs no identity secret). Errors are
//! printed as their message (e.g. which command to run first), exit 1.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use std::process::ExitCode;

use archive_common::{metrics, shutdown, telemetry};
use audit_svc::migrate;
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("audit-svc: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // `audit-svc checkpoint-key --key-file F`: needs no other configuration.
    if std::env::args().nth(1).as_deref() == Some("checkpoint-key") {
        println!(
            "{}",
            audit_svc::checkpoint::key_command(std::env::args().skip(1))?
        );
        return Ok(());
    }
    let args: Vec<_> = std::env::args_os().collect();
    if let Some(step) = migrate::SCHEMA_STEP.requested(&args) {
        let _telemetry = telemetry::init("audit-svc");
        migrate::run(&step.database_url, step.grant_to.as_deref()).await?;
        tracing::info!("audit-svc schema is up to date");
        return Ok(());
    }
    let config = audit_svc::Config::parse_from(args);
    let _telemetry = telemetry::init("audit-svc");
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    audit_svc::run(config, listener, shutdown).await?;
    Ok(())
}

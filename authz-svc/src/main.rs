//! authz-svc as its own process: serving, or `authz-svc migrate`.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use std::process::ExitCode;

use archive_common::{metrics, schema_step::SchemaStep, shutdown, telemetry};
use authz_svc::{Config, SCHEMA_STEP};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let command = SCHEMA_STEP
        .requested(&args)
        .ok_or_else(|| Config::parse_from(args));
    let _telemetry = telemetry::init("authz-svc");
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // In words (e.g. "… run `authz-svc migrate` …"), not as a debug dump.
            tracing::error!(error = %e, "authz-svc failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs the schema step, or serves with the configuration.
async fn run(command: Result<SchemaStep, Config>) -> Result<(), Box<dyn std::error::Error>> {
    let config = match command {
        Ok(step) => {
            authz_svc::migrate(&step).await?;
            tracing::info!(grant_to = ?step.grant_to, "authz-svc schema is current");
            return Ok(());
        }
        Err(config) => config,
    };
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    authz_svc::run(config, listener, shutdown).await?;
    Ok(())
}

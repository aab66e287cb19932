//! audit-svc as its own process.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use archive_common::{metrics, shutdown, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `audit-svc checkpoint-key --key-file F`: needs no other configuration.
    if std::env::args().nth(1).as_deref() == Some("checkpoint-key") {
        println!(
            "{}",
            audit_svc::checkpoint::key_command(std::env::args().skip(1))?
        );
        return Ok(());
    }
    let config = audit_svc::Config::parse();
    let _telemetry = telemetry::init("audit-svc");
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    audit_svc::run(config, listener, shutdown).await?;
    Ok(())
}

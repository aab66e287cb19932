//! archive-svc as its own process.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use archive_common::{shutdown, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = archive_svc::Config::parse();
    telemetry::init(telemetry::json_from_env());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    archive_svc::run(config, listener, shutdown::on_signal()).await?;
    Ok(())
}

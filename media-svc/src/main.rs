//! The media-svc binary: configuration from flags and environment, then [`media_svc::run`].

// The dependencies belong to the library; this thin binary uses few of them.
#![allow(unused_crate_dependencies)]

use archive_common::{metrics, shutdown, telemetry};
use clap::Parser;
use media_svc::{Config, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::parse();
    let _telemetry = telemetry::init("media-svc");
    let shutdown = shutdown::on_signal();
    metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
    let grpc = tokio::net::TcpListener::bind(config.listen).await?;
    let http = tokio::net::TcpListener::bind(config.http_listen).await?;
    run(config, grpc, http, shutdown).await?;
    Ok(())
}

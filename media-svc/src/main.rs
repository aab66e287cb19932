//! The media-svc binary: configuration from flags and environment, then [`media_svc::run`].

// The dependencies belong to the library; this thin binary uses few of them.
#![allow(unused_crate_dependencies)]

use archive_common::{shutdown, telemetry};
use clap::Parser;
use media_svc::{Config, run};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::parse();
    telemetry::init(telemetry::json_from_env());
    let grpc = tokio::net::TcpListener::bind(config.listen).await?;
    let http = tokio::net::TcpListener::bind(config.http_listen).await?;
    run(config, grpc, http, shutdown::on_signal()).await?;
    Ok(())
}

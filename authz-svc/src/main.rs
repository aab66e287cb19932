//! The authz-svc binary: configuration from flags and environment, then [`authz_svc::run`].

// The dependencies belong to the library; this thin binary uses few of them.
#![allow(unused_crate_dependencies)]

use archive_common::{shutdown, telemetry};
use authz_svc::{Config, run};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::parse();
    telemetry::init(telemetry::json_from_env());
    // gRPC answers are several small writes; with Nagle on, some wait ~40 ms
    // for the peer's delayed ACK. Host serves its own accepted sockets, which
    // inherit TCP_NODELAY from the listening socket on Linux.
    let socket = match config.listen {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_nodelay(true)?;
    socket.set_reuseaddr(true)?;
    socket.bind(config.listen)?;
    let listener = socket.listen(1024)?;
    run(config, listener, shutdown::on_signal()).await?;
    Ok(())
}

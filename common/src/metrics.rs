//! Prometheus metrics: one registry per process, names prefixed `archive_`,
//! served as OpenMetrics text on a port of their own (`GET /metrics`), apart
//! from the gRPC and HTTP ports so scraping never queues behind user traffic
//! and network policies can treat it separately.
//!
//! Each crate registers its own metrics once ([`register`] from a `LazyLock`);
//! the request metrics every server shares live in [`crate::telemetry::server`].

use std::sync::{LazyLock, Mutex};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use prometheus_client::{
    encoding::text::encode,
    registry::{Metric, Registry},
};
use tokio::net::TcpListener;

use crate::shutdown::CancellationToken;

pub use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
};

static REGISTRY: LazyLock<Mutex<Registry>> =
    LazyLock::new(|| Mutex::new(Registry::with_prefix("archive")));

/// Registers `metric` under `archive_<name>` and hands it back (metrics are
/// shared handles). Call once per name, e.g. from a `LazyLock`.
pub fn register<M: Metric + Clone>(name: &str, help: &str, metric: M) -> M {
    REGISTRY
        .lock()
        .expect("metrics registry")
        .register(name, help, metric.clone());
    metric
}

/// Seconds from 0.5 ms to ~65 s: request latencies and stream durations.
pub fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// Bytes from 64 KiB to 64 GiB: object and export sizes.
pub fn bytes() -> Histogram {
    Histogram::new(exponential_buckets(65_536.0, 4.0, 11))
}

/// The registry in the text exposition format.
pub fn render() -> String {
    let mut text = String::new();
    encode(&mut text, &REGISTRY.lock().expect("metrics registry")).expect("writing to a String");
    text
}

/// Binds `addr` and serves `GET /metrics` there in the background until `shutdown`.
pub async fn spawn(addr: std::net::SocketAddr, shutdown: CancellationToken) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, shutdown).await {
            tracing::error!(error = %e, "metrics server failed");
        }
    });
    Ok(())
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), "metrics listening");
    let app = Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                render(),
            )
                .into_response()
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_metrics_render_with_the_prefix() {
        let counter = register(
            "test_things",
            "Things counted by this test.",
            Family::<Vec<(String, String)>, Counter>::default(),
        );
        counter
            .get_or_create(&vec![("kind".to_owned(), "blue".to_owned())])
            .inc_by(3);
        let text = render();
        assert!(
            text.contains("archive_test_things_total{kind=\"blue\"} 3"),
            "{text}"
        );
    }
}

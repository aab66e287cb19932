//! The request metrics every server records, registered once per process.

use std::sync::LazyLock;

use crate::metrics::{self, Counter, EncodeLabelSet, Family, Gauge, Histogram};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RpcLabels {
    pub(super) service: String,
    pub(super) method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RpcOutcome {
    pub(super) service: String,
    pub(super) method: String,
    pub(super) code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ServiceLabel {
    pub(super) service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct HttpLabels {
    pub(super) server: String,
    pub(super) route: String,
    pub(super) method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct HttpOutcome {
    pub(super) server: String,
    pub(super) route: String,
    pub(super) method: String,
    pub(super) status: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub(super) struct Instruments {
    pub(super) rpc_handled: Family<RpcOutcome, Counter>,
    pub(super) rpc_seconds: Histograms<RpcLabels>,
    pub(super) rpc_sent: Family<RpcLabels, Counter>,
    pub(super) rpc_in_flight: Family<ServiceLabel, Gauge>,
    pub(super) http_handled: Family<HttpOutcome, Counter>,
    pub(super) http_seconds: Histograms<HttpLabels>,
    pub(super) http_sent: Family<HttpLabels, Counter>,
    pub(super) http_in_flight: Family<HttpLabels, Gauge>,
}

pub(super) static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| Instruments {
    rpc_handled: metrics::register(
        "grpc_server_handled",
        "gRPC calls completed, by status code (CANCELLED when the client went away).",
        Family::default(),
    ),
    rpc_seconds: metrics::register(
        "grpc_server_handling_seconds",
        "gRPC call duration, to the last message of a streamed response.",
        Family::new_with_constructor(metrics::seconds),
    ),
    rpc_sent: metrics::register(
        "grpc_server_sent_bytes",
        "Response bytes sent by gRPC calls (framed messages).",
        Family::default(),
    ),
    rpc_in_flight: metrics::register(
        "grpc_server_in_flight",
        "gRPC calls in progress, streams included.",
        Family::default(),
    ),
    http_handled: metrics::register(
        "http_server_handled",
        "HTTP requests completed, by status.",
        Family::default(),
    ),
    http_seconds: metrics::register(
        "http_server_handling_seconds",
        "HTTP request duration, to the last byte of the body (or the client leaving).",
        Family::new_with_constructor(metrics::seconds),
    ),
    http_sent: metrics::register(
        "http_server_sent_bytes",
        "HTTP response body bytes sent.",
        Family::default(),
    ),
    http_in_flight: metrics::register(
        "http_server_in_flight",
        "HTTP requests in progress, streamed bodies included.",
        Family::default(),
    ),
});

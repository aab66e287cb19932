//! The request metrics every server records, registered once per process,
//! and the handles of each route's or method's series, looked up once: a
//! family lookup hashes and allocates its label strings, five times per
//! request, which cost a 64 KiB seek more than its span did.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, RwLock},
};

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

/// The series of one gRPC method (or of `unknown`), or of one HTTP server,
/// route and method, resolved once.
pub(super) struct Series<L> {
    pub(super) labels: L,
    pub(super) in_flight: Gauge,
    pub(super) seconds: Histogram,
    pub(super) sent: Counter,
    handled: Outcomes,
}

pub(super) type RpcSeries = Series<RpcLabels>;
pub(super) type HttpSeries = Series<HttpLabels>;

/// Labels that name a series, and its completion counter for an outcome.
pub(super) trait SeriesLabels {
    fn handled(&self, outcome: &str) -> Counter;
}

impl SeriesLabels for RpcLabels {
    fn handled(&self, code: &str) -> Counter {
        INSTRUMENTS
            .rpc_handled
            .get_or_create(&RpcOutcome {
                service: self.service.clone(),
                method: self.method.clone(),
                code: code.to_owned(),
            })
            .clone()
    }
}

impl SeriesLabels for HttpLabels {
    fn handled(&self, status: &str) -> Counter {
        INSTRUMENTS
            .http_handled
            .get_or_create(&HttpOutcome {
                server: self.server.clone(),
                route: self.route.clone(),
                method: self.method.clone(),
                status: status.to_owned(),
            })
            .clone()
    }
}

impl<L: SeriesLabels> Series<L> {
    /// The completion counter of `outcome` (a gRPC code, an HTTP status).
    pub(super) fn handled(&self, outcome: &str) -> Counter {
        self.handled.get(outcome, || self.labels.handled(outcome))
    }
}

impl RpcSeries {
    fn rpc(labels: RpcLabels) -> Self {
        let i = &*INSTRUMENTS;
        Self {
            in_flight: rpc_in_flight(&labels.service),
            seconds: i.rpc_seconds.get_or_create(&labels).clone(),
            sent: i.rpc_sent.get_or_create(&labels).clone(),
            handled: Outcomes::default(),
            labels,
        }
    }
}

impl HttpSeries {
    fn http(labels: HttpLabels) -> Self {
        let i = &*INSTRUMENTS;
        Self {
            in_flight: i.http_in_flight.get_or_create(&labels).clone(),
            seconds: i.http_seconds.get_or_create(&labels).clone(),
            sent: i.http_sent.get_or_create(&labels).clone(),
            handled: Outcomes::default(),
            labels,
        }
    }
}

/// Completion counters by code or status (a few dozen at most).
#[derive(Default)]
struct Outcomes(RwLock<Vec<(String, Counter)>>);

impl Outcomes {
    fn get(&self, outcome: &str, create: impl FnOnce() -> Counter) -> Counter {
        let found = self
            .0
            .read()
            .expect("outcome counters")
            .iter()
            .find(|(o, _)| o == outcome)
            .map(|(_, c)| c.clone());
        found.unwrap_or_else(|| {
            let mut all = self.0.write().expect("outcome counters");
            if let Some((_, c)) = all.iter().find(|(o, _)| o == outcome) {
                return c.clone();
            }
            let counter = create();
            all.push((outcome.to_owned(), counter.clone()));
            counter
        })
    }
}

/// gRPC series by request path. Only methods that answered with something
/// other than UNIMPLEMENTED are kept, so made-up method names neither grow
/// it nor reach the registry.
static RPC_SERIES: LazyLock<RwLock<HashMap<Box<str>, Arc<RpcSeries>>>> =
    LazyLock::new(RwLock::default);

/// The cached series of the method at `path`.
pub(super) fn cached_rpc_series(path: &str) -> Option<Arc<RpcSeries>> {
    RPC_SERIES.read().expect("rpc series").get(path).cloned()
}

/// The in-flight gauge of `service`, for a call whose series is not cached yet.
pub(super) fn rpc_in_flight(service: &str) -> Gauge {
    INSTRUMENTS
        .rpc_in_flight
        .get_or_create(&ServiceLabel {
            service: service.to_owned(),
        })
        .clone()
}

/// The series of calls to services the server does not host.
pub(super) fn unknown_service_series() -> Arc<RpcSeries> {
    rpc_series("", "unknown", "unknown")
}

/// The series of `unknown` methods of a hosted service.
pub(super) fn unimplemented_series(service: &str) -> Arc<RpcSeries> {
    let key = format!("{service}/");
    rpc_series(&key, service, "unknown")
}

/// The series of `service`'s `method`, cached under `key` (the request path
/// of a method that answered, so exists) from now on.
pub(super) fn rpc_series(key: &str, service: &str, method: &str) -> Arc<RpcSeries> {
    if let Some(series) = cached_rpc_series(key) {
        return series;
    }
    RPC_SERIES
        .write()
        .expect("rpc series")
        .entry(key.into())
        .or_insert_with(|| {
            Arc::new(RpcSeries::rpc(RpcLabels {
                service: service.to_owned(),
                method: method.to_owned(),
            }))
        })
        .clone()
}

/// Whether the series of `path` is cached.
#[cfg(test)]
pub(super) fn rpc_series_cached(path: &str) -> bool {
    RPC_SERIES.read().expect("rpc series").contains_key(path)
}

/// HTTP series; routes are patterns, so there are few.
static HTTP_SERIES: LazyLock<RwLock<Vec<Arc<HttpSeries>>>> = LazyLock::new(RwLock::default);

/// The series of `server`'s `route` pattern and `method`.
pub(super) fn http_series(server: &str, route: &str, method: &str) -> Arc<HttpSeries> {
    let matches = |s: &&Arc<HttpSeries>| {
        s.labels.route == route && s.labels.method == method && s.labels.server == server
    };
    if let Some(series) = HTTP_SERIES
        .read()
        .expect("http series")
        .iter()
        .find(matches)
    {
        return series.clone();
    }
    let mut all = HTTP_SERIES.write().expect("http series");
    if let Some(series) = all.iter().find(matches) {
        return series.clone();
    }
    let series = Arc::new(HttpSeries::http(HttpLabels {
        server: server.to_owned(),
        route: route.to_owned(),
        method: method.to_owned(),
    }));
    all.push(series.clone());
    series
}

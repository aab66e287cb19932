//! Logs, traces and the trace context every hop carries.
//!
//! One global `tracing` subscriber per process: human-readable or JSON logs
//! (`LOG_FORMAT=json`, level from `RUST_LOG`, default `info`) in which every line
//! written while serving a request carries that request's `trace_id`, and an
//! OpenTelemetry layer that turns the request spans of [`server`] and
//! [`client`] into OpenTelemetry spans. Trace ids are always made and
//! propagated (W3C `traceparent`), so logs of one request can be followed
//! across services; spans leave the process only when the standard `OTEL_*`
//! variables ask for OTLP (see [`Export::from_env`]).

pub mod client;
mod propagation;
pub mod server;

use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource,
    trace::{SdkTracerProvider, SpanExporter, TracerProviderBuilder},
};
use tracing_subscriber::{
    EnvFilter, Layer as _, fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

pub use propagation::{extract_context, inject_context};

/// Where finished spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// Nowhere: ids are still made and propagated, and logs carry them.
    None,
    /// OTLP over gRPC; endpoint, headers, timeout from the `OTEL_EXPORTER_OTLP_*` variables.
    Otlp,
}

impl Export {
    /// OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
    /// (or `OTEL_TRACES_EXPORTER=otlp`), unless `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none`. Off by default.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Self::None;
        }
        match var("OTEL_TRACES_EXPORTER").map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "none" => Self::None,
            Some(v) if v == "otlp" => Self::Otlp,
            _ if var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() =>
            {
                Self::Otlp
            }
            _ => Self::None,
        }
    }
}

/// Keeps the tracer provider alive; dropping it flushes spans still queued.
#[must_use = "dropping the guard shuts tracing down"]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Exports every finished span now (tests read an in-memory exporter after this).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs logging and tracing for `service` (the OpenTelemetry `service.name`
/// unless `OTEL_SERVICE_NAME` says otherwise) as configured by the environment.
/// Must run inside the Tokio runtime (the OTLP exporter lives on it).
pub fn init(service: &str) -> Telemetry {
    let mut builder = provider_builder(service);
    match Export::from_env() {
        Export::None => {}
        Export::Otlp => match otlp_exporter() {
            Ok(exporter) => {
                builder = builder.with_span_processor(
                    opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                        exporter,
                        opentelemetry_sdk::runtime::Tokio,
                    )
                    .build(),
                );
            }
            // Tracing is an aid, not a dependency: log why and serve without export.
            Err(e) => eprintln!("OTLP trace export disabled: {e}"),
        },
    }
    install(builder.build(), json_from_env())
}

/// Like [`init`], with every span handed to `exporter` as it ends (tests use
/// an in-memory exporter). Later calls in the same process keep the first subscriber.
pub fn init_with_exporter<E: SpanExporter + 'static>(service: &str, exporter: E) -> Telemetry {
    install(
        provider_builder(service)
            .with_simple_exporter(exporter)
            .build(),
        json_from_env(),
    )
}

fn provider_builder(service: &str) -> TracerProviderBuilder {
    // Resource::builder() reads OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES; our
    // name applies only where they say nothing.
    let from_env = Resource::builder().build();
    let named = from_env
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    let mut resource = Resource::builder();
    if !named {
        resource = resource.with_service_name(service.to_owned());
    }
    let resource = resource
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    SdkTracerProvider::builder().with_resource(resource)
}

fn otlp_exporter() -> Result<opentelemetry_otlp::SpanExporter, String> {
    use opentelemetry_otlp::WithExportConfig as _;
    let protocol = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|_| "grpc".to_owned());
    if protocol != "grpc" {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported, only grpc"
        ));
    }
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .build()
        .map_err(|e| e.to_string())
}

fn install(provider: SdkTracerProvider, json: bool) -> Telemetry {
    opentelemetry::global::set_tracer_provider(provider.clone());
    let _ = subscriber(&provider, json, std::io::stdout).try_init();
    Telemetry { provider }
}

/// Spans to OpenTelemetry, logs to `writer`.
fn subscriber<W>(
    provider: &SdkTracerProvider,
    json: bool,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + for<'a> tracing_subscriber::registry::LookupSpan<'a>
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = if json {
        // The current span's fields (trace_id among them) on every line.
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .with_writer(writer)
            .boxed()
    } else {
        fmt::layer().with_target(true).with_writer(writer).boxed()
    };
    tracing_subscriber::registry()
        // Request spans and the events in them; libraries' debug spans never become traces.
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("archive"))
                // Per request these cost more than the rest of a 64 KiB seek's
                // span: source locations and thread names as attributes, two
                // clock reads on every poll (busy/idle time) and an OpenTelemetry
                // context pushed on every poll. Nothing here reads the active
                // context: propagation takes the span's own (`span.context()`).
                .with_location(false)
                .with_threads(false)
                .with_target(false)
                .with_tracked_inactivity(false)
                .with_context_activation(false)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .with(logs.with_filter(filter))
}

/// Whether `LOG_FORMAT` asks for JSON logs.
pub fn json_from_env() -> bool {
    std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::{Arc, Mutex},
        task::{Context, Poll},
    };

    use tower::{Layer as _, Service};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> fmt::MakeWriter<'w> for Captured {
        type Writer = Captured;

        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    /// A handler that logs one line.
    #[derive(Clone)]
    struct Logs;

    impl Service<http::Request<String>> for Logs {
        type Response = http::Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<String>) -> Self::Future {
            tracing::info!("handling the request");
            std::future::ready(Ok(http::Response::new("done".to_owned())))
        }
    }

    #[tokio::test]
    async fn json_log_lines_carry_the_callers_trace_id() {
        let captured = Captured::default();
        let provider = SdkTracerProvider::builder().build();
        let _default =
            tracing::subscriber::set_default(subscriber(&provider, true, captured.clone()));
        let request = http::Request::builder()
            .uri("/exports/x.zip")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(String::new())
            .unwrap();
        let mut service = server::Observe::http("test").layer(Logs);
        let response = service.call(request).await.unwrap();
        drop(response);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("handling the request"))
            .unwrap_or_else(|| panic!("no log line in {text:?}"));
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            line["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
            "{line}"
        );
    }
}

//! OTLP export for real: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the spans of
//! a request reach a gRPC OTLP collector (a stand-in TraceService on
//! loopback) with the service's name on them — the exporter runs on the Tokio
//! runtime, where tonic's transport works.

#![allow(unused_crate_dependencies)]

use std::time::Duration;

use archive_common::telemetry;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let _ = self.0.send(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_named_by_the_environment() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent, mut received) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(sent)))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    // SAFETY: this test binary has this one test; nothing else reads the
    // environment concurrently.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"));
        std::env::remove_var("OTEL_SERVICE_NAME");
        std::env::remove_var("OTEL_SDK_DISABLED");
        std::env::remove_var("OTEL_TRACES_EXPORTER");
    }
    assert_eq!(telemetry::Export::from_env(), telemetry::Export::Otlp);
    let guard = telemetry::init("otlp-test-svc");
    tracing::info_span!("grpc.server", otel.name = "archive.v1.Test/Export")
        .in_scope(|| tracing::info!("inside the request"));
    // Dropping the guard flushes what is queued (as at process exit).
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let export = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the collector heard nothing in 10 s")
        .unwrap();
    let resource_spans = &export.resource_spans[0];
    let service_name = resource_spans
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .map(|v| format!("{:?}", v.value));
    assert!(
        service_name
            .as_deref()
            .is_some_and(|v| v.contains("otlp-test-svc")),
        "{service_name:?}"
    );
    let names: Vec<&str> = resource_spans
        .scope_spans
        .iter()
        .flat_map(|s| &s.spans)
        .map(|s| s.name.as_str())
        .collect();
    assert!(names.contains(&"archive.v1.Test/Export"), "{names:?}");
}

//! A host's services called in-process answer as they do over a connection:
//! statuses, streams, the server's request metrics; a call that hangs ends
//! at the channel's timeout.

use std::{convert::Infallible, time::Duration};

use tonic::{Code, body::Body, service::Routes};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus as Status, health_client::HealthClient,
};

use super::{Host, ServingStatus};
use crate::{metrics, telemetry::client};

fn asking(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn a_host_answers_in_process_with_its_own_stack() {
    let host = Host::new(Routes::default(), &["test.v1.InProcess"]).await;
    let mut health = HealthClient::new(host.in_process(Duration::from_secs(5)));

    let status =
        |r: tonic::Response<tonic_health::pb::HealthCheckResponse>| r.into_inner().status();
    let answer = health.check(asking("test.v1.InProcess")).await.unwrap();
    assert_eq!(status(answer), Status::NotServing);

    // A server stream: the first answer now, the next when the status changes.
    let mut watch = health
        .watch(asking("test.v1.InProcess"))
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), Status::NotServing);
    host.health()
        .set_service_status("test.v1.InProcess", ServingStatus::Serving)
        .await;
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the change is streamed")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), Status::Serving);
    let answer = health.check(asking("test.v1.InProcess")).await.unwrap();
    assert_eq!(status(answer), Status::Serving);

    // The service's own error comes back as its status, and the server's
    // telemetry layer counted it, as for a call over a connection.
    let handled = "archive_grpc_server_handled_total{service=\"grpc.health.v1.Health\",method=\"Check\",code=\"NotFound\"}";
    let count = || {
        metrics::render()
            .lines()
            .find(|l| l.starts_with(handled))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = count();
    let error = health.check(asking("no.such.Service")).await.unwrap_err();
    assert_eq!(error.code(), Code::NotFound, "{error:?}");
    assert_eq!(count(), before + 1.0);
}

#[tokio::test]
async fn an_in_process_call_without_an_answer_in_time_is_deadline_exceeded() {
    let hangs = tower::service_fn(|_: http::Request<Body>| {
        std::future::pending::<Result<http::Response<Body>, Infallible>>()
    });
    let mut health = HealthClient::new(client::in_process(hangs, Duration::from_millis(50)));
    let started = std::time::Instant::now();
    let error = health.check(asking("")).await.unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_dependency_check_that_hangs_is_not_serving_within_its_timeout() {
    let host = Host::new(Routes::default(), &["test.v1.Hangs"]).await;
    let hang = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = crate::shutdown::CancellationToken::new();
    let checked = hang.clone();
    super::watch_readiness(
        host.health(),
        vec!["test.v1.Hangs".into()],
        Duration::from_millis(100),
        stop.clone(),
        move || {
            let hang = checked.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if hang {
                    std::future::pending::<()>().await;
                }
                Ok::<(), String>(())
            }
        },
    );
    let mut health = HealthClient::new(host.in_process(Duration::from_secs(5)));
    let status = |health: &mut HealthClient<_>| {
        let mut health = health.clone();
        async move {
            health
                .check(asking("test.v1.Hangs"))
                .await
                .unwrap()
                .into_inner()
                .status()
        }
    };
    let started = std::time::Instant::now();
    while status(&mut health).await != Status::Serving {
        assert!(started.elapsed() < Duration::from_secs(5), "never SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hang.store(true, std::sync::atomic::Ordering::SeqCst);
    let hung = std::time::Instant::now();
    while status(&mut health).await != Status::NotServing {
        assert!(
            hung.elapsed() < super::CHECK_TIMEOUT + Duration::from_secs(3),
            "a hung check kept it SERVING"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hung.elapsed() >= super::CHECK_TIMEOUT - Duration::from_millis(200));
    stop.cancel();
}

#[tokio::test]
async fn a_body_that_is_not_the_message_is_invalid_argument() {
    use tower::ServiceExt as _;
    let host = Host::new(Routes::default(), &[]).await;
    // Field 1 of HealthCheckRequest is a string; a varint there cannot be decoded.
    let message = [0x08, 0x01];
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let request = http::Request::post("http://in-process/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::new(http_body_util::Full::new(bytes::Bytes::from(
            frame,
        ))))
        .unwrap();
    let response = host
        .in_process(Duration::from_secs(5))
        .oneshot(request)
        .await
        .unwrap();
    let status = tonic::Status::from_header_map(response.headers()).expect("trailers-only");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn reflection_lists_only_the_services_served_there() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let host = Host::new(Routes::default(), &["archive.v1.AuditService"]).await;
    let mut client = ServerReflectionClient::new(host.in_process(Duration::from_secs(5)));
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let answer = client
        .server_reflection_info(tonic::codegen::tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer {answer:?}");
    };
    let mut listed: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "archive.v1.AuditService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );
}

//! media-svc with its S3 server hung (SIGSTOP) or killed (SIGKILL), with the
//! command line's S3 timeouts: playback GETs answer 503 with `Retry-After`
//! and gRPC reads UNAVAILABLE within ~10 s, readiness turns NOT_SERVING
//! within ~10 s, and once a hung store is back (SIGCONT) both recover.
//! The server is `moto_server`, started per test (see `common::s3`).

#![cfg(feature = "s3")]
#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use archive_proto::v1::GetMediaInfoRequest;
use common::{
    fixture,
    http_client::{HttpResponse, send},
    s3::S3Server,
    server::{Server, as_user, config, paal},
};
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// What is promised is ~10 s; asserted with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(15);

/// media-svc over a fresh bucket holding one recording that played once.
struct Playing {
    s3: S3Server,
    server: Server,
    id: String,
    path: String,
}

async fn playing() -> Option<Playing> {
    let s3 = S3Server::start_or_skip().await?;
    if !s3.signal("-CONT") {
        eprintln!(
            "S3 outage tests SKIPPED: the S3 server was not started here, so it cannot be stopped"
        );
        return None;
    }
    let config = s3.config(config());
    let objects = media_svc::storage::open(&config).unwrap();
    let server = Server::start_with(config, objects).await;
    let id = server
        .upload("10009", &fixture("tel-8k-cbr16-mono.mp3"))
        .await;
    let path = server.playback_path("10009", &id, chrono::Duration::seconds(600));
    assert_eq!(get(&server, &path).await.status, 200);
    wait_for(&server, ServingStatus::Serving, BOUND).await;
    Some(Playing {
        s3,
        server,
        id,
        path,
    })
}

async fn get(server: &Server, path: &str) -> HttpResponse {
    send(server.http, "GET", path, &[]).await
}

async fn media_info(server: &Server, id: &str) -> Result<(), tonic::Status> {
    let request = GetMediaInfoRequest {
        recording_id: id.to_owned(),
    };
    server
        .client()
        .await
        .get_media_info(as_user(request, &paal()))
        .await
        .map(|_| ())
}

/// media-svc's readiness (the health status of "").
async fn readiness(server: &Server) -> ServingStatus {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: String::new(),
    };
    health.check(request).await.unwrap().into_inner().status()
}

/// Waits until readiness is `status`; how long that took.
async fn wait_for(server: &Server, status: ServingStatus, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if readiness(server).await == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "readiness not {status:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A playback GET answered 503 with `Retry-After`; how long it took.
async fn unavailable_playback(server: &Server, path: &str) -> Duration {
    let started = Instant::now();
    let response = get(server, path).await;
    assert_eq!(response.status, 503, "{response:?}");
    assert!(
        response.header("retry-after").is_some(),
        "no Retry-After: {response:?}"
    );
    started.elapsed()
}

/// A gRPC read answered UNAVAILABLE; how long it took.
async fn unavailable_read(server: &Server, id: &str) -> Duration {
    let started = Instant::now();
    let status = media_info(server, id).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        archive_common::error::retry_after(&status).is_some(),
        "{status:?}"
    );
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_store_fails_requests_and_readiness_within_seconds_then_recovers() {
    let Some(Playing {
        s3,
        server,
        id,
        path,
    }) = playing().await
    else {
        return;
    };
    s3.signal("-STOP");
    let (playback, read, not_ready) = tokio::join!(
        unavailable_playback(&server, &path),
        unavailable_read(&server, &id),
        wait_for(&server, ServingStatus::NotServing, BOUND),
    );
    eprintln!(
        "hung store: playback 503 after {playback:?}, GetMediaInfo UNAVAILABLE after {read:?}, NOT_SERVING after {not_ready:?}"
    );
    assert!(playback < BOUND, "playback held {playback:?}");
    assert!(read < BOUND, "GetMediaInfo held {read:?}");

    s3.signal("-CONT");
    let started = Instant::now();
    let ready = wait_for(&server, ServingStatus::Serving, BOUND).await;
    loop {
        let response = get(&server, &path).await;
        if response.status == 200 {
            break;
        }
        assert!(started.elapsed() < BOUND, "playback not back: {response:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    media_info(&server, &id).await.unwrap();
    eprintln!(
        "store back: SERVING after {ready:?}, playing after {:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_store_fails_requests_at_once_and_readiness_within_seconds() {
    let Some(Playing {
        s3,
        server,
        id,
        path,
    }) = playing().await
    else {
        return;
    };
    s3.signal("-KILL");
    // Refused connections are answered at once: retried with backoff only.
    let quick = Duration::from_secs(5);
    let playback = unavailable_playback(&server, &path).await;
    let read = unavailable_read(&server, &id).await;
    let not_ready = wait_for(&server, ServingStatus::NotServing, BOUND).await;
    eprintln!(
        "killed store: playback 503 after {playback:?}, GetMediaInfo UNAVAILABLE after {read:?}, NOT_SERVING after {not_ready:?}"
    );
    assert!(playback < quick, "playback held {playback:?}");
    assert!(read < quick, "GetMediaInfo held {read:?}");
    server.stop().await;
}

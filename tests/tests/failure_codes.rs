//! Failures are named for what they are, and come in seconds:
//!
//! - PostgreSQL unreachable (a proxy between archive-svc and the server, cut):
//!   archive-svc answers UNAVAILABLE with a retry hint, the gateway's JSON
//!   API 503 with `Retry-After`, within a few seconds; and both answer again
//!   once the proxy reopens;
//! - archive-svc restarting (SIGTERM, then SIGKILL, each time started again
//!   on the same port) under searches through the gateway: every failed
//!   search is UNAVAILABLE (or DEADLINE_EXCEEDED), never RESOURCE_EXHAUSTED,
//!   INTERNAL or CANCELLED, and searches work again after the restart;
//! - an upstream that accepts and never answers: DEADLINE_EXCEEDED, HTTP 504,
//!   after the gateway's `--upstream-timeout-secs`.
//!
//! archive-svc runs in a process of its own for the restarts (this test
//! binary, re-executed to run only `child_process`).

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use archive_common::{identity::KeySet, shutdown::CancellationToken};
use archive_proto::v1::{self as pb, call_service_client::CallServiceClient};
use common::{
    authed,
    child::{ChildService, free_port, settings},
    client_at, extra_gateway,
    http::{HttpResponse, request},
    recordings, start_suite,
    tcp_proxy::{TcpProxy, address_of},
};
use gateway::suite::Suite;
use test_support::postgres::ScratchDatabase;
use tonic::Code;

/// `database url|listen|keys directory|audit url` of the archive-svc child.
const CHILD_ENV: &str = "ARCHIVE_E2E_FAILURE_CODES_CHILD";
const CHILD_TEST: &str = "child_process";

#[test]
#[ignore = "a service process of the tests below, which start it"]
fn child_process() {
    let [db, listen, secret, audit] = settings::<4>(CHILD_ENV);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
        let stop = CancellationToken::new();
        // SIGTERM stops it gracefully (open connections get a GOAWAY), as
        // in a rolling restart.
        let on_term = stop.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            signal(SignalKind::terminate()).unwrap().recv().await;
            on_term.cancel();
        });
        let mut config = archive_svc::Config::new(db, KeySet::new(&secret).config("archive-svc"));
        config.audit_url = Some(audit);
        archive_svc::run(config, listener, stop).await.unwrap();
    });
}

/// archive-svc in its own process on `listen`.
async fn archive_at(listen: SocketAddr, db: &str, keys_dir: &str, audit: &str) -> ChildService {
    let listen_text = listen.to_string();
    ChildService::start(
        CHILD_TEST,
        CHILD_ENV,
        &[db, &listen_text, keys_dir, audit],
        listen,
    )
    .await
}

/// A page of archive-svc's calls, asked of archive-svc itself as the gateway would.
async fn archive_search(url: &str, secret: &str) -> Result<(), tonic::Status> {
    let mut archive = CallServiceClient::connect(url.to_owned()).await.unwrap();
    let who = gateway::demo::user("paal").unwrap().principal();
    archive
        .search_calls(common::keys::gateway_key(&KeySet::new(secret)).request(
            pb::SearchCallsRequest {
                page_size: 5,
                ..Default::default()
            },
            &who,
        ))
        .await
        .map(|_| ())
}

/// `GET /api/v1/calls` of the gateway at `http` as paal.
async fn http_search(suite: &Suite, http: SocketAddr) -> HttpResponse {
    let bearer = format!("Bearer {}", suite.token("paal", 600).unwrap());
    request(
        "GET",
        &format!("http://{http}/api/v1/calls?page_size=5"),
        &[("Authorization", &bearer)],
    )
    .await
}

fn error_code(response: &HttpResponse) -> String {
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_unavailable_and_503_within_seconds_until_it_ends() {
    let Some(db) = ScratchDatabase::create("e2e_db_outage").await else {
        return;
    };
    let proxy = TcpProxy::start(address_of(&db.url)).await;
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let secret = suite.keys.dir.display().to_string();
    let stop = CancellationToken::new();

    // archive-svc (in this process) reaches its database through the proxy.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let archive = format!("http://{}", listener.local_addr().unwrap());
    let mut config =
        archive_svc::Config::new(proxy.url_for(&db.url), suite.keys.config("archive-svc"));
    config.audit_url = Some(format!("http://{}", suite.endpoints.audit));
    tokio::spawn(archive_svc::run(config, listener, stop.clone()));
    archive_common::host::wait_serving(&archive, Duration::from_secs(60))
        .await
        .unwrap();
    recordings::ingest_recorded_calls(&archive, &suite.keys, "outage", "4793", 3).await;
    let gw = extra_gateway::start(&suite, Some(archive.clone()), None, stop.clone()).await;
    archive_search(&archive, &secret).await.unwrap();
    assert_eq!(http_search(&suite, gw.http).await.status, 200);

    proxy.cut();
    let started = Instant::now();
    let status = archive_search(&archive, &secret).await.unwrap_err();
    let grpc_took = started.elapsed();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("retry"), "{status:?}");
    assert!(
        archive_common::error::retry_after(&status).is_some(),
        "no RetryInfo: {status:?}"
    );
    let started = Instant::now();
    let response = http_search(&suite, gw.http).await;
    let http_took = started.elapsed();
    assert_eq!(
        response.status,
        503,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(error_code(&response), "Unavailable");
    let retry: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    eprintln!(
        "database cut: archive-svc UNAVAILABLE after {grpc_took:?}, gateway 503 after {http_took:?}"
    );
    // The pool waits 3 s for a connection: "a few seconds", not 30.
    for took in [grpc_took, http_took] {
        assert!(took < Duration::from_secs(10), "took {took:?}");
    }

    proxy.reopen().await;
    let reopened = Instant::now();
    loop {
        let response = http_search(&suite, gw.http).await;
        if response.status == 200 {
            break;
        }
        assert_eq!(response.status, 503);
        assert!(
            reopened.elapsed() < Duration::from_secs(20),
            "searches did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    archive_search(&archive, &secret).await.unwrap();
    eprintln!("database back: searching after {:?}", reopened.elapsed());

    stop.cancel();
    suite.stop().await.unwrap();
    drop(proxy);
    drop(db);
}

/// What the searches of one loop were answered (a code per failure).
#[derive(Default)]
struct Answers {
    ok: usize,
    failed: Vec<(Code, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_while_archive_svc_restarts_fail_unavailable_and_then_work() {
    let Some(db) = ScratchDatabase::create("e2e_restart").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let secret = suite.keys.dir.display().to_string();
    let audit = format!("http://{}", suite.endpoints.audit);
    let listen = free_port();
    let archive = archive_at(listen, &db.url, &secret, &audit).await;
    recordings::ingest_recorded_calls(&archive.url(), &suite.keys, "restart", "4794", 3).await;
    let stop = CancellationToken::new();
    let gw = extra_gateway::start(&suite, Some(archive.url()), None, stop.clone()).await;
    let search = || {
        authed(
            &suite,
            "paal",
            pb::SearchCallRowsRequest {
                page_size: 5,
                ..Default::default()
            },
        )
    };
    client_at(gw.grpc)
        .await
        .search_call_rows(search())
        .await
        .unwrap();

    // Searches in a loop on four connections to the gateway while
    // archive-svc restarts, and on two channels of the kind the gateway
    // uses straight to archive-svc (its failures before the gateway names
    // them).
    let running = Arc::new(AtomicBool::new(true));
    let answers = Arc::new(Mutex::new(Answers::default()));
    let direct = Arc::new(Mutex::new(Answers::default()));
    let mut loops = Vec::new();
    for _ in 0..2 {
        let (running, answers) = (running.clone(), direct.clone());
        let channel = archive_common::telemetry::client::channel(
            &archive.url(),
            Duration::from_secs(5),
            Duration::from_secs(30),
        )
        .unwrap();
        let mut archive = CallServiceClient::new(channel);
        let key = common::keys::gateway_key(&suite.keys);
        let who = gateway::demo::user("paal").unwrap().principal();
        loops.push(tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                let request = key.request(
                    pb::SearchCallsRequest {
                        page_size: 5,
                        ..Default::default()
                    },
                    &who,
                );
                let answer = archive.search_calls(request).await;
                let mut answers = answers.lock().unwrap();
                match answer {
                    Ok(_) => answers.ok += 1,
                    Err(s) => answers.failed.push((s.code(), s.message().to_owned())),
                }
            }
        }));
    }
    for _ in 0..4 {
        let (running, answers) = (running.clone(), answers.clone());
        let mut gateway = client_at(gw.grpc).await;
        let requests: Vec<_> = (0..2000).map(|_| search()).collect();
        loops.push(tokio::spawn(async move {
            for request in requests {
                if !running.load(Ordering::SeqCst) {
                    break;
                }
                let answer = gateway.search_call_rows(request).await;
                let mut answers = answers.lock().unwrap();
                match answer {
                    Ok(_) => answers.ok += 1,
                    Err(s) => answers.failed.push((s.code(), s.message().to_owned())),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut archive = archive;
    for signal in ["-TERM", "-KILL"] {
        archive.end(signal).await;
        // Nothing listens for a moment: every search then fails.
        tokio::time::sleep(Duration::from_millis(500)).await;
        archive = archive_at(listen, &db.url, &secret, &audit).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    running.store(false, Ordering::SeqCst);
    for l in loops {
        l.await.unwrap();
    }

    for (who, answers) in [("gateway", &answers), ("archive-svc", &direct)] {
        let answers = answers.lock().unwrap();
        let mut by_code = std::collections::BTreeMap::<String, usize>::new();
        for (code, _) in &answers.failed {
            *by_code.entry(format!("{code:?}")).or_default() += 1;
        }
        eprintln!(
            "{who}: {} searches answered, failures by code: {by_code:?}",
            answers.ok
        );
        assert!(
            !answers.failed.is_empty(),
            "no search of {who} met the restarts: the test tested nothing"
        );
        assert!(answers.ok > 0);
        for (code, message) in &answers.failed {
            assert!(
                matches!(code, Code::Unavailable | Code::DeadlineExceeded),
                "a search of {who} failed {code:?}: {message}"
            );
        }
    }
    // After the restart, searches work again.
    client_at(gw.grpc)
        .await
        .search_call_rows(search())
        .await
        .unwrap();
    assert_eq!(http_search(&suite, gw.http).await.status, 200);

    stop.cancel();
    drop(archive);
    suite.stop().await.unwrap();
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_answers_is_deadline_exceeded_and_504() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    // Accepts connections and holds them, answering nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let holding = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let stop = CancellationToken::new();
    let gw = extra_gateway::start_with(
        &suite,
        extra_gateway::Overrides {
            archive_url: Some(silent_url),
            upstream_timeout_secs: Some(1),
            ..Default::default()
        },
        stop.clone(),
    )
    .await;

    let started = Instant::now();
    let response = http_search(&suite, gw.http).await;
    let took = started.elapsed();
    assert_eq!(
        response.status,
        504,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(error_code(&response), "DeadlineExceeded");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    let status = client_at(gw.grpc)
        .await
        .search_call_rows(authed(&suite, "paal", pb::SearchCallRowsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("archive-svc"), "{status:?}");

    holding.abort();
    stop.cancel();
    suite.stop().await.unwrap();
}

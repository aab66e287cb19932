//! Durable append throughput of a real audit-svc over gRPC, with 1 and 64
//! concurrent writers, on PostgreSQL (and SQLite for comparison). Every
//! append is acknowledged only after its group commit; afterwards the chain
//! is verified and its length compared with the acknowledgements, so no
//! acknowledged event was lost. Not a timed test: it prints a table.
//!
//!     cargo bench -p audit-svc --bench append
//!
//! `BENCH_SECONDS` (default 5) sets each run's length; PostgreSQL comes from
//! ARCHIVE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).

// Bench crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::time::{Duration, Instant};

use archive_common::{Principal, identity::testing::TestKeys, shutdown::CancellationToken};
use archive_proto::v1::{self as pb, AuditEventKind, audit_service_client::AuditServiceClient};
use test_support::postgres::ScratchDatabase;
use tonic::transport::Channel;

struct Row {
    backend: &'static str,
    writers: usize,
    appends: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    intact: bool,
}

async fn measure(
    keys: &TestKeys,
    backend: &'static str,
    url: &str,
    writers: usize,
    seconds: Duration,
) -> Row {
    // As main.rs does: accepted sockets inherit TCP_NODELAY (Linux).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_nodelay(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1024).unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(audit_svc::run(
        audit_svc::Config::new(url, keys.config("audit-svc")),
        listener,
        shutdown.clone(),
    ));
    let mut channels = Vec::new();
    while channels.len() < 4 {
        match Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(c) => channels.push(c),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    // The gateway signs each user's principal (the writers share its tokens).
    let key = keys.gateway();
    let tenant = format!("bench-{writers}");
    let actor = Principal::new(tenant.clone(), "paal", "Paal Admin");

    // Until the store is open, appends are refused; wait for the first.
    let mut probe = AuditServiceClient::new(channels[0].clone());
    let event = pb::AuditEvent {
        kind: AuditEventKind::PlaybackStarted as i32,
        call_id: "call-123456".into(),
        recording_id: "rec-123456-1".into(),
        reason: "Quality assurance review of the call".into(),
        client_address: "192.0.2.10".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into(),
        ..Default::default()
    };
    let mut warm = 0u64;
    while probe
        .append_event(key.request(
            pb::AppendEventRequest {
                commit_deadline: Default::default(),
                event: Some(event.clone()),
            },
            &actor,
        ))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    warm += 1;

    let deadline = Instant::now() + seconds;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let mut client = AuditServiceClient::new(channels[i % channels.len()].clone());
            let (key, actor, event) = (key.clone(), actor.clone(), event.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let request = key.request(
                        pb::AppendEventRequest {
                            commit_deadline: Default::default(),
                            event: Some(event.clone()),
                        },
                        &actor,
                    );
                    client.append_event(request).await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    server.await.unwrap().unwrap();

    latencies.sort();
    let pick = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    let acknowledged = latencies.len() as u64 + warm;
    let store = audit_svc::store::connect_existing(url).await.unwrap();
    let report = audit_svc::verify::verify(store.as_ref(), &tenant, 0, 0)
        .await
        .unwrap();
    let head = store.head(&tenant).await.unwrap().unwrap();
    Row {
        backend,
        writers,
        appends: latencies.len() as u64,
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
        intact: report.intact
            && report.events_checked == acknowledged
            && head.last_sequence == acknowledged,
    }
}

#[tokio::main]
async fn main() {
    let seconds = Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let keys = TestKeys::new();
    let mut rows = Vec::new();
    match ScratchDatabase::create("audit_bench_append").await {
        Some(db) => {
            for writers in [1, 64] {
                rows.push(measure(&keys, "PostgreSQL", &db.url, writers, seconds).await);
            }
            drop(db);
        }
        None => eprintln!("PostgreSQL rows skipped: no server"),
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("audit.db").display());
    for writers in [1, 64] {
        rows.push(
            measure(
                &keys,
                "SQLite (synchronous=FULL)",
                &sqlite,
                writers,
                seconds,
            )
            .await,
        );
    }

    println!();
    println!(
        "| backend | writers | durable appends/s | p50 | p99 | appended | chain intact, none lost |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.2?} | {:.2?} | {} | {} |",
            r.backend,
            r.writers,
            r.appends as f64 / r.elapsed.as_secs_f64(),
            r.p50,
            r.p99,
            r.appends,
            if r.intact { "yes" } else { "NO" },
        );
    }
}

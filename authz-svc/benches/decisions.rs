//! Decision throughput and latency of a real authz-svc (SQLite, decision
//! cache on), over gRPC on this machine. Not a timed test: it prints a table.
//!
//!     cargo bench -p authz-svc --bench decisions
//!
//! `BENCH_SECONDS` (default 5) sets each run's length.

// Bench crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::time::{Duration, Instant};

use archive_common::{
    IdentityKey, Principal, identity::testing::TestKeys, shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, Action, authz_service_client::AuthzServiceClient};
use tonic::transport::Channel;

const USERS: usize = 1000;

struct Run {
    name: String,
    decisions: u64,
    calls: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i]
    }
}

/// `clients` concurrent callers (over `channels` HTTP/2 connections) each
/// sending `batch`-sized requests (1: Decide, more: BatchDecide) for `seconds`,
/// each a user signed with `key` (the gateway's).
async fn run(
    key: &IdentityKey,
    name: &str,
    channels: &[Channel],
    clients: usize,
    batch: usize,
    seconds: Duration,
) -> Run {
    let deadline = Instant::now() + seconds;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let mut client = AuthzServiceClient::new(channels[i % channels.len()].clone());
            let key = key.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    // Each caller is a different user, so the cache holds many entries.
                    let who = Principal::new(
                        "10009",
                        format!("user{}", (n as usize * clients + i) % USERS),
                        "U",
                    );
                    let t = Instant::now();
                    if batch == 1 {
                        let request = key.request(
                            pb::DecideRequest {
                                action: Action::Play as i32,
                                resource: None,
                            },
                            &who,
                        );
                        client.decide(request).await.unwrap();
                    } else {
                        let requests = (0..batch)
                            .map(|_| pb::DecideRequest {
                                action: Action::Play as i32,
                                resource: None,
                            })
                            .collect();
                        let request = key.request(pb::BatchDecideRequest { requests }, &who);
                        let answer = client.batch_decide(request).await.unwrap();
                        assert_eq!(answer.into_inner().decisions.len(), batch);
                    }
                    latencies.push(t.elapsed());
                    n += 1;
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
    latencies.sort();
    let calls = latencies.len() as u64;
    Run {
        name: name.to_owned(),
        decisions: calls * batch as u64,
        calls,
        elapsed,
        latencies,
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
    let dir = tempfile::tempdir().unwrap();
    // authz-svc's key and the trust file; users are signed with the gateway's key.
    let keys = TestKeys::new();
    let mut config = authz_svc::Config::new(
        format!("sqlite://{}", dir.path().join("authz.db").display()),
        keys.config("authz-svc"),
    );
    config.bootstrap_admins = vec!["10009:paal:Paal Admin".into()];
    // As main.rs does: accepted sockets inherit TCP_NODELAY (Linux).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_nodelay(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1024).unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(authz_svc::run(config, listener, shutdown.clone()));

    let connect = || async {
        loop {
            if let Ok(c) = Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let mut admin = AuthzServiceClient::new(connect().await);
    let key = keys.gateway();
    let paal = Principal::new("10009", "paal", "Paal Admin");
    for i in 0..USERS {
        let user = pb::User {
            user_id: format!("user{i}"),
            display_name: format!("User {i}"),
            permissions: Some(pb::Permissions {
                play_recordings: true,
                require_reason: i % 2 == 0,
                ..Default::default()
            }),
            ..Default::default()
        };
        loop {
            match admin
                .create_user(key.request(
                    pb::CreateUserRequest {
                        context: Default::default(),
                        user: Some(user.clone()),
                    },
                    &paal,
                ))
                .await
            {
                Ok(_) => break,
                // The store may still be opening.
                Err(s) if s.code() == tonic::Code::Unavailable => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(s) => panic!("{s}"),
            }
        }
    }
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(connect().await);
    }

    // Warm the cache and the connections.
    run(&key, "warm-up", &channels, 64, 1, Duration::from_secs(1)).await;
    let runs = [
        run(&key, "Decide, 1 caller", &channels[..1], 1, 1, seconds).await,
        run(&key, "Decide, 64 callers", &channels, 64, 1, seconds).await,
        run(
            &key,
            "BatchDecide x100, 16 callers",
            &channels,
            16,
            100,
            seconds,
        )
        .await,
        run(
            &key,
            "BatchDecide x1000, 4 callers",
            &channels,
            4,
            1000,
            seconds,
        )
        .await,
    ];
    println!();
    println!("| run | decisions/s | calls/s | p50 per call | p99 per call |");
    println!("|---|---:|---:|---:|---:|");
    for r in &runs {
        let secs = r.elapsed.as_secs_f64();
        println!(
            "| {} | {:.0} | {:.0} | {:.2?} | {:.2?} |",
            r.name,
            r.decisions as f64 / secs,
            r.calls as f64 / secs,
            r.percentile(0.50),
            r.percentile(0.99),
        );
    }
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

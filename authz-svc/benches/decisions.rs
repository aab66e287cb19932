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

const QUEUES: [&str; 4] = ["Sales", "Support", "Billing", "Retention"];
const AGENTS: [&str; 5] = ["Agent 0", "Agent 1", "Agent 2", "Agent 3", "Agent 4"];

/// A search page's own verdicts, as the gateway asks them: search, play,
/// download and delete on no resource in particular (each answered with
/// where it reaches).
fn page_requests() -> Vec<pb::DecideRequest> {
    [
        Action::Search,
        Action::Play,
        Action::Download,
        Action::Delete,
    ]
    .into_iter()
    .map(|a| pb::DecideRequest {
        action: a as i32,
        resource: None,
    })
    .collect()
}

/// A page's `batch` row decisions as the gateway asks them for a user whose
/// rights reach only some calls: play, download and delete on distinct
/// recordings, each with its call's queue, agents and access point (some
/// agent-to-agent).
fn row_requests(batch: usize, seed: usize) -> Vec<pb::DecideRequest> {
    let actions = [Action::Play, Action::Download, Action::Delete];
    (0..batch)
        .map(|i| {
            let r = (seed + i / 3) % 997;
            pb::DecideRequest {
                action: actions[i % 3] as i32,
                resource: Some(pb::ResourceAttributes {
                    recording_id: format!("00000000-0000-4000-8000-{r:012}"),
                    owner_agent: if r.is_multiple_of(17) {
                        AGENTS[r % 5].into()
                    } else {
                        String::new()
                    },
                    call_id: format!("10000000-0000-4000-8000-{r:012}"),
                    queues: vec![QUEUES[r % 4].into()],
                    agents: vec![AGENTS[r % 5].into(), AGENTS[(r + 1) % 5].into()],
                    access_point_number: format!("8151156{}", r % 10),
                }),
            }
        })
        .collect()
}

/// `clients` concurrent callers (over `channels` HTTP/2 connections) each
/// sending `batch`-sized requests (1: Decide, more: BatchDecide) for `seconds`,
/// each a user signed with `key` (the gateway's); with `rows`, the page's
/// per-recording decisions ([`row_requests`]), else the same resource-less
/// Play `batch` times.
async fn run(
    key: &IdentityKey,
    name: &str,
    channels: &[Channel],
    clients: usize,
    batch: usize,
    rows: bool,
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
                        let requests = if rows {
                            row_requests(batch, n as usize * 31 + i)
                        } else if batch == 4 {
                            page_requests()
                        } else {
                            (0..batch)
                                .map(|_| pb::DecideRequest {
                                    action: Action::Play as i32,
                                    resource: None,
                                })
                                .collect()
                        };
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
        // A third reach every call, a third two queues, a third their own
        // calls (as agents), so row decisions judge the resource.
        let scoped = |scope: pb::Scope| pb::Scopes {
            play: Some(scope.clone()),
            download: Some(scope.clone()),
            delete: Some(scope),
            ..Default::default()
        };
        let (agent_name, scopes) = match i % 3 {
            0 => (String::new(), None),
            1 => (
                String::new(),
                Some(scoped(pb::Scope {
                    queues: vec!["Sales".into(), "Billing".into()],
                    ..Default::default()
                })),
            ),
            _ => (
                AGENTS[i % 5].to_owned(),
                Some(scoped(pb::Scope {
                    own_calls: true,
                    ..Default::default()
                })),
            ),
        };
        let user = pb::User {
            user_id: format!("user{i}"),
            display_name: format!("User {i}"),
            agent_name,
            permissions: Some(pb::Permissions {
                play_recordings: true,
                download_recordings: true,
                delete_recordings: i % 4 == 0,
                require_reason: i % 2 == 0,
                ..Default::default()
            }),
            scopes,
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
    run(
        &key,
        "warm-up",
        &channels,
        64,
        1,
        false,
        Duration::from_secs(1),
    )
    .await;
    let runs = [
        run(
            &key,
            "Decide, 1 caller",
            &channels[..1],
            1,
            1,
            false,
            seconds,
        )
        .await,
        run(&key, "Decide, 64 callers", &channels, 64, 1, false, seconds).await,
        run(
            &key,
            "BatchDecide x4 a search page's verdicts (search, play, download, delete), 1 caller",
            &channels[..1],
            1,
            4,
            false,
            seconds,
        )
        .await,
        run(
            &key,
            "BatchDecide x100 same Play, no resource, 16 callers",
            &channels,
            16,
            100,
            false,
            seconds,
        )
        .await,
        run(
            &key,
            "BatchDecide x100 page rows (distinct recordings, scoped users), 16 callers",
            &channels,
            16,
            100,
            true,
            seconds,
        )
        .await,
        run(
            &key,
            "BatchDecide x1000 page rows, 4 callers",
            &channels,
            4,
            1000,
            true,
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

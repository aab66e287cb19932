//! Search at scale: loads N calls (default 1,000,000) of 50 tenants into a
//! scratch PostgreSQL database through archive-svc's BatchIngestCalls, then
//! times the Archive's query mix through archive-svc's gRPC and, in the same
//! run, the same SQL issued directly through the store. Prints a table.
//!
//!     cargo bench -p archive-svc --bench search -- [--calls N] [--iterations N] [--keep]
//!
//! Needs PostgreSQL (ARCHIVE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).

#![allow(unused_crate_dependencies)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use archive_common::{
    Principal, convert::timestamp, identity::testing::TestKeys, shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, call_event::Kind, call_service_client::CallServiceClient};
use archive_svc::{
    model::{CallQuery, Cursor},
    store,
};
use chrono::{DateTime, TimeDelta, Utc};
use test_support::postgres::ScratchDatabase;
use tonic::transport::Channel;

const TENANTS: usize = 50;
const PAGE: i32 = 50;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Tenant sizes skewed like real operators: tenant i gets a share ∝ 1/(i+1).
fn tenant_sizes(total: usize) -> Vec<usize> {
    let weights: Vec<f64> = (0..TENANTS).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let sum: f64 = weights.iter().sum();
    let mut sizes: Vec<usize> = weights
        .iter()
        .map(|w| (w / sum * total as f64) as usize)
        .collect();
    sizes[0] += total - sizes.iter().sum::<usize>();
    sizes
}

fn tenant_id(i: usize) -> String {
    format!("{}", 10_000 + i)
}

fn agent(tenant_size: usize, rng: &mut Rng) -> String {
    let agents = 20 + tenant_size / 2000;
    format!("Agent {:04}", rng.below(agents as u64))
}

/// One realistic call: queue, 1-2 agents (transfers), 0-2 recordings.
fn call(i: usize, tenant_size: usize, now: DateTime<Utc>, rng: &mut Rng) -> pb::IngestCallRequest {
    let start = now - TimeDelta::seconds(rng.below(90 * 24 * 3600) as i64);
    let mut t = start;
    let mut events = Vec::new();
    let mut push = |t: DateTime<Utc>, kind| {
        events.push(pb::CallEvent {
            time: Some(timestamp(t)),
            kind: Some(kind),
        })
    };
    let recordings = match rng.below(10) {
        0..=2 => 0,
        3..=7 => 1,
        _ => 2,
    };
    let queue = ["Sales", "Support", "Billing", "Claims"][rng.below(4) as usize];
    push(
        t,
        Kind::QueueEntered(pb::QueueEntered {
            queue: queue.into(),
            forced_recording: recordings > 0,
            pending_recording: false,
        }),
    );
    let first = agent(tenant_size, rng);
    t += TimeDelta::seconds(2 + rng.below(60) as i64);
    push(
        t,
        Kind::AgentConnected(pb::AgentConnected {
            agent: first.clone(),
            forced_recording: false,
        }),
    );
    t += TimeDelta::seconds(15 + rng.below(600) as i64);
    push(
        t,
        Kind::AgentDisconnected(pb::AgentDisconnected { agent: first }),
    );
    if recordings == 2 || rng.below(10) == 0 {
        // A transfer; with two recordings the second agent records manually.
        let second = agent(tenant_size, rng);
        t += TimeDelta::seconds(1 + rng.below(20) as i64);
        push(
            t,
            Kind::QueueEntered(pb::QueueEntered {
                queue: queue.into(),
                forced_recording: false,
                pending_recording: false,
            }),
        );
        push(
            t,
            Kind::AgentConnected(pb::AgentConnected {
                agent: second.clone(),
                forced_recording: false,
            }),
        );
        if recordings == 2 {
            push(
                t,
                Kind::ManualRecordingStarted(pb::ManualRecordingStarted {
                    agent: second.clone(),
                }),
            );
        }
        t += TimeDelta::seconds(10 + rng.below(300) as i64);
        push(
            t,
            Kind::AgentDisconnected(pb::AgentDisconnected { agent: second }),
        );
    }
    let callers = (tenant_size / 3).max(10) as u64;
    pb::IngestCallRequest {
        session_id: format!("bench-{i}"),
        start_time: Some(timestamp(start)),
        access_point: Some(pb::AccessPoint {
            number: format!("8151{:04}", rng.below(5)),
            name: "Main Number".into(),
        }),
        caller_number: format!("{:08}", 40_000_000 + rng.below(callers) * 97 % 59_999_999),
        events,
        ..Default::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Query {
    name: &'static str,
    filter: pb::CallFilter,
    pages: usize,
}

#[tokio::main]
async fn main() {
    let total = arg("--calls", 1_000_000);
    let iterations = arg("--iterations", 300);
    let db = ScratchDatabase::create("archive_bench")
        .await
        .expect("the benchmark needs PostgreSQL");
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // archive-svc's key and the trust file; the recording platform's
    // credential ingests for every tenant, the gateway's key signs the user
    // who searches.
    let keys = TestKeys::new();
    let mut config = archive_svc::Config::new(db.url.clone(), keys.config("archive-svc"));
    config.retention_interval = Duration::from_secs(24 * 3600);
    tokio::spawn(archive_svc::run(config, listener, shutdown.clone()));
    archive_common::host::wait_serving(&format!("http://{addr}"), Duration::from_secs(30))
        .await
        .unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = CallServiceClient::new(channel);
    let key = keys.gateway();
    let tenants: Vec<String> = (0..TENANTS).map(tenant_id).collect();
    let tenants: Vec<&str> = tenants.iter().map(String::as_str).collect();
    let platform = keys.platform("recording-platform", &tenants);

    // Load.
    let sizes = tenant_sizes(total);
    let now = Utc::now();
    let loaded = Instant::now();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut batches = Vec::new();
    let mut probe_number = String::new();
    let mut n = 0;
    for (t, size) in sizes.iter().enumerate() {
        let calls: Vec<_> = (0..*size)
            .map(|_| {
                n += 1;
                call(n, *size, now, &mut rng)
            })
            .collect();
        if t == 0 {
            probe_number = calls[calls.len() / 2].caller_number[3..7].to_owned();
        }
        for chunk in calls.chunks(1000) {
            batches.push((tenant_id(t), chunk.to_vec()));
        }
    }
    let generated = loaded.elapsed();
    let ingest = Instant::now();
    let batches = Arc::new(tokio::sync::Mutex::new(batches));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let batches = batches.clone();
        let mut client = client.clone();
        let platform = platform.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let Some((tenant, calls)) = batches.lock().await.pop() else {
                    return;
                };
                client
                    .batch_ingest_calls(
                        platform.request(pb::BatchIngestCallsRequest { calls }, &tenant),
                    )
                    .await
                    .expect("ingest");
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let ingest_time = ingest.elapsed();
    let direct = store::open(&db.url, true).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    // Every file uploaded, as media-svc reports it: the rows then carry
    // what search answers in production (the media state and the file's
    // size, duration and SHA-256), not the pending state ingest leaves.
    sqlx::query(
        "UPDATE recordings SET media_state = 2, media_size_bytes = 2636000, \
         media_duration_us = finish_us - start_us, \
         media_sha256 = md5(recording_id::text) || md5(call_id::text), media_stored_at_us = finish_us",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE").execute(&pool).await.unwrap();

    // The query mix, on the largest tenant.
    let tenant = tenant_id(0);
    let who = Principal::new(tenant.clone(), "bench", "Bench User");
    let seven_days = pb::CallFilter {
        start_time_from: Some(timestamp(now - TimeDelta::days(7))),
        ..Default::default()
    };
    let mut probe = Rng(7);
    let queries = vec![
        Query {
            name: "last 7 days, page 1",
            filter: seven_days,
            pages: 1,
        },
        Query {
            name: "by agent",
            filter: pb::CallFilter {
                agent: agent(sizes[0], &mut probe),
                ..Default::default()
            },
            pages: 1,
        },
        Query {
            name: "by partial caller number",
            filter: pb::CallFilter {
                caller_number: probe_number.clone(),
                caller_number_partial: true,
                ..Default::default()
            },
            pages: 1,
        },
        Query {
            name: "by access point",
            filter: pb::CallFilter {
                access_point_number: "81510003".into(),
                ..Default::default()
            },
            pages: 1,
        },
        Query {
            name: "all calls newest first, page 20 (keyset)",
            filter: pb::CallFilter::default(),
            pages: 20,
        },
    ];
    let mut rows = Vec::new();
    for q in &queries {
        // Walk to the page through the service to get its token, and through the store for its cursor.
        let mut token = String::new();
        let query: CallQuery = archive_svc::convert::call_query(Some(q.filter.clone()), 0).unwrap();
        let mut cursor: Option<Cursor> = None;
        for _ in 1..q.pages {
            let page = client
                .clone()
                .search_calls(key.request(
                    pb::SearchCallsRequest {
                        filter: Some(q.filter.clone()),
                        page_size: PAGE,
                        page_token: token.clone(),
                        ..Default::default()
                    },
                    &who,
                ))
                .await
                .unwrap()
                .into_inner();
            token = page.next_page_token;
            let calls = direct
                .search(&tenant, &query, cursor, PAGE as u32 + 1)
                .await
                .unwrap();
            let last = &calls[PAGE as usize - 1];
            cursor = Some(Cursor {
                start_us: last.start.timestamp_micros(),
                call_id: last.call_id,
            });
        }
        let mut service_times = Vec::with_capacity(iterations);
        let mut direct_times = Vec::with_capacity(iterations);
        let mut found = 0;
        for i in 0..iterations + 20 {
            let started = Instant::now();
            let page = client
                .clone()
                .search_calls(key.request(
                    pb::SearchCallsRequest {
                        filter: Some(q.filter.clone()),
                        page_size: PAGE,
                        page_token: token.clone(),
                        ..Default::default()
                    },
                    &who,
                ))
                .await
                .unwrap()
                .into_inner();
            let service = started.elapsed();
            let started = Instant::now();
            let calls = direct
                .search(&tenant, &query, cursor, PAGE as u32 + 1)
                .await
                .unwrap();
            let sql = started.elapsed();
            found = page.calls.len();
            assert_eq!(
                found,
                calls.len().min(PAGE as usize),
                "service and store agree"
            );
            if i >= 20 {
                service_times.push(service);
                direct_times.push(sql);
            }
        }
        service_times.sort();
        direct_times.sort();
        rows.push((
            q.name,
            found,
            percentile(&direct_times, 0.5),
            percentile(&direct_times, 0.99),
            percentile(&service_times, 0.5),
            percentile(&service_times, 0.99),
        ));
    }

    println!();
    println!(
        "archive-svc search benchmark: {total} calls, {TENANTS} tenants (largest: {} calls), PostgreSQL, page size {PAGE}, {iterations} iterations",
        sizes[0]
    );
    println!(
        "generated in {:.1} s; ingested through gRPC BatchIngestCalls (1000/batch, 4 clients) in {:.1} s = {:.0} calls/s",
        generated.as_secs_f64(),
        ingest_time.as_secs_f64(),
        total as f64 / ingest_time.as_secs_f64()
    );
    println!();
    println!(
        "| query | rows | direct SQL p50 | direct SQL p99 | archive-svc gRPC p50 | archive-svc gRPC p99 | p99 ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, found, d50, d99, s50, s99) in rows {
        println!(
            "| {name} | {found} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2}× |",
            ms(d50),
            ms(d99),
            ms(s50),
            ms(s99),
            ms(s99) / ms(d99)
        );
    }
    shutdown.cancel();
    drop(direct);
    pool.close().await;
    if std::env::args().any(|a| a == "--keep") {
        println!("\nkept the database for inspection: {}", db.keep());
    } else {
        drop(db);
    }
}

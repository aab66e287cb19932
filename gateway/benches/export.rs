//! Export and search through the gateway, against their peers, in one run:
//!
//! - a zip of 500 recordings (≥ 1 GiB) streamed by the gateway over HTTP vs
//!   Info-ZIP `zip -0` building the same archive from the same files on disk;
//! - the gateway's peak RSS during a 1 GiB and a 4 GiB export (1000 recordings);
//! - result rows through the gateway (SearchCallRows) vs archive-svc (SearchCalls),
//!   through both deployments of the gateway in one loop — embedded (the
//!   suite's own gateway, the services in its process) and `gateway serve` in
//!   a process of its own (the services over gRPC, as on Kubernetes) — on the
//!   benchmark's few calls (where the gateway's fixed cost is all there is to
//!   see) and again after adding 100,000 calls (`--scale-calls`), for the
//!   search form's usual queries.
//!
//!     cargo bench -p gateway --bench export [-- --skip-4gib | --search-only] [--scale-calls N]
//!
//! Searches are recorded in the audit trail (one SEARCH_PERFORMED per page),
//! as the tenant's default is; `--search-only` ends by turning that off for the
//! tenant and measuring the 500-call page again, so the cost of recording
//! searches is measured in the same run.
//!
//! `GATEWAY_BIN` runs another build of the gateway binary than this one's
//! (to compare two versions of the gateway against the same services).
//!
//! `ARCHIVE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432` runs the
//! services on that PostgreSQL server instead of SQLite: the suite's three
//! databases there (`archive_calls`, `archive_authz`, `archive_audit`) are
//! DROPPED and made afresh first, so never point it at a server whose
//! archive you keep.
//!
//! The suite runs in this process (embedded mode, SQLite, local files). The
//! exports go through the `gateway serve` binary in a process of its own in
//! front of it, as on Kubernetes, so its peak RSS is its own (VmHWM of that
//! process, reset before each export). The peak of this process (the
//! services, the embedded gateway and the load generator) is shown beside it.

#![allow(unused_crate_dependencies)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use archive_common::{IdentityKey, convert::timestamp, shutdown::CancellationToken};

/// The bench plays the gateway when it asks the services directly.
fn gateway_key(suite: &Suite) -> IdentityKey {
    suite
        .keys
        .config("gateway")
        .load()
        .expect("the suite's gateway key")
        .key
}
use archive_proto::v1::{
    self as pb, archive_service_client::ArchiveServiceClient,
    authz_service_client::AuthzServiceClient, call_event::Kind,
    call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use chrono::{TimeDelta, Utc};
use gateway::{SuiteConfig, suite::Suite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::metadata::MetadataValue;

const CLIP: &[u8] = include_bytes!("../demo/cbr128-44k.mp3");

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Peak resident set size of process `pid` ("self" for this one) since the
/// last reset, in MiB.
fn peak_rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident set size of process `pid` now, in MiB.
fn rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Linux resets the peak RSS when 5 is written to clear_refs.
fn reset_peak_rss(pid: &str) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs is writable");
}

/// `gateway serve` in a process of its own, in front of the suite's services.
struct GatewayProcess {
    child: Child,
    grpc: SocketAddr,
}

impl GatewayProcess {
    async fn start(suite: &Suite) -> Self {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        };
        let (grpc, http) = (free(), free());
        let e = &suite.endpoints;
        let url = |addr: SocketAddr| format!("http://{addr}");
        let binary =
            std::env::var("GATEWAY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_gateway").into());
        let child = Command::new(binary)
            .arg("serve")
            .args(["--listen", &grpc.to_string()])
            .args(["--http-listen", &http.to_string()])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .args(["--public-url", &url(http)])
            .args(["--archive-url", &url(e.archive)])
            .args(["--media-url", &url(e.media)])
            .args(["--authz-url", &url(e.authz)])
            .args(["--audit-url", &url(e.audit)])
            .args(["--media-public-url", &url(e.media_http)])
            .env("ARCHIVE_JWT_SECRET", &suite.secrets.jwt_secret)
            .env("ARCHIVE_IDENTITY_KEY_FILE", suite.keys.key_file("gateway"))
            .env("ARCHIVE_TRUST_FILE", suite.keys.trust_file())
            .env("ARCHIVE_PLAYBACK_KEY", &suite.secrets.playback_key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the gateway binary runs");
        gateway::suite::wait_serving("gateway", grpc).await.unwrap();
        Self { child, grpc }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An MP3 of about `size` bytes: whole CBR clips one after another.
fn mp3_of(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + CLIP.len());
    while out.len() < size {
        out.extend_from_slice(CLIP);
    }
    out
}

async fn create_recordings(suite: &Suite, prefix: &str, count: usize, size: usize) -> Vec<String> {
    let platform = suite.platform.clone();
    let mut archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let start = Utc::now() - TimeDelta::days(1);
    let mut ids = Vec::with_capacity(count);
    for batch in (0..count).collect::<Vec<_>>().chunks(500) {
        let calls = batch
            .iter()
            .map(|&i| {
                recorded_call(RecordedCall {
                    session_id: format!("{prefix}-{i}"),
                    start: start + TimeDelta::seconds(i as i64 * 60),
                    access_point: "81511569".into(),
                    caller: format!("9{i:07}"),
                    queue: "Sales",
                    agent: "Andreas Wallin".into(),
                    talk_secs: 120,
                })
            })
            .collect();
        let results = archive
            .batch_ingest_calls(platform.request(pb::BatchIngestCallsRequest { calls }, "10009"))
            .await
            .unwrap()
            .into_inner()
            .results;
        ids.extend(
            results
                .into_iter()
                .map(|r| r.call.unwrap().recordings[0].recording_id.clone()),
        );
    }
    let bytes = std::sync::Arc::new(mp3_of(size));
    let media = MediaServiceClient::connect(format!("http://{}", suite.endpoints.media))
        .await
        .unwrap();
    on_four_workers(ids.clone(), move |id| {
        let (bytes, mut media, platform) = (bytes.clone(), media.clone(), platform.clone());
        async move {
            let messages = pb::UploadRecordingRequest::stream_of(&id, &bytes, 1 << 20);
            media
                .upload_recording(platform.request(tokio_stream::iter(messages), "10009"))
                .await
                .unwrap();
        }
    })
    .await;
    ids
}

/// Runs `work` on every item, four at a time, each on a task of its own.
async fn on_four_workers<T, F, Fut>(items: Vec<T>, work: F)
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let queue = std::sync::Arc::new(std::sync::Mutex::new(items));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (queue, work) = (queue.clone(), work.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(item) = queue.lock().unwrap().pop() else {
                    return;
                };
                work(item).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
}

async fn export(suite: &Suite, gateway: SocketAddr, ids: &[String]) -> (u64, Duration, String) {
    let mut client = ArchiveServiceClient::connect(format!("http://{gateway}"))
        .await
        .unwrap();
    let mut request = tonic::Request::new(pb::CreateExportRequest {
        case_id: Default::default(),
        reason_code: Default::default(),
        request_id: Default::default(),
        recording_ids: ids.to_vec(),
        reason: String::new(),
    });
    let token = suite.token("paal", 3600).unwrap();
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    let started = Instant::now();
    let created = client.create_export(request).await.unwrap().into_inner();
    let body = download(&created.download_url, None).await;
    assert_eq!(body, created.size_bytes, "the whole archive arrived");
    (created.size_bytes, started.elapsed(), created.download_url)
}

/// GETs `url`, discarding (or saving) the body; returns the body's length.
async fn download(url: &str, save: Option<&Path>) -> u64 {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut file = match save {
        Some(p) => Some(tokio::fs::File::create(p).await.unwrap()),
        None => None,
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut header_done = false;
    let mut head = Vec::new();
    let mut body = 0u64;
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if !header_done {
            head.extend_from_slice(chunk);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            assert!(
                head.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&head[..end])
            );
            header_done = true;
            let already = head.len() - (end + 4);
            chunk = &buf[n - already..n];
        }
        body += chunk.len() as u64;
        if let Some(f) = file.as_mut() {
            f.write_all(chunk).await.unwrap();
        }
    }
    body
}

fn info_zip(files: &[PathBuf], out: &Path) -> (u64, Duration) {
    let _ = std::fs::remove_file(out);
    let started = Instant::now();
    let status = std::process::Command::new("zip")
        .args(["-0", "-q", "-j"])
        .arg(out)
        .args(files)
        .status()
        .expect("Info-ZIP zip is installed (Debian package zip)");
    let took = started.elapsed();
    assert!(status.success());
    (std::fs::metadata(out).unwrap().len(), took)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1].as_secs_f64()
        * 1000.0
}

/// The process's user + system CPU so far, in ms (`/proc/PID/stat`, USER_HZ = 100).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 * 10.0
}

/// One search path's latencies: p50 and p99, ms.
#[derive(Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self {
            p50: percentile(&samples, 0.5),
            p99: percentile(&samples, 0.99),
        }
    }
}

/// The same page on the three paths, measured in one loop.
struct SearchPaths {
    /// archive-svc's SearchCalls, called directly.
    direct: Latency,
    /// SearchCallRows through the suite's own gateway (embedded mode: the
    /// services in its process, called in-process).
    embedded: Latency,
    /// SearchCallRows through the `gateway serve` process (the services over
    /// gRPC on loopback, as from another pod).
    separate: Latency,
    /// The `gateway serve` process's CPU per page (ms).
    separate_cpu: f64,
}

/// Each path asked for the same page in turn, the order rotating, so all see
/// the same machine; the first 20 rounds warm up and are not counted.
async fn search_latencies(
    suite: &Suite,
    gateway: &GatewayProcess,
    filter: Option<pb::CallFilter>,
) -> SearchPaths {
    let connect = |addr: SocketAddr| ArchiveServiceClient::connect(format!("http://{addr}"));
    let mut embedded = connect(suite.endpoints.gateway).await.unwrap();
    let mut separate = connect(gateway.grpc).await.unwrap();
    let mut archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let key = gateway_key(suite);
    // BENCH_SEARCH_USER=siri: a user whose search reaches one queue (the
    // direct path asks archive-svc with the same scope).
    let user_id = std::env::var("BENCH_SEARCH_USER").unwrap_or_else(|_| "paal".into());
    let user = gateway::demo::user(&user_id).expect("BENCH_SEARCH_USER is a demo user");
    let scope = user
        .scopes
        .as_ref()
        .and_then(|s| s.search.clone())
        .map(|s| pb::CallScope {
            queues: s.queues,
            access_points: s.access_points,
            ..Default::default()
        });
    if user_id != "paal" {
        // The bench's suite seeds no demo users: this one is created by the admin.
        let mut authz = AuthzServiceClient::connect(format!("http://{}", suite.endpoints.authz))
            .await
            .unwrap();
        let admin = gateway::demo::user("paal").unwrap().principal();
        let request = pb::CreateUserRequest {
            user: Some(user.user()),
            context: None,
        };
        match authz.create_user(key.request(request, &admin)).await {
            Ok(_) => {}
            Err(s) if s.code() == tonic::Code::AlreadyExists => {}
            Err(s) => panic!("creating {user_id}: {s}"),
        }
    }
    let paal = user.principal();
    let token = MetadataValue::try_from(format!("Bearer {}", suite.token(&user_id, 3600).unwrap()))
        .unwrap();
    let rows_request = || {
        let mut request = tonic::Request::new(pb::SearchCallRowsRequest {
            page_size: 50,
            filter: filter.clone(),
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", token.clone());
        request
    };
    let mut samples: [Vec<Duration>; 3] = Default::default();
    let cpu_before = cpu_ms(gateway.child.id());
    for round in 0..PAGES {
        let mut took = [Duration::ZERO; 3];
        for turn in 0..3 {
            let path = (round as usize + turn) % 3;
            let t = Instant::now();
            match path {
                0 => {
                    let request = key.request(
                        pb::SearchCallsRequest {
                            page_size: 50,
                            filter: filter.clone(),
                            scope: scope.clone(),
                            ..Default::default()
                        },
                        &paal,
                    );
                    archive.search_calls(request).await.unwrap();
                }
                1 => {
                    embedded.search_call_rows(rows_request()).await.unwrap();
                }
                _ => {
                    separate.search_call_rows(rows_request()).await.unwrap();
                }
            }
            took[path] = t.elapsed();
        }
        if round >= 20 {
            for (path, took) in took.into_iter().enumerate() {
                samples[path].push(took);
            }
        }
    }
    let separate_cpu = (cpu_ms(gateway.child.id()) - cpu_before) / f64::from(PAGES);
    let [direct, embedded, separate] = samples.map(Latency::of);
    SearchPaths {
        direct,
        embedded,
        separate,
        separate_cpu,
    }
}

/// Drops the suite's databases on `server`, so a run starts from nothing.
async fn drop_suite_databases(server: &str) {
    use sqlx::{Connection, Executor};
    let server = server.trim_end_matches('/');
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("connect to ARCHIVE_BENCH_POSTGRES_URL");
    for name in ["archive_calls", "archive_authz", "archive_audit"] {
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
            .await
            .unwrap_or_else(|e| panic!("drop {name}: {e}"));
    }
}

/// Calls added for the search at scale (`--scale-calls N`).
const SCALE_CALLS: usize = 100_000;
/// Agents the calls at scale are spread over.
const SCALE_AGENTS: usize = 40;

/// `count` calls over the last 90 days, each answered by one of
/// [`SCALE_AGENTS`] agents from one of four queues, each with a recording
/// (no audio: search does not read it).
async fn ingest_calls(suite: &Suite, count: usize) -> Duration {
    let platform = suite.platform.clone();
    let archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let now = Utc::now();
    let started = Instant::now();
    let batches: Vec<Vec<usize>> = (0..count)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(<[usize]>::to_vec)
        .collect();
    on_four_workers(batches, move |batch| {
        let (mut archive, platform) = (archive.clone(), platform.clone());
        async move {
            let calls = batch.iter().map(|&i| scale_call(now, i)).collect();
            archive
                .batch_ingest_calls(
                    platform.request(pb::BatchIngestCallsRequest { calls }, "10009"),
                )
                .await
                .unwrap();
        }
    })
    .await;
    started.elapsed()
}

fn scale_call(now: chrono::DateTime<Utc>, i: usize) -> pb::IngestCallRequest {
    // Spread over 90 days, deterministically shuffled.
    let offset = (i as i64 * 7_919) % (90 * 86_400);
    recorded_call(RecordedCall {
        session_id: format!("scale-{i}"),
        start: now - TimeDelta::seconds(offset + 3_600),
        access_point: format!("8151156{}", i % 5),
        caller: format!("9{:07}", i % 2_000_000),
        queue: ["Sales", "Support", "Billing", "Claims"][i % 4],
        agent: format!("Agent {}", i % SCALE_AGENTS),
        talk_secs: 60 + (i % 400) as i64,
    })
}

/// A call that entered a queue with forced recording and was answered by
/// one agent five seconds later: one recording.
struct RecordedCall {
    session_id: String,
    start: chrono::DateTime<Utc>,
    access_point: String,
    caller: String,
    queue: &'static str,
    agent: String,
    talk_secs: i64,
}

fn recorded_call(call: RecordedCall) -> pb::IngestCallRequest {
    let ev = |s: i64, kind| pb::CallEvent {
        time: Some(timestamp(call.start + TimeDelta::seconds(s))),
        kind: Some(kind),
    };
    pb::IngestCallRequest {
        session_id: call.session_id.clone(),
        start_time: Some(timestamp(call.start)),
        access_point: Some(pb::AccessPoint {
            number: call.access_point.clone(),
            name: "Main Demo Number".into(),
        }),
        caller_number: call.caller.clone(),
        events: vec![
            ev(
                0,
                Kind::QueueEntered(pb::QueueEntered {
                    queue: call.queue.into(),
                    forced_recording: true,
                    pending_recording: false,
                }),
            ),
            ev(
                5,
                Kind::AgentConnected(pb::AgentConnected {
                    agent: call.agent.clone(),
                    forced_recording: false,
                }),
            ),
            ev(
                5 + call.talk_secs,
                Kind::AgentDisconnected(pb::AgentDisconnected {
                    agent: call.agent.clone(),
                }),
            ),
        ],
        ..Default::default()
    }
}

/// The search pairs again on an archive of `calls` more calls, for the
/// queries the Archive's search form makes most.
async fn search_at_scale(suite: &Suite, gateway: &GatewayProcess, calls: usize) {
    if calls == 0 {
        return;
    }
    let took = ingest_calls(suite, calls).await;
    println!();
    println!(
        "search on an archive of {calls} more calls (ingested in {:.1} s), page of 50 rows:",
        took.as_secs_f64()
    );
    println!();
    print_search_header("query");
    search_rows(suite, gateway, form_queries()).await;
}

/// The search form's usual queries.
fn form_queries() -> Vec<(&'static str, Option<pb::CallFilter>)> {
    let now = Utc::now();
    vec![
        ("newest first", None),
        (
            "last 7 days",
            Some(pb::CallFilter {
                start_time_from: Some(timestamp(now - TimeDelta::days(7))),
                ..Default::default()
            }),
        ),
        (
            "by agent",
            Some(pb::CallFilter {
                agent: "Agent 7".into(),
                ..Default::default()
            }),
        ),
        (
            "by queue, last 30 days",
            Some(pb::CallFilter {
                queue: "Claims".into(),
                start_time_from: Some(timestamp(now - TimeDelta::days(30))),
                ..Default::default()
            }),
        ),
    ]
}

/// A table line per query: the three paths' latencies and ratios.
async fn search_rows(
    suite: &Suite,
    gateway: &GatewayProcess,
    queries: Vec<(&str, Option<pb::CallFilter>)>,
) {
    for (name, filter) in queries {
        let paths = search_latencies(suite, gateway, filter).await;
        let (d, e, p) = (paths.direct, paths.embedded, paths.separate);
        println!(
            "| {name} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | **{:.2}× / {:.2}×** | {:.2} / {:.2} ms | {:.2}× / {:.2}× | {:.2} ms |",
            d.p50,
            d.p99,
            e.p50,
            e.p99,
            e.p50 / d.p50,
            e.p99 / d.p99,
            p.p50,
            p.p99,
            p.p50 / d.p50,
            p.p99 / d.p99,
            paths.separate_cpu
        );
    }
}

/// Turns the audit of the demo tenant's searches on or off (archive-svc's
/// tenant settings).
async fn set_search_audit(suite: &Suite, on: bool) {
    let key = gateway_key(suite);
    let admin = gateway::demo::user("paal").unwrap().principal();
    let mut archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let settings = archive
        .get_tenant_settings(key.request(pb::GetTenantSettingsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    archive
        .update_tenant_settings(key.request(
            pb::UpdateTenantSettingsRequest {
                settings: Some(pb::TenantSettings {
                    search_audit_disabled: !on,
                    ..settings
                }),
                context: None,
            },
            &admin,
        ))
        .await
        .unwrap();
}

/// Pages asked for on each path (the first 20 of each warm up and are not counted).
const PAGES: u32 = 1020;

fn print_search_header(first: &str) {
    println!(
        "| {first} | archive-svc direct p50 / p99 | gateway embedded p50 / p99 | embedded / direct p50 / p99 | gateway process p50 / p99 | process / direct p50 / p99 | gateway process CPU per page |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
}

#[tokio::main]
async fn main() {
    // The services' errors (RUST_LOG, default info) on stdout, as the suite logs them.
    let _telemetry = archive_common::telemetry::init("gateway-bench");
    let search_only = std::env::args().any(|a| a == "--search-only");
    let skip_4gib = search_only || std::env::args().any(|a| a == "--skip-4gib");
    let scale_calls: usize = std::env::args()
        .skip_while(|a| a != "--scale-calls")
        .nth(1)
        .map_or(SCALE_CALLS, |n| n.parse().expect("--scale-calls N"));
    // Under the target directory (wherever CARGO_TARGET_DIR puts it) unless BENCH_DIR says.
    let dir = std::env::var("BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into());
    std::fs::create_dir_all(&dir).unwrap();
    let data = tempfile::tempdir_in(dir).unwrap();
    let mut config = SuiteConfig::ephemeral(data.path());
    config.no_seed = true;
    if let Ok(server) = std::env::var("ARCHIVE_BENCH_POSTGRES_URL") {
        drop_suite_databases(&server).await;
        config.postgres_url = Some(server);
    }
    let backend = if config.postgres_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("archive-svc, authz-svc and audit-svc on {backend}");
    let suite = Suite::start(config, CancellationToken::new())
        .await
        .unwrap();
    let gateway = GatewayProcess::start(&suite).await;
    let media_dir = data.path().join("media/tenants/10009/recordings");
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let load_at_start = load();

    if search_only {
        create_recordings(&suite, "search", 500, 1).await;
        print_search_header("page of 50 rows, 500 calls");
        search_rows(&suite, &gateway, vec![("newest first", None)]).await;
        println!(
            "load average at the start: {load_at_start}; at the end: {}",
            load()
        );
        search_at_scale(&suite, &gateway, scale_calls).await;
        // The same page with searches not recorded (the tenant turns it off;
        // both gateways read tenant settings at most a minute old).
        set_search_audit(&suite, false).await;
        tokio::time::sleep(Duration::from_secs(61)).await;
        println!();
        print_search_header("page of 50 rows, searches NOT recorded");
        search_rows(&suite, &gateway, vec![("newest first", None)]).await;
        return;
    }
    let setup = Instant::now();
    let small = create_recordings(&suite, "gib1", 500, 2_200_000).await;
    println!(
        "uploaded 500 recordings of 2.2 MB in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // Each export's peak, with the gateway's and this process's reset first;
    // what each held when the export started is shown too.
    let measured_export = |ids: Vec<String>| {
        let (suite, gateway) = (&suite, &gateway);
        async move {
            reset_peak_rss(&gateway.pid());
            reset_peak_rss("self");
            let before = (rss_mib(&gateway.pid()), rss_mib("self"));
            let (size, took, _) = export(suite, gateway.grpc, &ids).await;
            let peak = (peak_rss_mib(&gateway.pid()), peak_rss_mib("self"));
            (size, took, before, peak)
        }
    };
    let row = |what: String, size: u64, took: Duration, before: (f64, f64), peak: (f64, f64)| {
        format!(
            "| {what} | {:.0} MiB/s | {:.1} → {:.1} MiB | {:.0} → {:.0} MiB |",
            mib(size) / took.as_secs_f64(),
            before.0,
            peak.0,
            before.1,
            peak.1
        )
    };
    let (size_1, took_1, before_1, peak_1) = measured_export(small.clone()).await;
    let files: Vec<PathBuf> = small
        .iter()
        .map(|id| media_dir.join(format!("{id}.mp3")))
        .collect();
    assert!(
        files.iter().all(|f| f.exists()),
        "media-svc keeps files at {}",
        media_dir.display()
    );
    let (zip_size, zip_took) = info_zip(&files, &data.path().join("info-zip.zip"));
    // Once more, each, so neither is measured with a cold cache alone.
    let (_, took_1b, before_1b, peak_1b) = measured_export(small.clone()).await;
    let (_, zip_took_b) = info_zip(&files, &data.path().join("info-zip.zip"));
    let ours = mib(size_1) / took_1.min(took_1b).as_secs_f64();
    let theirs = mib(zip_size) / zip_took.min(zip_took_b).as_secs_f64();

    let gib1 = format!(
        "zip of 500 recordings ({:.0} MiB), gateway HTTP stream",
        mib(size_1)
    );
    let mut rows = vec![
        row(format!("{gib1}, 1st"), size_1, took_1, before_1, peak_1),
        row(format!("{gib1}, 2nd"), size_1, took_1b, before_1b, peak_1b),
        format!(
            "| same archive, Info-ZIP `zip -0` from the files on disk (best of 2) | {theirs:.0} MiB/s | – | – |"
        ),
    ];
    let mut ratio_line = format!(
        "streaming (best of 2) / Info-ZIP (best of 2) throughput: {:.2}×",
        ours / theirs
    );
    if !skip_4gib {
        let big = create_recordings(&suite, "gib4", 1000, 4_400_000).await;
        // As many entries as the 1 GiB export, twice the bytes: tells what
        // grows with the entry count from what grows with the bytes streamed.
        let (size_2, took_2, before_2, peak_2) = measured_export(big[..500].to_vec()).await;
        rows.push(row(
            format!(
                "zip of 500 recordings ({:.1} GiB), gateway HTTP stream",
                mib(size_2) / 1024.0
            ),
            size_2,
            took_2,
            before_2,
            peak_2,
        ));
        let (size_4, took_4, before_4, peak_4) = measured_export(big).await;
        rows.push(row(
            format!(
                "zip of 1000 recordings ({:.1} GiB, Zip64), gateway HTTP stream",
                mib(size_4) / 1024.0
            ),
            size_4,
            took_4,
            before_4,
            peak_4,
        ));
        ratio_line.push_str(&format!(
            "; gateway peak RSS 1 GiB → 4 GiB export: {:.1} / {:.1} → {:.1} MiB",
            peak_1.0, peak_1b.0, peak_4.0
        ));
    }
    println!();
    println!(
        "load average at the start: {load_at_start}; at the end: {}",
        load()
    );
    println!();
    println!(
        "| export | throughput | gateway process RSS: start → peak | services + load generator RSS: start → peak |"
    );
    println!("|---|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    println!("{ratio_line}");
    println!();
    print_search_header("page of 50 rows, 1500 calls");
    search_rows(&suite, &gateway, vec![("newest first", None)]).await;
    search_at_scale(&suite, &gateway, scale_calls).await;
    drop(gateway);
    suite.stop().await.unwrap();
}

//! HTTP playback throughput: media-svc against nginx on the local filesystem,
//! and media-svc on S3 against a direct S3 GET, in one run on loopback.
//!
//! The servers are separate processes started by `media-svc/bench/run.sh`
//! (which passes their addresses and pids); this load generator builds the
//! data set (CBR MP3 files made from the test fixtures), uploads it through
//! each media-svc's gRPC `UploadRecording` and writes the same files into
//! nginx's document root, checks that every server returns the right bytes,
//! then measures 1/16/128 concurrent players fetching whole files and random
//! 64 KiB ranges: MB/s, time to first byte, and media-svc's peak RSS.
//!
//!     media-svc/bench/run.sh [--files 200] [--seconds 6] [--clients 1,16,128]

#![allow(unused_crate_dependencies)]

mod client;
mod cpu;
mod dataset;
mod load;
mod memory;
mod report;
mod scenario;
mod setup;
mod targets;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use archive_common::identity::KeySet;
use clap::Parser;

use crate::load::{Limits, Mode, Target};

const TENANT: &str = "10009";

#[derive(Parser, Debug)]
struct Args {
    /// Recordings in the data set.
    #[arg(long, default_value_t = 200)]
    files: usize,
    /// Smallest and largest recording, in MB (10^6 bytes).
    #[arg(long, default_value_t = 1.0)]
    min_mb: f64,
    #[arg(long, default_value_t = 5.0)]
    max_mb: f64,
    /// Concurrent players of each scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,16,128")]
    clients: Vec<usize>,
    /// Time each scenario starts new requests for (requests in flight then finish).
    #[arg(long, default_value_t = 6.0)]
    seconds: f64,
    /// Rounds each scenario's time is cut into, alternating between the servers of a pair.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Requests one player makes at most in a scenario.
    #[arg(long, default_value_t = 5000)]
    max_requests_per_client: u64,
    #[arg(long, default_value_t = 64 * 1024)]
    range_bytes: u64,
    #[arg(long, default_value_t = 4)]
    seed: u64,
    /// Working directory: nginx's document root is `WORK/nginx-root`.
    #[arg(long)]
    work: PathBuf,
    #[arg(long)]
    media_fs_grpc: SocketAddr,
    #[arg(long)]
    media_fs_http: SocketAddr,
    #[arg(long)]
    media_fs_pid: Option<u32>,
    #[arg(long)]
    nginx: SocketAddr,
    /// nginx's master process (its workers' CPU is counted too).
    #[arg(long)]
    nginx_pid: Option<u32>,
    /// The S3 pair (all four or none).
    #[arg(long)]
    media_s3_grpc: Option<SocketAddr>,
    #[arg(long)]
    media_s3_http: Option<SocketAddr>,
    #[arg(long)]
    media_s3_pid: Option<u32>,
    /// A media-svc on the same S3 store that redirects playback to it
    /// (`MEDIA_S3_PLAYBACK=redirect`); measured against the direct GET too.
    #[arg(long)]
    media_s3_redirect_http: Option<SocketAddr>,
    #[arg(long)]
    media_s3_redirect_pid: Option<u32>,
    /// A media-svc on the same S3 store that streams playback through
    /// object_store (`MEDIA_S3_PLAYBACK=stream`); measured against the direct GET too.
    #[arg(long)]
    media_s3_stream_http: Option<SocketAddr>,
    #[arg(long)]
    media_s3_stream_pid: Option<u32>,
    /// The S3-compatible server (moto) media-svc's S3 store uses.
    #[arg(long)]
    s3_endpoint: Option<SocketAddr>,
    /// The S3 server's process, whose CPU both S3 targets spend.
    #[arg(long)]
    s3_pid: Option<u32>,
    /// Which requests to measure (`whole`, `range`).
    #[arg(long, value_delimiter = ',', default_value = "whole,range")]
    requests: Vec<String>,
    #[arg(long, default_value = "media-bench")]
    s3_bucket: String,
    /// The suite's keys (`gateway credentials init --keys-dir`), whose trust
    /// file the media-svc processes verify with: the operator's authority key
    /// there issues this load generator a recording platform's credential,
    /// which is what may upload.
    #[arg(long = "keys-dir", env = "ARCHIVE_KEYS_DIR")]
    keys_dir: PathBuf,
    #[arg(long, env = "ARCHIVE_PLAYBACK_KEY", hide_env_values = true)]
    playback_key: String,
    /// Also write the report here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The command line to quote in the report.
    #[arg(long)]
    command: Option<String>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `/proc/loadavg`'s three averages: the machine may be busy with other work.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn loopback_only(args: &Args) {
    let addrs = [
        Some(args.media_fs_grpc),
        Some(args.media_fs_http),
        Some(args.nginx),
        args.media_s3_grpc,
        args.media_s3_http,
        args.media_s3_redirect_http,
        args.media_s3_stream_http,
        args.s3_endpoint,
    ];
    for addr in addrs.into_iter().flatten() {
        assert!(
            addr.ip().is_loopback(),
            "{addr}: this benchmark only talks to loopback addresses"
        );
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    loopback_only(&args);
    assert!(
        args.min_mb > 0.0 && args.max_mb >= args.min_mb,
        "--min-mb/--max-mb"
    );
    let s3 = match (args.media_s3_grpc, args.media_s3_http, args.s3_endpoint) {
        (Some(grpc), Some(http), Some(endpoint)) => Some((grpc, http, endpoint)),
        (None, None, None) => None,
        _ => panic!("--media-s3-grpc, --media-s3-http and --s3-endpoint go together"),
    };
    let load_at_start = load_average();
    let authority = KeySet::new(&args.keys_dir)
        .config("authority")
        .load()
        .unwrap_or_else(|e| panic!("--keys-dir: the suite's authority key: {e}"));
    let platform = authority.key.issue_platform(
        "playback-bench",
        &[TENANT.to_owned()],
        chrono::Duration::days(1),
    );
    let nginx_dir = args.work.join("nginx-root/media");

    if let Some((_, _, endpoint)) = s3 {
        // moto takes unsigned requests; 409 means the bucket is already there.
        let status = client::simple(endpoint, "PUT", &format!("/{}", args.s3_bucket))
            .await
            .expect("create bucket");
        assert!(
            status == 200 || status == 409,
            "create bucket: HTTP {status}"
        );
    }
    let mut grpc = vec![args.media_fs_grpc];
    grpc.extend(s3.map(|(g, _, _)| g));
    let size_range = ((args.min_mb * 1e6) as usize, (args.max_mb * 1e6) as usize);
    let started = std::time::Instant::now();
    let recordings = setup::populate(
        &fixtures_dir(),
        &nginx_dir,
        args.files,
        size_range,
        args.seed,
        &grpc,
        &platform,
        TENANT,
    )
    .await;
    let total: u64 = recordings.iter().map(|r| r.size).sum();
    let upload_secs = started.elapsed().as_secs_f64();
    let sizes = Arc::new(recordings.iter().map(|r| r.size).collect::<Vec<_>>());
    let mut fixtures: Vec<&str> = recordings.iter().map(|r| r.fixture).collect();
    fixtures.sort_unstable();
    fixtures.dedup();
    eprintln!(
        "data set: {} recordings, {:.0} MB, uploaded to {} media-svc in {upload_secs:.0} s",
        recordings.len(),
        total as f64 / 1e6,
        grpc.len()
    );

    let media_key = args.playback_key.as_bytes();
    let mut pairs: Vec<(Target, Target)> = vec![(
        Target {
            name: "media-svc (fs)",
            addr: args.media_fs_http,
            redirects_to: None,
            paths: targets::media_paths(&recordings, media_key),
            pid: args.media_fs_pid,
            cpu: args.media_fs_pid.into_iter().collect(),
        },
        Target {
            name: "nginx",
            addr: args.nginx,
            redirects_to: None,
            paths: targets::nginx_paths(&recordings),
            pid: None,
            cpu: args.nginx_pid.map(cpu::with_children).unwrap_or_default(),
        },
    )];
    if let Some((_, http, endpoint)) = s3 {
        let s3_cpu = args.s3_pid.map(cpu::with_children).unwrap_or_default();
        // media-svc and the S3 server behind it: the stack's CPU.
        let stack_cpu = |pid: Option<u32>| pid.into_iter().chain(s3_cpu.clone()).collect();
        let direct = |name| Target {
            name,
            addr: endpoint,
            redirects_to: None,
            paths: targets::s3_paths(&recordings, &args.s3_bucket),
            pid: None,
            cpu: s3_cpu.clone(),
        };
        pairs.push((
            Target {
                name: "media-svc (S3)",
                addr: http,
                redirects_to: None,
                paths: targets::media_paths(&recordings, media_key),
                pid: args.media_s3_pid,
                cpu: stack_cpu(args.media_s3_pid),
            },
            direct("S3 direct"),
        ));
        if let Some(redirecting) = args.media_s3_redirect_http {
            pairs.push((
                Target {
                    name: "media-svc (S3, redirect)",
                    addr: redirecting,
                    redirects_to: Some(endpoint),
                    paths: targets::media_paths(&recordings, media_key),
                    pid: args.media_s3_redirect_pid,
                    cpu: stack_cpu(args.media_s3_redirect_pid),
                },
                // Measured again, in rounds alternating with this pair's.
                direct("S3 direct (2)"),
            ));
        }
        if let Some(streaming) = args.media_s3_stream_http {
            pairs.push((
                Target {
                    name: "media-svc (S3, stream)",
                    addr: streaming,
                    redirects_to: None,
                    paths: targets::media_paths(&recordings, media_key),
                    pid: args.media_s3_stream_pid,
                    cpu: stack_cpu(args.media_s3_stream_pid),
                },
                direct("S3 direct (3)"),
            ));
        }
    }

    let mut memory_notes = Vec::new();
    for (ours, _) in &pairs {
        if let Some(pid) = ours.pid {
            memory_notes.push(format!(
                "{}: {} MiB resident when idle after the uploads (peak during the uploads {} MiB)",
                ours.name,
                memory::kib(pid, "VmRSS").map_or(0, |k| k / 1024),
                memory::kib(pid, "VmHWM").map_or(0, |k| k / 1024),
            ));
        }
    }
    for (ours, theirs) in &pairs {
        for target in [ours, theirs] {
            targets::verify(target, &recordings, &nginx_dir, args.range_bytes).await;
            // Warm connection pools and caches alike for every server; not measured.
            let warm = Limits {
                duration: Duration::from_secs(2),
                max_requests_per_player: 50,
            };
            load::run(target, &sizes, Mode::Whole, 16, warm, args.seed).await;
        }
    }
    eprintln!("all servers return the right bytes; measuring");

    let rounds = args.rounds.max(1);
    let limits = Limits {
        duration: Duration::from_secs_f64(args.seconds / rounds as f64),
        max_requests_per_player: args.max_requests_per_client.div_ceil(rounds as u64),
    };
    let mut rows = Vec::new();
    let modes = [Mode::Whole, Mode::Range(args.range_bytes)]
        .into_iter()
        .filter(|mode| args.requests.iter().any(|r| r == mode.keyword()));
    for mode in modes {
        for &clients in &args.clients {
            for (ours, theirs) in &pairs {
                let pair = scenario::measure_pair(
                    (ours, theirs),
                    &sizes,
                    (mode, clients),
                    limits,
                    rounds,
                    args.seed,
                )
                .await;
                for row in pair {
                    let line = report::table(std::slice::from_ref(&row));
                    eprintln!("{}", line.lines().last().unwrap_or_default());
                    if let Some(e) = &row.outcome.first_error {
                        eprintln!("  first error: {e}");
                    }
                    rows.push(row);
                }
            }
        }
    }

    let names: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.name, b.name)).collect();
    let mut md = String::new();
    if let Some(command) = &args.command {
        md.push_str(&format!("Command: `{command}`\n\n"));
    }
    md.push_str(&format!(
        "Data set: {} CBR MP3 recordings of {:.1}–{:.1} MB ({:.0} MB in all) built from the fixtures {}; \
         {} s of new requests per scenario and server in {} alternating rounds, every answer checked; {} cores.\n\n",
        recordings.len(),
        sizes.iter().min().copied().unwrap_or(0) as f64 / 1e6,
        sizes.iter().max().copied().unwrap_or(0) as f64 / 1e6,
        total as f64 / 1e6,
        fixtures.join(", "),
        args.seconds,
        rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    ));
    md.push_str(&format!(
        "Load average of the machine (shared with other work) when the run started: {load_at_start}; when it ended: {}.\n\n",
        load_average()
    ));
    md.push_str(&report::table(&rows));
    md.push('\n');
    md.push_str(&report::ratios(&rows, &names));
    md.push('\n');
    for note in memory_notes {
        md.push_str(&format!("- {note}\n"));
    }
    println!("\n{md}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &md).expect("write the report");
    }
    let errors: u64 = rows.iter().map(|r| r.outcome.errors).sum();
    if errors > 0 {
        eprintln!("{errors} requests failed");
        std::process::exit(1);
    }
}

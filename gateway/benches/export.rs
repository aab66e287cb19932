//! Export and search through the gateway, against their peers, in one run:
//!
//! - a zip of 500 recordings (≥ 1 GiB) streamed by the gateway over HTTP vs
//!   Info-ZIP `zip -0` building the same archive from the same files on disk;
//! - the suite's peak RSS during a 1 GiB and a 4 GiB export (1000 recordings);
//! - result rows through the gateway (SearchCallRows) vs archive-svc (SearchCalls).
//!
//!     cargo bench -p gateway --bench export [-- --skip-4gib]
//!
//! The whole suite runs in this process (embedded mode), so the RSS figure is
//! that of all five services together: an upper bound of the gateway's own.

#![allow(unused_crate_dependencies)]

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use archive_common::{IdentityKey, Principal, convert::timestamp, shutdown::CancellationToken};
use archive_proto::v1::{
    self as pb, archive_service_client::ArchiveServiceClient, call_event::Kind,
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

/// Peak resident set size of this process since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Linux resets the peak RSS when 5 is written to clear_refs.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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
    let key = IdentityKey::internal(suite.secrets.identity_secret.as_bytes());
    let platform = Principal::system("10009", "bench");
    let mut archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let start = Utc::now() - TimeDelta::days(1);
    let mut ids = Vec::with_capacity(count);
    for batch in (0..count).collect::<Vec<_>>().chunks(500) {
        let calls = batch
            .iter()
            .map(|i| {
                let t = start + TimeDelta::seconds(*i as i64 * 60);
                let ev = |s: i64, kind| pb::CallEvent {
                    time: Some(timestamp(t + TimeDelta::seconds(s))),
                    kind: Some(kind),
                };
                pb::IngestCallRequest {
                    session_id: format!("{prefix}-{i}"),
                    start_time: Some(timestamp(t)),
                    access_point: Some(pb::AccessPoint {
                        number: "81511569".into(),
                        name: "Main Demo Number".into(),
                    }),
                    caller_number: format!("9{:07}", i),
                    events: vec![
                        ev(
                            0,
                            Kind::QueueEntered(pb::QueueEntered {
                                queue: "Sales".into(),
                                forced_recording: true,
                                pending_recording: false,
                            }),
                        ),
                        ev(
                            5,
                            Kind::AgentConnected(pb::AgentConnected {
                                agent: "Andreas Wallin".into(),
                                forced_recording: false,
                            }),
                        ),
                        ev(
                            125,
                            Kind::AgentDisconnected(pb::AgentDisconnected {
                                agent: "Andreas Wallin".into(),
                            }),
                        ),
                    ],
                    ..Default::default()
                }
            })
            .collect();
        let results = archive
            .batch_ingest_calls(key.request(pb::BatchIngestCallsRequest { calls }, &platform))
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
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(ids.clone()));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (queue, bytes, mut media, key, platform) = (
            queue.clone(),
            bytes.clone(),
            media.clone(),
            key.clone(),
            platform.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Some(id) = queue.lock().await.pop() else {
                    return;
                };
                let messages: Vec<_> = bytes
                    .chunks(1 << 20)
                    .enumerate()
                    .map(|(i, c)| pb::UploadRecordingRequest {
                        recording_id: if i == 0 { id.clone() } else { String::new() },
                        chunk: c.to_vec(),
                    })
                    .collect();
                media
                    .upload_recording(key.request(tokio_stream::iter(messages), &platform))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    ids
}

async fn export(suite: &Suite, ids: &[String]) -> (u64, Duration, String) {
    let mut client = ArchiveServiceClient::connect(format!("http://{}", suite.endpoints.gateway))
        .await
        .unwrap();
    let mut request = tonic::Request::new(pb::CreateExportRequest {
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

async fn search_latencies(suite: &Suite) -> ((f64, f64), (f64, f64)) {
    let mut gateway = ArchiveServiceClient::connect(format!("http://{}", suite.endpoints.gateway))
        .await
        .unwrap();
    let mut archive = CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap();
    let key = IdentityKey::internal(suite.secrets.identity_secret.as_bytes());
    let paal = gateway::demo::user("paal").unwrap().principal();
    let token = format!("Bearer {}", suite.token("paal", 3600).unwrap());
    let (mut through_gateway, mut direct) = (Vec::new(), Vec::new());
    for i in 0..320 {
        let mut request = tonic::Request::new(pb::SearchCallRowsRequest {
            page_size: 50,
            ..Default::default()
        });
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(token.as_str()).unwrap(),
        );
        let t = Instant::now();
        gateway.search_call_rows(request).await.unwrap();
        let g = t.elapsed();
        let t = Instant::now();
        archive
            .search_calls(key.request(
                pb::SearchCallsRequest {
                    page_size: 50,
                    ..Default::default()
                },
                &paal,
            ))
            .await
            .unwrap();
        let a = t.elapsed();
        if i >= 20 {
            through_gateway.push(g);
            direct.push(a);
        }
    }
    through_gateway.sort();
    direct.sort();
    (
        (percentile(&direct, 0.5), percentile(&direct, 0.99)),
        (
            percentile(&through_gateway, 0.5),
            percentile(&through_gateway, 0.99),
        ),
    )
}

#[tokio::main]
async fn main() {
    let skip_4gib = std::env::args().any(|a| a == "--skip-4gib");
    let data = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "target".into()))
        .unwrap();
    let mut config = SuiteConfig::ephemeral(data.path());
    config.no_seed = true;
    let suite = Suite::start(config, CancellationToken::new())
        .await
        .unwrap();
    let media_dir = data.path().join("media/tenants/10009/recordings");

    let setup = Instant::now();
    let small = create_recordings(&suite, "gib1", 500, 2_200_000).await;
    println!(
        "uploaded 500 recordings of 2.2 MB in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    reset_peak_rss();
    let (size_1, took_1, _) = export(&suite, &small).await;
    let rss_1 = peak_rss_mib();
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
    let (_, took_1b, _) = export(&suite, &small).await;
    let (_, zip_took_b) = info_zip(&files, &data.path().join("info-zip.zip"));
    let ours = mib(size_1) / took_1.min(took_1b).as_secs_f64();
    let theirs = mib(zip_size) / zip_took.min(zip_took_b).as_secs_f64();

    let mut rows = vec![
        format!(
            "| zip of 500 recordings ({:.0} MiB), gateway HTTP stream | {ours:.0} MiB/s | {rss_1:.0} MiB |",
            mib(size_1)
        ),
        format!(
            "| same archive, Info-ZIP `zip -0` from the files on disk | {theirs:.0} MiB/s | – |"
        ),
    ];
    let mut ratio_line = format!("streaming / Info-ZIP throughput: {:.2}×", ours / theirs);
    if !skip_4gib {
        let big = create_recordings(&suite, "gib4", 1000, 4_400_000).await;
        reset_peak_rss();
        let (size_4, took_4, _) = export(&suite, &big).await;
        let rss_4 = peak_rss_mib();
        rows.push(format!(
            "| zip of 1000 recordings ({:.1} GiB, Zip64), gateway HTTP stream | {:.0} MiB/s | {rss_4:.0} MiB |",
            mib(size_4) / 1024.0,
            mib(size_4) / took_4.as_secs_f64()
        ));
        ratio_line.push_str(&format!(
            "; peak RSS 1 GiB → 4 GiB export: {rss_1:.0} → {rss_4:.0} MiB"
        ));
    }
    let ((a50, a99), (g50, g99)) = search_latencies(&suite).await;

    println!();
    println!("| export | throughput | suite peak RSS during the export |");
    println!("|---|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    println!("{ratio_line}");
    println!();
    println!("| search, page of 50 rows | p50 | p99 |");
    println!("|---|---:|---:|");
    println!("| archive-svc SearchCalls (direct) | {a50:.2} ms | {a99:.2} ms |");
    println!("| gateway SearchCallRows (authz + rows) | {g50:.2} ms | {g99:.2} ms |");
    println!("gateway / archive-svc p99: {:.2}×", g99 / a99);
    suite.stop().await.unwrap();
}

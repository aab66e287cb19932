//! Deletion is final: once a user is told a recording is deleted, no byte
//! of it is served — not from a playback link issued before (a new request,
//! a resumed Range, a body on its way), not from the zip download of an
//! export made before — even when media-svc was down at the time.
//!
//! media-svc runs in a process of its own (this test binary, re-executed to
//! run only `media_svc_process`) on fixed ports over a directory that
//! outlives it, so it can be killed with SIGKILL and started again; its
//! archive-svc (asked for the pending deletions) runs in this process, the
//! authz-svc and audit-svc of an embedded suite, and a gateway in front of
//! all three.

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use archive_common::{identity::KeySet, shutdown::CancellationToken};
use archive_proto::v1 as pb;
use common::{
    authed,
    child::{ChildService, free_port, settings},
    client_at,
    extra_gateway::{self, ExtraGateway, Overrides},
    http, recordings, start_suite,
};
use gateway::suite::Suite;
use test_support::http::{PausedRead, get_with_a_pause};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `media root|gRPC listen|HTTP listen|keys directory|playback key|archive url|audit url`.
const CHILD_ENV: &str = "ARCHIVE_E2E_MEDIA_SVC";
const CHILD_TEST: &str = "media_svc_process";

#[test]
#[ignore = "the media-svc process of the tests below, which start it"]
fn media_svc_process() {
    let [root, grpc, http, secret, key, archive, audit] = settings::<7>(CHILD_ENV);
    let mut config = media_svc::Config::new(root, KeySet::new(&secret).config("media-svc"), key);
    config.archive_url = Some(archive);
    config.audit_url = Some(audit);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let grpc = tokio::net::TcpListener::bind(&grpc).await.unwrap();
        let http = tokio::net::TcpListener::bind(&http).await.unwrap();
        media_svc::run(config, grpc, http, CancellationToken::new())
            .await
            .unwrap();
    });
}

/// Where the media-svc process listens and keeps its files.
#[derive(Clone)]
struct MediaSetting {
    root: PathBuf,
    grpc: SocketAddr,
    http: SocketAddr,
    secret: String,
    key: String,
    archive: String,
    audit: String,
}

/// The media-svc child process.
struct MediaProcess;

impl MediaProcess {
    fn setting(s: &MediaSetting) -> [String; 7] {
        [
            s.root.display().to_string(),
            s.grpc.to_string(),
            s.http.to_string(),
            s.secret.clone(),
            s.key.clone(),
            s.archive.clone(),
            s.audit.clone(),
        ]
    }

    /// Started; not waited for.
    fn spawn(s: &MediaSetting) -> ChildService {
        let setting = Self::setting(s);
        let setting: Vec<&str> = setting.iter().map(String::as_str).collect();
        ChildService::spawn(CHILD_TEST, CHILD_ENV, &setting, s.grpc)
    }

    /// Started and SERVING (the pending deletions read).
    async fn start(s: &MediaSetting) -> ChildService {
        let setting = Self::setting(s);
        let setting: Vec<&str> = setting.iter().map(String::as_str).collect();
        ChildService::start(CHILD_TEST, CHILD_ENV, &setting, s.grpc).await
    }
}

/// The pieces of one test's world.
struct World {
    suite: Suite,
    media: MediaSetting,
    archive_url: String,
    gateway: ExtraGateway,
    stop: CancellationToken,
    _data: tempfile::TempDir,
}

/// The suite, an archive-svc on `archive.db` whose files are deleted by the
/// media-svc process (not started yet), and a gateway in front of both.
async fn world() -> World {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(&data.path().join("suite")).await;
    let stop = CancellationToken::new();
    let media = MediaSetting {
        root: data.path().join("media"),
        grpc: free_port(),
        http: free_port(),
        secret: suite.keys.dir.display().to_string(),
        key: suite.secrets.playback_key.clone(),
        archive: String::new(),
        audit: format!("http://{}", suite.endpoints.audit),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let archive_url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = archive_svc::Config::new(
        format!("sqlite://{}", data.path().join("archive.db").display()),
        suite.keys.config("archive-svc"),
    );
    config.media_url = Some(format!("http://{}", media.grpc));
    config.audit_url = Some(media.audit.clone());
    config.outbox_interval = Duration::from_millis(200);
    tokio::spawn(archive_svc::run(config, listener, stop.clone()));
    let gateway = extra_gateway::start_with(
        &suite,
        Overrides {
            archive_url: Some(archive_url.clone()),
            media_url: Some(format!("http://{}", media.grpc)),
            media_public_url: Some(format!("http://{}", media.http)),
            ..Default::default()
        },
        stop.clone(),
    )
    .await;
    World {
        media: MediaSetting {
            archive: archive_url.clone(),
            ..media
        },
        suite,
        archive_url,
        gateway,
        stop,
        _data: data,
    }
}

impl World {
    /// `count` recorded calls with files of `size` bytes; their recording ids.
    async fn recordings(
        &self,
        prefix: &str,
        caller: &str,
        count: usize,
        size: usize,
    ) -> Vec<String> {
        let media_url = format!("http://{}", self.media.grpc);
        let ids = recordings::ingest_recorded_calls(
            &self.archive_url,
            &self.suite.keys,
            prefix,
            caller,
            count,
        )
        .await;
        for id in &ids {
            recordings::upload(&media_url, &self.suite.keys, id, &recordings::mp3_of(size)).await;
        }
        ids
    }

    async fn play(&self, recording: &str) -> String {
        client_at(self.gateway.grpc)
            .await
            .start_playback(authed(
                &self.suite,
                "paal",
                pb::StartPlaybackRequest {
                    recording_id: recording.to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .playback_url
    }

    /// The user deletes `recording` and is told it is deleted.
    async fn delete(&self, recording: &str) {
        let deleted = client_at(self.gateway.grpc)
            .await
            .delete_recordings(authed(
                &self.suite,
                "paal",
                pb::DeleteRecordingsRequest {
                    recording_ids: vec![recording.to_owned()],
                    confirmed: true,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            deleted.recordings[0].play_state,
            pb::PlayState::Deleted as i32,
            "the user is told it is deleted"
        );
    }

    async fn stop(self) {
        self.stop.cancel();
        self.suite.stop().await.unwrap();
    }
}

fn is_gone(status: u16) -> bool {
    status == 404 || status == 410
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_link_stops_serving_the_moment_the_delete_is_confirmed() {
    let w = world().await;
    let media = MediaProcess::start(&w.media).await;
    let size = 18_000_000;
    let recording = w.recordings("final", "4793", 1, size).await.remove(0);
    let url = w.play(&recording).await;
    let seek = http::request("GET", &url, &[("Range", "bytes=1000000-1065535")]).await;
    assert_eq!(seek.status, 206, "the link plays before the delete");

    // The player streams; the user deletes meanwhile.
    let PausedRead {
        status,
        length,
        received,
    } = get_with_a_pause(&url, 64 * 1024, w.delete(&recording)).await;
    assert_eq!(status, 200);
    assert!(length >= size as u64);
    assert!(
        received < length / 2,
        "{received} of {length} bytes reached the player after the delete"
    );
    // Right after the confirmation: the link, a resumed range, a seek.
    for range in [None, Some("bytes=65536-"), Some("bytes=1000000-1065535")] {
        let headers: Vec<_> = range.map(|r| ("Range", r)).into_iter().collect();
        let r = http::request("GET", &url, &headers).await;
        assert!(is_gone(r.status), "{range:?}: {}", r.status);
        assert_ne!(r.header("content-type"), Some("audio/mpeg"));
    }
    // The gateway grants no new playback either.
    let again = client_at(w.gateway.grpc)
        .await
        .start_playback(authed(
            &w.suite,
            "paal",
            pb::StartPlaybackRequest {
                recording_id: recording.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    // media-svc confirmed it before the user was told: the file is gone.
    assert!(files_of(&w.media.root, &recording).is_empty());
    drop(media);
    w.stop().await;
}

/// The files under `root` whose path names `recording`.
fn files_of(root: &Path, recording: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(root, &mut found);
    found.retain(|p| p.to_string_lossy().contains(recording));
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_svc_down_at_the_delete_never_serves_the_recording_again() {
    let w = world().await;
    let media = MediaProcess::start(&w.media).await;
    let ids = w.recordings("down", "4794", 2, 300_000).await;
    let (deleted, kept) = (&ids[0], &ids[1]);
    let url = w.play(deleted).await;
    let kept_url = w.play(kept).await;
    assert_eq!(http::request("GET", &url, &[]).await.status, 200);

    media.kill();
    let started = std::time::Instant::now();
    w.delete(deleted).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the delete waited {took:?} for a media-svc that is down"
    );
    assert_eq!(
        files_of(&w.media.root, deleted).len(),
        2,
        "the files are still there while media-svc is down"
    );

    // media-svc comes back, and cannot reach archive-svc at first: it
    // answers, but serves nothing (503) and is not ready.
    let gate = Gate::to(&w.archive_url).await;
    let _media = MediaProcess::spawn(&MediaSetting {
        archive: gate.url.clone(),
        ..w.media.clone()
    });
    let mut answers = Vec::new();
    let blocked = std::time::Instant::now();
    while blocked.elapsed() < Duration::from_millis(1500) {
        if let Some(status) = try_get(&url).await {
            answers.push(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !answers.is_empty() && answers.iter().all(|s| *s == 503),
        "while archive-svc cannot be asked: {answers:?}"
    );
    assert_eq!(
        try_get(&kept_url).await,
        Some(503),
        "no recording is served until the pending deletions are known"
    );
    let health = archive_common::host::check_health(&format!("http://{}", w.media.grpc)).await;
    assert_eq!(health, Ok(archive_common::host::ServingStatus::NotServing));

    // archive-svc answers: the old link is refused from then on, never served.
    gate.open();
    let mut answers = Vec::new();
    for _ in 0..1500 {
        let status = try_get(&url).await.expect("media-svc listens");
        answers.push(status);
        if is_gone(status) {
            break;
        }
        assert_eq!(status, 503, "{answers:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answers.last().is_some_and(|s| is_gone(*s)), "{answers:?}");
    archive_common::host::wait_serving(
        &format!("http://{}", w.media.grpc),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    for range in [None, Some("bytes=1000-")] {
        let headers: Vec<_> = range.map(|r| ("Range", r)).into_iter().collect();
        assert!(is_gone(http::request("GET", &url, &headers).await.status));
    }
    // The other recording plays on; the deleted one's files go (media-svc
    // deletes what it found pending, and archive-svc's outbox confirms).
    assert_eq!(http::request("GET", &kept_url, &[]).await.status, 200);
    let mut gone = false;
    for _ in 0..150 {
        if files_of(&w.media.root, deleted).is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the files of the deleted recording are still there");
    w.stop().await;
}

/// A TCP gate in front of an address: connections are dropped until it
/// opens, then relayed.
struct Gate {
    url: String,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Gate {
    async fn to(target_url: &str) -> Self {
        let target = target_url.strip_prefix("http://").unwrap().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_open = open.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !is_open.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the caller sees the connection closed
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { url, open }
    }

    fn open(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The status of a GET of `url`; `None` when nothing listens there yet.
async fn try_get(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = vec![0; 64];
    let n = stream.read(&mut head).await.ok()?;
    let line = String::from_utf8_lossy(&head[..n]).to_string();
    line.split(' ').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_made_before_a_delete_does_not_download_the_deleted_recording() {
    let w = world().await;
    let _media = MediaProcess::start(&w.media).await;
    let ids = w.recordings("export", "4795", 2, 18_000_000).await;
    let export = client_at(w.gateway.grpc)
        .await
        .create_export(authed(
            &w.suite,
            "paal",
            pb::CreateExportRequest {
                recording_ids: ids.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let first_entry = 18_000_000u64;

    // A download under way when the first recording is deleted stops short
    // of the rest of it (the zip is broken off, not completed).
    let PausedRead {
        status,
        length,
        received,
    } = get_with_a_pause(&export.download_url, 64 * 1024, w.delete(&ids[0])).await;
    assert_eq!(status, 200);
    assert_eq!(length, export.size_bytes);
    assert!(
        received < first_entry / 2,
        "{received} bytes of the zip came, the deleted recording is {first_entry}"
    );
    // The same link afterwards: gone, resumed or not.
    for range in [None, Some("bytes=1000000-")] {
        let headers: Vec<_> = range.map(|r| ("Range", r)).into_iter().collect();
        let r = http::request("GET", &export.download_url, &headers).await;
        assert_eq!(r.status, 410, "{range:?}");
        assert_ne!(r.header("content-type"), Some("application/zip"));
    }
    w.stop().await;
}

//! The split-mode walk-through of docs/OPERATIONS.md ("Split mode, step by
//! step"), run as written: the five binaries as processes of their own on
//! empty PostgreSQL databases, keys from `gateway credentials init`, the
//! schema from each service's `migrate`, a recording platform's credential
//! ingesting a call and uploading its file, and a user's token from
//! `gateway credentials user` finding it through the gateway's JSON API.
//! The binaries are the workspace's own (`cargo test --workspace` builds
//! them into the target directory beside this test).

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use archive_common::identity::PlatformCredential;
use archive_proto::v1::{
    self as pb, call_service_client::CallServiceClient, media_service_client::MediaServiceClient,
};
use common::{child::free_port, http, recordings};
use test_support::postgres::ScratchDatabase;

/// A binary of the workspace, beside this test's own (`target/<profile>/`).
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries (cargo test --workspace does)",
        path.display()
    );
    path
}

/// Runs `name args`, answering its standard output; fails the test with its
/// standard error otherwise.
fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(bin(name)).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A service process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `name args`, its output (logs) into `logs/<name>.log`.
fn spawn(logs: &Path, name: &str, args: &[&str]) -> Process {
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
    Process(
        Command::new(bin(name))
            .args(args)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    )
}

fn identity(keys: &Path, holder: &str) -> [String; 4] {
    [
        "--identity-key-file".into(),
        keys.join(format!("{holder}.pem")).display().to_string(),
        "--trust-file".into(),
        keys.join("trust.json").display().to_string(),
    ]
}

fn args(fixed: &[&str], identity: &[String]) -> Vec<String> {
    fixed
        .iter()
        .map(|s| (*s).to_owned())
        .chain(identity.iter().cloned())
        .collect()
}

fn spawn_owned(logs: &Path, name: &str, args: &[String]) -> Process {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn(logs, name, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_mode_from_empty_databases_to_a_search_with_issued_credentials() {
    let (Some(calls), Some(authz), Some(audit)) = (
        ScratchDatabase::create("e2e_split_calls").await,
        ScratchDatabase::create("e2e_split_authz").await,
        ScratchDatabase::create("e2e_split_audit").await,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let keys_dir = keys.display().to_string();
    let media_root = dir.path().join("media").display().to_string();

    // 1. Keys, 2. schemas.
    run("gateway", &["credentials", "init", "--keys-dir", &keys_dir]);
    run("archive-svc", &["migrate", "--database-url", &calls.url]);
    run("authz-svc", &["migrate", "--database-url", &authz.url]);
    run("audit-svc", &["migrate", "--database-url", &audit.url]);

    // 3. The services and the gateway.
    let [
        archive_at,
        media_at,
        media_http_at,
        authz_at,
        audit_at,
        gateway_at,
        http_at,
    ] = [(); 7].map(|()| free_port());
    let url = |a: SocketAddr| format!("http://{a}");
    let (playback_key, jwt_secret) = ("playback-key-of-this-test", "jwt-secret-of-this-test");
    let _audit = spawn_owned(
        dir.path(),
        "audit-svc",
        &args(
            &[
                "--listen",
                &audit_at.to_string(),
                "--metrics-listen",
                "127.0.0.1:0",
                "--database-url",
                &audit.url,
                "--authz-url",
                &url(authz_at),
            ],
            &identity(&keys, "audit-svc"),
        ),
    );
    let _authz = spawn_owned(
        dir.path(),
        "authz-svc",
        &args(
            &[
                "--listen",
                &authz_at.to_string(),
                "--metrics-listen",
                "127.0.0.1:0",
                "--database-url",
                &authz.url,
                "--audit-url",
                &url(audit_at),
                "--bootstrap-admin",
                "10009:paal:Paal Admin",
            ],
            &identity(&keys, "authz-svc"),
        ),
    );
    let _media = spawn_owned(
        dir.path(),
        "media-svc",
        &args(
            &[
                "--listen",
                &media_at.to_string(),
                "--http-listen",
                &media_http_at.to_string(),
                "--metrics-listen",
                "127.0.0.1:0",
                "--media-root",
                &media_root,
                "--playback-key",
                playback_key,
                "--audit-url",
                &url(audit_at),
            ],
            &identity(&keys, "media-svc"),
        ),
    );
    let _archive = spawn_owned(
        dir.path(),
        "archive-svc",
        &args(
            &[
                "--listen",
                &archive_at.to_string(),
                "--metrics-listen",
                "127.0.0.1:0",
                "--database-url",
                &calls.url,
                "--media-url",
                &url(media_at),
                "--audit-url",
                &url(audit_at),
            ],
            &identity(&keys, "archive-svc"),
        ),
    );
    let _gateway = spawn_owned(
        dir.path(),
        "gateway",
        &args(
            &[
                "serve",
                "--listen",
                &gateway_at.to_string(),
                "--http-listen",
                &http_at.to_string(),
                "--metrics-listen",
                "127.0.0.1:0",
                "--public-url",
                &url(http_at),
                "--media-public-url",
                &url(media_http_at),
                "--archive-url",
                &url(archive_at),
                "--media-url",
                &url(media_at),
                "--authz-url",
                &url(authz_at),
                "--audit-url",
                &url(audit_at),
                "--jwt-secret",
                jwt_secret,
                "--playback-key",
                playback_key,
            ],
            &identity(&keys, "gateway"),
        ),
    );
    for (name, at) in [
        ("audit-svc", audit_at),
        ("authz-svc", authz_at),
        ("media-svc", media_at),
        ("archive-svc", archive_at),
        ("gateway", gateway_at),
    ] {
        if let Err(e) = archive_common::host::wait_serving(&url(at), Duration::from_secs(60)).await
        {
            let log = std::fs::read_to_string(dir.path().join(format!("{name}.log")));
            panic!("{name} at {at}: {e}\n{}", log.unwrap_or_default());
        }
    }

    // 4. The recording platform's credential: a call and its file.
    let platform = PlatformCredential::from_token(run(
        "gateway",
        &[
            "credentials",
            "platform",
            "dialer",
            "--tenant",
            "10009",
            "--keys-dir",
            &keys_dir,
        ],
    ));
    let start = chrono::Utc::now() - chrono::TimeDelta::minutes(30);
    let call = CallServiceClient::connect(url(archive_at))
        .await
        .unwrap()
        .ingest_call(platform.request(recordings::recorded_call("split-1", "4791", start), "10009"))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    let recording = call.recordings[0].recording_id.clone();
    MediaServiceClient::connect(url(media_at))
        .await
        .unwrap()
        .upload_recording(platform.request(
            tokio_stream::iter(pb::UploadRecordingRequest::stream_of(
                &recording,
                &recordings::mp3_of(1),
                1 << 16,
            )),
            "10009",
        ))
        .await
        .unwrap();

    // 5. A user's token for the gateway finds it.
    let token = run(
        "gateway",
        &[
            "credentials",
            "user",
            "paal",
            "--tenant",
            "10009",
            "--name",
            "Paal Admin",
            "--jwt-secret",
            jwt_secret,
        ],
    );
    let bearer = format!("Bearer {token}");
    let search = format!("{}/api/v1/calls?caller_number=4791", url(http_at));
    let found = http::request("GET", &search, &[("authorization", &bearer)]).await;
    assert_eq!(
        found.status,
        200,
        "{}",
        String::from_utf8_lossy(&found.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&found.body).unwrap();
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0]["call_id"], call.call_id.as_str(), "{body}");
    // The platform's credential is no user's token.
    let refused = http::request(
        "GET",
        &search,
        &[("authorization", &format!("Bearer {}", platform.token()))],
    )
    .await;
    assert_eq!(refused.status, 401);

    for db in [calls, authz, audit] {
        drop(db);
    }
}

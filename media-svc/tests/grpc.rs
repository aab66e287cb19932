//! `archive.v1.MediaService` end to end: a real server on loopback, the
//! generated client, and each RPC's own callers: the recording platform
//! uploads with its credential, users read through the gateway (signed with
//! its key), archive-svc deletes (signed with its own key).

#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::{Principal, error::violated_field, identity::Role};
use archive_proto::v1::{
    BatchGetMediaInfoRequest, DeleteRecordingMediaRequest, GetMediaInfoRequest, MediaInfo,
    ReadRecordingRequest, UploadRecordingRequest, media_service_client::MediaServiceClient,
};
use futures::TryStreamExt;
use media_svc::Config;
use object_store::{ObjectStore, local::LocalFileSystem};
use sha2::{Digest, Sha256};
use tonic::{Code, Status, transport::Channel};
use uuid::Uuid;

use common::{
    fixture,
    server::{Server, as_archive, as_platform, as_user, config, identity, keys, paal},
};

fn other_tenant() -> Principal {
    Principal::new("10010", "eve", "Eve Elsewhere")
}

/// Uploads as the recording platform, for `tenant`.
async fn upload(
    client: &mut MediaServiceClient<Channel>,
    tenant: &str,
    id: &str,
    bytes: &[u8],
) -> Result<(MediaInfo, bool), Status> {
    let stream = futures::stream::iter(UploadRecordingRequest::stream_of(id, bytes, 32 * 1024));
    let response = client
        .upload_recording(as_platform(stream, tenant))
        .await?
        .into_inner();
    Ok((response.media.unwrap(), response.created))
}

async fn read(
    client: &mut MediaServiceClient<Channel>,
    who: &Principal,
    id: &str,
    offset: u64,
    length: u64,
) -> Result<Vec<Vec<u8>>, Status> {
    let request = ReadRecordingRequest {
        recording_id: id.into(),
        offset,
        length,
    };
    let stream = client
        .read_recording(as_user(request, who))
        .await?
        .into_inner();
    stream.map_ok(|r| r.chunk).try_collect().await
}

async fn get(
    client: &mut MediaServiceClient<Channel>,
    who: &Principal,
    id: &str,
) -> Result<MediaInfo, Status> {
    let request = GetMediaInfoRequest {
        recording_id: id.into(),
    };
    Ok(client
        .get_media_info(as_user(request, who))
        .await?
        .into_inner()
        .media
        .unwrap())
}

async fn all_objects(objects: &dyn ObjectStore) -> Vec<String> {
    let listed: Vec<_> = objects.list(None).try_collect().await.unwrap();
    listed.into_iter().map(|m| m.location.to_string()).collect()
}

fn new_id() -> String {
    Uuid::new_v4().to_string()
}

#[tokio::test]
async fn upload_then_read_and_describe() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let id = new_id();
    let bytes = fixture("vbr-mpeg1-32k.mp3");

    let (info, created) = upload(&mut client, "10009", &id, &bytes).await.unwrap();
    assert!(created);
    assert_eq!(info.recording_id, id);
    assert_eq!(info.size_bytes, bytes.len() as u64);
    assert_eq!(info.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(info.crc32, crc32fast::hash(&bytes));
    let duration = info.duration.unwrap();
    assert_eq!((duration.seconds, duration.nanos), (8, 856_000_000));
    assert_eq!((info.sample_rate_hz, info.bitrate_kbps), (32_000, 60));
    assert_eq!(get(&mut client, &paal(), &id).await.unwrap(), info);

    // Whole file, in chunks of at most 64 KiB.
    let chunks = read(&mut client, &paal(), &id, 0, 0).await.unwrap();
    assert!(chunks.len() >= 2);
    assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 64 * 1024));
    assert_eq!(chunks.concat(), bytes);
    // A window, and a length running past the end (stops at the end).
    let window = read(&mut client, &paal(), &id, 1000, 60_000).await.unwrap();
    assert_eq!(window.concat(), &bytes[1000..61_000]);
    let tail = read(&mut client, &paal(), &id, bytes.len() as u64 - 10, 1000)
        .await
        .unwrap();
    assert_eq!(tail.concat(), &bytes[bytes.len() - 10..]);
    // Past the end.
    for offset in [bytes.len() as u64, bytes.len() as u64 + 1, u64::MAX] {
        let err = read(&mut client, &paal(), &id, offset, 0)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::OutOfRange, "offset {offset}");
    }
    server.stop().await;
}

#[tokio::test]
async fn reupload_same_bytes_is_a_no_op_and_other_bytes_conflict() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let id = new_id();
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    let (first, created) = upload(&mut client, "10009", &id, &bytes).await.unwrap();
    assert!(created);
    let (again, created) = upload(&mut client, "10009", &id, &bytes).await.unwrap();
    assert!(!created);
    assert_eq!(again, first);
    let err = upload(&mut client, "10009", &id, &fixture("tel-8k-cbr32-mono.mp3"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(get(&mut client, &paal(), &id).await.unwrap(), first);
    server.stop().await;
}

#[tokio::test]
async fn bad_uploads_are_invalid_and_store_nothing() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("wav", fixture("tiny-8k.wav")),
        ("flac", fixture("tiny-8k.flac")),
        ("mp2", fixture("layer2.mp2")),
        ("text", b"<html>not audio</html>".repeat(50)),
    ];
    for (name, bytes) in cases {
        let err = upload(&mut client, "10009", &new_id(), &bytes)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
        assert_eq!(violated_field(&err).as_deref(), Some("chunk"), "{name}");
    }
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    for bad_id in ["", "not-a-uuid", "../../etc/passwd"] {
        let err = upload(&mut client, "10009", bad_id, &bytes)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad_id:?}");
        assert_eq!(violated_field(&err).as_deref(), Some("recording_id"));
    }
    // No message at all.
    let err = client
        .upload_recording(as_platform(futures::stream::empty(), "10009"))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("recording_id"));
    assert_eq!(
        all_objects(server.objects.as_ref()).await,
        Vec::<String>::new()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_size_limit_is_enforced() {
    let server = Server::start(Config {
        max_upload_bytes: 20_000,
        ..config()
    })
    .await;
    let mut client = server.client().await;
    let err = upload(
        &mut client,
        "10009",
        &new_id(),
        &fixture("tel-8k-cbr32-mono.mp3"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("20000"), "{}", err.message());
    assert_eq!(
        all_objects(server.objects.as_ref()).await,
        Vec::<String>::new()
    );
    // Under the limit is fine.
    let (_, created) = upload(
        &mut client,
        "10009",
        &new_id(),
        &fixture("tel-8k-cbr16-mono.mp3"),
    )
    .await
    .unwrap();
    assert!(created);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_goes_away_half_way_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFileSystem::new_with_prefix(dir.path())
        .unwrap()
        .with_automatic_cleanup(true);
    // Small parts, so bytes really reach the disk before the client vanishes.
    let config = Config {
        upload_part_bytes: 8 * 1024,
        ..config()
    };
    let server = Server::start_with(config, std::sync::Arc::new(local)).await;
    let mut client = server.client().await;
    let id = new_id();
    let bytes = fixture("cbr128-44k.mp3");
    let (tx, rx) = tokio::sync::mpsc::channel::<UploadRecordingRequest>(4);
    let request = as_platform(tokio_stream_from(rx), "10009");
    let call = tokio::spawn(async move { client.upload_recording(request).await });
    for message in UploadRecordingRequest::stream_of(&id, &bytes[..60_000], 16 * 1024) {
        tx.send(message).await.unwrap();
    }
    // Let the server take the bytes in, then vanish mid-upload.
    let mut staged = Vec::new();
    for _ in 0..100 {
        staged = common::walk(dir.path());
        if !staged.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!staged.is_empty(), "the upload never reached the store");
    call.abort();
    drop(tx);

    let mut client = server.client().await;
    let mut files = Vec::new();
    for _ in 0..100 {
        files = common::walk(dir.path());
        if files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(files, Vec::<String>::new());
    let err = get(&mut client, &paal(), &id).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<UploadRecordingRequest>,
) -> impl futures::Stream<Item = UploadRecordingRequest> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn another_tenant_sees_nothing() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let id = new_id();
    let bytes = fixture("tel-8k-cbr32-mono.mp3");
    upload(&mut client, "10009", &id, &bytes).await.unwrap();

    let eve = other_tenant();
    assert_eq!(
        get(&mut client, &eve, &id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        read(&mut client, &eve, &id, 0, 0).await.unwrap_err().code(),
        Code::NotFound
    );
    let batch = client
        .batch_get_media_info(as_user(
            BatchGetMediaInfoRequest {
                recording_ids: vec![id.clone()],
            },
            &eve,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(batch.media.is_empty());
    // archive-svc deleting in Eve's tenant finds nothing there.
    let deleted = client
        .delete_recording_media(as_archive(
            DeleteRecordingMediaRequest {
                recording_id: id.clone(),
            },
            &eve.tenant,
        ))
        .await
        .unwrap()
        .into_inner()
        .deleted;
    assert!(!deleted);
    // Eve's tenant may have its own recording under the same id; it is theirs alone.
    let other_bytes = fixture("tel-8k-cbr16-mono.mp3");
    let (eves, created) = upload(&mut client, "10010", &id, &other_bytes)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        get(&mut client, &paal(), &id).await.unwrap().size_bytes,
        bytes.len() as u64
    );
    assert_eq!(eves.size_bytes, other_bytes.len() as u64);
    server.stop().await;
}

#[tokio::test]
async fn batch_get_keeps_request_order_and_skips_missing() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let (a, b, missing) = (new_id(), new_id(), new_id());
    upload(&mut client, "10009", &a, &fixture("tel-8k-cbr16-mono.mp3"))
        .await
        .unwrap();
    upload(&mut client, "10009", &b, &fixture("tel-8k-cbr32-mono.mp3"))
        .await
        .unwrap();
    let ids = vec![b.clone(), missing, a.clone(), b.to_uppercase()];
    let media = client
        .batch_get_media_info(as_user(
            BatchGetMediaInfoRequest { recording_ids: ids },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner()
        .media;
    let got: Vec<_> = media.iter().map(|m| m.recording_id.clone()).collect();
    assert_eq!(got, vec![b.clone(), a.clone()]);
    assert_eq!(media[0].size_bytes, 26_784);

    let too_many = vec![a.clone(); media_svc::MAX_BATCH + 1];
    let err = client
        .batch_get_media_info(as_user(
            BatchGetMediaInfoRequest {
                recording_ids: too_many,
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("recording_ids"));
    let err = client
        .batch_get_media_info(as_user(
            BatchGetMediaInfoRequest {
                recording_ids: vec![a.clone(), "nope".into()],
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("recording_ids[1]"));
    server.stop().await;
}

#[tokio::test]
async fn delete_is_idempotent_and_removes_everything() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let id = new_id();
    upload(&mut client, "10009", &id, &fixture("tel-8k-cbr16-mono.mp3"))
        .await
        .unwrap();
    assert_eq!(all_objects(server.objects.as_ref()).await.len(), 2);
    let mut delete = async || {
        client
            .delete_recording_media(as_archive(
                DeleteRecordingMediaRequest {
                    recording_id: id.clone(),
                },
                "10009",
            ))
            .await
            .map(|r| r.into_inner().deleted)
    };
    assert!(delete().await.unwrap());
    assert!(!delete().await.unwrap());
    assert_eq!(
        all_objects(server.objects.as_ref()).await,
        Vec::<String>::new()
    );
    let mut client = server.client().await;
    assert_eq!(
        get(&mut client, &paal(), &id).await.unwrap_err().code(),
        Code::NotFound
    );
    let err = client
        .delete_recording_media(as_archive(
            DeleteRecordingMediaRequest {
                recording_id: "x".into(),
            },
            "10009",
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("recording_id"));
    server.stop().await;
}

#[tokio::test]
async fn requests_without_a_verified_identity_are_refused() {
    let server = Server::start(config()).await;
    let mut client = server.client().await;
    let err = client
        .get_media_info(GetMediaInfoRequest {
            recording_id: new_id(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // A key the trust file does not hold, though it claims to be the gateway's.
    let forged = keys().stranger("gateway", Role::Gateway).request(
        GetMediaInfoRequest {
            recording_id: new_id(),
        },
        &paal(),
    );
    assert_eq!(
        client.get_media_info(forged).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // A service's own key cannot vouch for a user.
    let as_paal = keys().signer("archive-svc").request(
        GetMediaInfoRequest {
            recording_id: new_id(),
        },
        &paal(),
    );
    assert_eq!(
        client.get_media_info(as_paal).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    server.stop().await;
}

#[tokio::test]
async fn health_reports_serving_once_the_store_answers() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = Server::start(config()).await;
    let channel = Channel::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let mut status = ServingStatus::Unknown;
    for _ in 0..100 {
        status = health
            .check(HealthCheckRequest {
                service: media_svc::SERVICE_NAME.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        if status == ServingStatus::Serving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, ServingStatus::Serving);
    assert_eq!(media_svc::SERVICE_NAME, "archive.v1.MediaService");
    server.stop().await;
}

type Running = tokio::task::JoinHandle<Result<(), media_svc::Error>>;

/// `media_svc::run` as configured for `dir/media` (the store `run` opens
/// itself), and a channel to it once it answers.
async fn run_in(
    dir: &std::path::Path,
) -> (
    Channel,
    archive_common::shutdown::CancellationToken,
    Running,
) {
    let config = Config::new(dir.join("media"), identity(), common::server::PLAYBACK_KEY);
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = grpc.local_addr().unwrap();
    let shutdown = archive_common::shutdown::CancellationToken::new();
    let task = tokio::spawn(media_svc::run(config, grpc, http, shutdown.clone()));
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
        {
            return (channel, shutdown, task);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn run_serves_from_the_configured_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (channel, shutdown, task) = run_in(dir.path()).await;
    let mut client = MediaServiceClient::new(channel);
    let id = new_id();
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    let stream = futures::stream::iter(UploadRecordingRequest::stream_of(&id, &bytes, 5000));
    let response = client
        .upload_recording(as_platform(stream, "10009"))
        .await
        .unwrap()
        .into_inner();
    assert!(response.created);
    let stored = dir
        .path()
        .join(format!("media/tenants/10009/recordings/{id}.mp3"));
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    assert!(
        dir.path()
            .join(format!("media/tenants/10009/recordings/{id}.json"))
            .exists()
    );
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Uploads and deletions side by side on the local filesystem store as
/// `run` configures it: none may trip over a directory another removes or
/// creates (emptied directories were once removed behind a concurrent upload
/// creating its file there: seen in the gateway benchmark's 500 uploads,
/// not reproduced here), and no staging file stays behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_and_deletions_on_the_filesystem_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let (channel, shutdown, task) = run_in(dir.path()).await;
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let mut client = MediaServiceClient::new(channel.clone());
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut kept = Vec::new();
                for round in 0..40 {
                    let id = new_id();
                    let stream = futures::stream::iter(UploadRecordingRequest::stream_of(
                        &id,
                        &bytes,
                        16 * 1024,
                    ));
                    client
                        .upload_recording(as_platform(stream, "10009"))
                        .await
                        .unwrap_or_else(|e| panic!("upload {round}: {e:?}"));
                    if round % 2 == 0 {
                        let request = DeleteRecordingMediaRequest {
                            recording_id: id.clone(),
                        };
                        let deleted = client
                            .delete_recording_media(as_archive(request, "10009"))
                            .await
                            .unwrap_or_else(|e| panic!("delete {round}: {e:?}"));
                        assert!(deleted.into_inner().deleted);
                    } else {
                        kept.push(id);
                    }
                }
                kept
            })
        })
        .collect();
    let mut kept = Vec::new();
    for worker in workers {
        kept.extend(worker.await.unwrap());
    }
    let recordings = dir.path().join("media/tenants/10009/recordings");
    for id in &kept {
        assert_eq!(
            std::fs::read(recordings.join(format!("{id}.mp3"))).unwrap(),
            bytes
        );
    }
    assert_eq!(
        std::fs::read_dir(&recordings).unwrap().count(),
        2 * kept.len()
    );
    let staging = dir.path().join("media/staging/10009");
    let left = std::fs::read_dir(&staging).map_or(0, |d| d.count());
    assert_eq!(left, 0, "staging files left behind");
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Only archive-svc deletes recordings' media (its deletion outbox and
/// retention, after the user's deletion was decided and recorded): a user
/// or the recording platform asking is refused, and the refusal is in the
/// trail (a real audit-svc) with the caller as the actor.
#[tokio::test]
async fn delete_recording_media_is_archive_svcs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let stop = archive_common::shutdown::CancellationToken::new();
    let audit_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let audit_url = format!("http://{}", audit_listener.local_addr().unwrap());
    let audit_config = audit_svc::Config::new(
        format!("sqlite://{}", dir.path().join("audit.db").display()),
        keys().config("audit-svc"),
    );
    tokio::spawn(audit_svc::run(audit_config, audit_listener, stop.clone()));
    archive_common::host::wait_serving(&audit_url, Duration::from_secs(10))
        .await
        .unwrap();
    let server = Server::start(Config {
        audit_url: Some(audit_url.clone()),
        ..config()
    })
    .await;
    let mut client = server.client().await;
    let id = new_id();
    let bytes = fixture("tel-8k-cbr16-mono.mp3");
    upload(&mut client, "10009", &id, &bytes).await.unwrap();
    let delete = || DeleteRecordingMediaRequest {
        recording_id: id.clone(),
    };

    // A user, even an admin of the tenant, is refused…
    let err = client
        .delete_recording_media(as_user(delete(), &paal()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // …and so is the recording platform, for its own tenant.
    let err = client
        .delete_recording_media(as_platform(delete(), "10009"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // The file is still there.
    assert_eq!(
        get(&mut client, &paal(), &id).await.unwrap().size_bytes,
        bytes.len() as u64
    );
    assert_eq!(all_objects(server.objects.as_ref()).await.len(), 2);

    // archive-svc's key deletes it.
    let deleted = client
        .delete_recording_media(as_archive(delete(), "10009"))
        .await
        .unwrap()
        .into_inner()
        .deleted;
    assert!(deleted);
    assert_eq!(
        get(&mut client, &paal(), &id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        all_objects(server.objects.as_ref()).await,
        Vec::<String>::new()
    );

    // The trail: the upload, each refusal as ACCESS_DENIED naming the RPC
    // with the refused caller as the actor, and the deletion.
    let mut trail = archive_proto::v1::audit_service_client::AuditServiceClient::new(
        Channel::from_shared(audit_url)
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let mut events = trail
        .list_events(as_user(
            archive_proto::v1::ListEventsRequest {
                page_size: 100,
                ..Default::default()
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    events.reverse();
    use archive_proto::v1::AuditEventKind as K;
    let summary: Vec<(K, &str)> = events
        .iter()
        .map(|e| (K::try_from(e.kind).unwrap(), e.actor_id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (K::RecordingStored, "system:recording-platform"),
            (K::AccessDenied, "paal"),
            (K::AccessDenied, "system:recording-platform"),
            (K::RecordingFileDeleted, "system:retention"),
        ]
    );
    for refusal in &events[1..3] {
        assert!(
            refusal.detail.contains("DeleteRecordingMedia"),
            "{}",
            refusal.detail
        );
    }
    server.stop().await;
    stop.cancel();
}

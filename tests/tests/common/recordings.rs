//! Recorded calls made through the services' own APIs: ingested into an
//! archive-svc and given MP3 files of a chosen size in a media-svc, for tests
//! that need more (or bigger) recordings than the demo seed has.

use archive_common::{Principal, convert::timestamp, identity::KeySet};
use archive_proto::v1::{
    self as pb, call_event::Kind, call_service_client::CallServiceClient,
    media_service_client::MediaServiceClient,
};
use chrono::{TimeDelta, Utc};
pub(crate) use test_support::calls::recorded_call;

/// A real CBR MP3 (media-svc walks its frames on upload).
const CLIP: &[u8] = include_bytes!("../../../gateway/demo/cbr128-44k.mp3");

use super::keys::{gateway_key, platform};

/// Who reads media facts: the demo admin, through the gateway.
fn admin() -> Principal {
    Principal::new("10009", "paal", "Paal Admin")
}

/// An MP3 of at least `size` bytes: whole clips one after another.
pub(crate) fn mp3_of(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + CLIP.len());
    while out.len() < size {
        out.extend_from_slice(CLIP);
    }
    out
}

/// Ingests `count` calls queued to Sales with forced recording into the
/// archive-svc at `archive_url` (session ids `{prefix}-{i}`, caller numbers
/// `{caller_prefix}{i:04}`); the first recording id of each, in order.
pub(crate) async fn ingest_recorded_calls(
    archive_url: &str,
    keys: &KeySet,
    prefix: &str,
    caller_prefix: &str,
    count: usize,
) -> Vec<String> {
    let mut archive = CallServiceClient::connect(archive_url.to_owned())
        .await
        .unwrap();
    let start = Utc::now() - TimeDelta::hours(2);
    let calls = (0..count)
        .map(|i| {
            recorded_call(
                &format!("{prefix}-{i}"),
                &format!("{caller_prefix}{i:04}"),
                start + TimeDelta::seconds(i as i64 * 60),
            )
        })
        .collect();
    archive
        .batch_ingest_calls(platform(keys).request(pb::BatchIngestCallsRequest { calls }, "10009"))
        .await
        .unwrap()
        .into_inner()
        .results
        .into_iter()
        .map(|r| r.call.unwrap().recordings[0].recording_id.clone())
        .collect()
}

/// One recorded call ingested into `suite` (session `{prefix}-0`, caller
/// `{caller_prefix}0000`) with a file of `size` bytes; its recording id.
pub(crate) async fn recorded_in(
    suite: &gateway::suite::Suite,
    prefix: &str,
    caller_prefix: &str,
    size: usize,
) -> String {
    let archive = format!("http://{}", suite.endpoints.archive);
    let id = ingest_recorded_calls(&archive, &suite.keys, prefix, caller_prefix, 1)
        .await
        .remove(0);
    let media = format!("http://{}", suite.endpoints.media);
    upload(&media, &suite.keys, &id, &mp3_of(size)).await;
    id
}

/// Uploads `bytes` as recording `id`'s file to the media-svc at `media_url`.
pub(crate) async fn upload(media_url: &str, keys: &KeySet, id: &str, bytes: &[u8]) {
    let mut media = MediaServiceClient::connect(media_url.to_owned())
        .await
        .unwrap();
    let messages = pb::UploadRecordingRequest::stream_of(id, bytes, 1 << 20);
    media
        .upload_recording(platform(keys).request(tokio_stream::iter(messages), "10009"))
        .await
        .unwrap();
}

/// Uploads `bytes` as recording `id`'s file into the `fs` media store at
/// `media_root` through a media-svc of its own that reports the file to the
/// archive-svc at `archive_url` (and records it at the audit-svc at
/// `audit_url`). For tests that run an archive-svc besides the suite's: the
/// suite's media-svc reports uploads to the suite's archive-svc, which does
/// not have their recordings; it serves the file afterwards from the same
/// directory.
pub(crate) async fn upload_reported_to(
    media_root: &std::path::Path,
    archive_url: &str,
    audit_url: &str,
    keys: &KeySet,
    id: &str,
    bytes: &[u8],
) {
    let mut config =
        media_svc::Config::new(media_root, keys.config("media-svc"), "unused playback key");
    config.archive_url = Some(archive_url.to_owned());
    config.audit_url = Some(audit_url.to_owned());
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", grpc.local_addr().unwrap());
    let stop = archive_common::shutdown::CancellationToken::new();
    let media = tokio::spawn(media_svc::run(
        config,
        grpc,
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        stop.clone(),
    ));
    archive_common::host::wait_serving(&url, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    upload(&url, keys, id, bytes).await;
    stop.cancel();
    media.await.unwrap().unwrap();
}

/// Recording `id`'s file facts at the media-svc at `media_url` (NOT_FOUND once deleted).
pub(crate) async fn media_info(
    media_url: &str,
    keys: &KeySet,
    id: &str,
) -> Result<pb::MediaInfo, tonic::Status> {
    let mut media = MediaServiceClient::connect(media_url.to_owned())
        .await
        .unwrap();
    media
        .get_media_info(gateway_key(keys).request(
            pb::GetMediaInfoRequest {
                recording_id: id.to_owned(),
            },
            &admin(),
        ))
        .await
        .map(|r| r.into_inner().media.unwrap())
}

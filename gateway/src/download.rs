//! Zip downloads (`GET`/`HEAD /exports/{id}.zip`)
//! with an exact Content-Length and Range support so a broken download
//! resumes. Bytes stream from media-svc through a small bounded channel:
//! memory stays flat whatever the export's size, and a client that goes away
//! stops the work (the producer's next send fails and it returns, dropping
//! the upstream read).
//!
//! Every request of a download link asks authz-svc again whether its user
//! may still download every recording of it (a refusal is recorded as
//! ACCESS_DENIED and answered 403), and a download under way asks again
//! every [`RECHECK_EVERY`]: a withdrawn permission stops a link already
//! handed out within that bound. A recording deleted since the export was
//! made is 410 (archive-svc says so), and one deleted while it is being
//! sent breaks the download off (media-svc stops its read).

use std::{ops::Range, sync::Arc};

use archive_common::Clock;
use archive_proto::v1 as pb;
use axum::{
    Router,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

use tonic::Status;
use tracing::Instrument as _;

use crate::{
    api::Incoming,
    flows::export::{ExportSettings, ExportToken, Prepared, reopen},
    metrics::{DownloadEnd, METRICS},
    origin::TrustedProxies,
    upstream::{MEDIA, Upstreams},
    zip::Piece,
};

#[derive(Clone)]
pub struct DownloadState {
    pub upstreams: Upstreams,
    pub exports: ExportSettings,
    pub clock: Arc<dyn Clock>,
    /// Whose `X-Forwarded-For` is believed for the client's address.
    pub proxies: TrustedProxies,
}

/// How often a download under way asks authz-svc again.
pub const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

pub fn router(state: DownloadState) -> Router {
    Router::new()
        .route("/exports/{file}", get(download).head(download))
        .with_state(state)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

async fn download(
    State(state): State<DownloadState>,
    Path(file): Path<String>,
    Query(query): Query<TokenQuery>,
    method: Method,
    headers: HeaderMap,
    incoming: Incoming,
) -> Response {
    let Some(token) = ExportToken::verify(&query.token, &state.exports.key, state.clock.now())
    else {
        return plain(
            StatusCode::FORBIDDEN,
            "this download link is not valid or has expired",
        );
    };
    if file != format!("{}.zip", token.export_id) {
        return plain(
            StatusCode::FORBIDDEN,
            "this download link is for another file",
        );
    }
    let actor = incoming.actor(&state.proxies, token.principal(), state.clock.now());
    let reopened = async {
        let prepared = reopen(&state.upstreams, &token).await?;
        state
            .upstreams
            .authorize_again(&actor, pb::Action::Download, &prepared.selected)
            .await?;
        Ok::<_, crate::Error>(prepared)
    };
    let prepared = match reopened.await {
        Ok(p) => p,
        Err(e) => return refused(e.into()),
    };
    let size = prepared.layout.size();
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, range) = match media_svc::http::select(range_header, size) {
        media_svc::http::Selection::Whole => (StatusCode::OK, 0..size),
        media_svc::http::Selection::Partial(r) => (StatusCode::PARTIAL_CONTENT, r),
        media_svc::http::Selection::Unsatisfiable => {
            let mut response = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            );
            return response;
        }
    };
    let mut response = if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(stream(
            Recheck {
                upstreams: state.upstreams.clone(),
                actor,
            },
            prepared.clone(),
            range.clone(),
        ))
    };
    *response.status_mut() = status;
    let text = |value: String| HeaderValue::from_str(&value).expect("ascii");
    let disposition = format!("attachment; filename=\"{}\"", prepared.file_name);
    let h = response.headers_mut();
    let fixed = HeaderValue::from_static;
    for (name, value) in [
        (header::CONTENT_TYPE, fixed("application/zip")),
        (
            header::CONTENT_LENGTH,
            HeaderValue::from(range.end - range.start),
        ),
        (header::ACCEPT_RANGES, fixed("bytes")),
        (header::CACHE_CONTROL, fixed("private, no-store")),
        (header::CONTENT_DISPOSITION, text(disposition)),
        (header::ETAG, text(format!("\"{}\"", token.export_id))),
    ] {
        h.insert(name, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let content_range = format!("bytes {}-{}/{size}", range.start, range.end - 1);
        h.insert(header::CONTENT_RANGE, text(content_range));
    }
    response
}

/// A download's answer when it cannot start.
fn refused(status: tonic::Status) -> Response {
    let code = match status.code() {
        tonic::Code::NotFound | tonic::Code::FailedPrecondition => StatusCode::GONE,
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        tonic::Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = plain(code, status.message());
    if let Some(retry) = crate::api::retry_after_header(&status) {
        response.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    response
}

/// What a download under way asks authz-svc again with.
struct Recheck {
    upstreams: Upstreams,
    actor: crate::flows::Actor,
}

impl Recheck {
    /// Whether the user may still download the archive's recordings.
    async fn allowed(&self, prepared: &Prepared) -> Result<(), Stop> {
        self.upstreams
            .authorize_again(&self.actor, pb::Action::Download, &prepared.selected)
            .await
            .map_err(|e| Stop::Failed(format!("asked again: {}", tonic::Status::from(e).message())))
    }
}

/// Bytes `range` of the archive, produced by a task that stops when the client does.
fn stream(recheck: Recheck, prepared: Prepared, range: Range<u64>) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    // The producer's media-svc reads belong to the download's trace.
    let producer = async move {
        let end = match produce(&recheck, &prepared, range, &tx).await {
            Ok(()) => DownloadEnd::Completed,
            Err(Stop::ClientLeft) => DownloadEnd::ClientLeft,
            Err(Stop::Failed(e)) => {
                tracing::warn!(file = %prepared.file_name, error = %e, "export aborted");
                let _ = tx.send(Err(std::io::Error::other(e))).await;
                DownloadEnd::Failed
            }
        };
        METRICS.download(end);
    };
    tokio::spawn(producer.instrument(tracing::Span::current()));
    Body::from_stream(ReceiverStream::new(rx))
}

/// Why a download's producer stopped early.
enum Stop {
    ClientLeft,
    Failed(String),
}

impl Stop {
    /// media-svc failed to give a file's bytes.
    fn media(e: impl Into<Status>) -> Self {
        Self::Failed(format!("media-svc: {}", e.into().message()))
    }
}

async fn produce(
    recheck: &Recheck,
    prepared: &Prepared,
    range: Range<u64>,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), Stop> {
    let upstreams = &recheck.upstreams;
    // Asked when the request came; again every RECHECK_EVERY.
    let mut asked = tokio::time::Instant::now();
    for piece in prepared.layout.pieces(range) {
        match piece {
            Piece::Bytes(b) => tx
                .send(Ok(Bytes::copy_from_slice(b)))
                .await
                .map_err(|_| Stop::ClientLeft)?,
            Piece::File { index, range } => {
                let entry = &prepared.entries[index];
                let whole = range.start == 0 && range.end == entry.size;
                let failed = |why: &str| Stop::Failed(format!("{} {why}", entry.name));
                let request = pb::ReadRecordingRequest {
                    recording_id: prepared.recording_ids[index].clone(),
                    offset: range.start,
                    length: range.end - range.start,
                };
                let caller = Upstreams::caller(&prepared.principal);
                let answer = upstreams.media.read_recording(&caller, request);
                let read = upstreams.call(&MEDIA, "ReadRecording", answer).await;
                let mut chunks = read.map_err(Stop::media)?;
                let mut crc = crc32fast::Hasher::new();
                let mut sent = 0u64;
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk.map_err(Stop::media)?.chunk;
                    sent += chunk.len() as u64;
                    if sent > range.end - range.start {
                        return Err(failed("is longer than recorded"));
                    }
                    if whole {
                        crc.update(&chunk);
                    }
                    if asked.elapsed() >= RECHECK_EVERY {
                        recheck.allowed(prepared).await?;
                        asked = tokio::time::Instant::now();
                    }
                    tx.send(Ok(Bytes::from(chunk)))
                        .await
                        .map_err(|_| Stop::ClientLeft)?;
                }
                if sent != range.end - range.start {
                    return Err(failed("is shorter than recorded"));
                }
                // Bytes that no longer match the CRC taken at upload end the download.
                if whole && crc.finalize() != entry.crc32 {
                    return Err(failed("does not match its recorded CRC-32"));
                }
            }
        }
    }
    Ok(())
}

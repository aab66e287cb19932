//! The HTTP playback endpoint: `GET`/`HEAD /media/{recording_id}?token=…`, so a
//! browser's `<audio>` can play and seek a recording straight from media-svc.
//! The signed playback token is the only authority: it names the tenant and
//! the recording, and anything wrong with it is 403 before the store is
//! touched. A local recording goes out with `sendfile(2)` from the page
//! cache (see `server` and `sendfile`: the endpoint runs on its own small
//! HTTP/1.1 server for that); other bytes are streamed from the store piece
//! by piece as they arrive (what arrives from S3), never buffered whole and
//! never copied on the way.

mod grants;
#[cfg(test)]
mod properties;
mod range;
mod sendfile;
mod server;
pub(crate) mod wire;

use std::sync::Arc;

use archive_common::{
    Clock,
    telemetry::server::{Observe, SentOutOfBand},
};
use axum::{
    Router,
    body::Body,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

pub use range::{Selection, select};
pub use server::{IDLE_TIMEOUT, serve};

use crate::{
    Error,
    keys::{RecordingId, RecordingKeys},
    storage::{MediaStore, PlaybackBytes, PlaybackInfo},
    tombstones::{Revocation, Unservable},
};
use sendfile::OutOfBand;

const EXPOSED_HEADERS: &str = "Accept-Ranges, Content-Range, Content-Length, ETag";

/// What the endpoint needs besides the store.
pub struct HttpSettings {
    /// The HMAC key of playback tokens.
    pub playback_key: Vec<u8>,
    /// The one origin allowed cross-origin access (or `*`).
    pub cors_origin: Option<String>,
    /// Upper bound of `Cache-Control: max-age`.
    pub cache_max_age_secs: u64,
    pub clock: Arc<dyn Clock>,
}

struct App {
    store: MediaStore,
    settings: HttpSettings,
    grants: grants::Grants,
}

/// The routes of the endpoint.
pub fn router(store: MediaStore, settings: HttpSettings) -> Router {
    let app = Arc::new(App {
        store,
        settings,
        grants: grants::Grants::default(),
    });
    Router::new()
        .route(
            "/media/{recording_id}",
            get(media).head(media).options(preflight),
        )
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        // Traces, logs and request metrics for every request (telemetry::server).
        .layer(Observe::http("media"))
        .with_state(app)
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        message,
    )
        .into_response()
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// Adds CORS headers when the request comes from the allowed origin.
fn cors(settings: &HttpSettings, request: &HeaderMap, response: &mut Response) {
    let Some(allowed) = settings.cors_origin.as_deref() else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let origin = request.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let allow = match origin {
        Some(o) if allowed == "*" || o == allowed => o,
        _ => return,
    };
    if let Ok(value) = HeaderValue::from_str(if allowed == "*" { "*" } else { allow }) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

async fn preflight(State(app): State<Arc<App>>, request: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors(&app.settings, &request, &mut response);
    if response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Range, If-Range, If-None-Match"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

async fn media(
    State(app): State<Arc<App>>,
    Path(path_id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    request: HeaderMap,
) -> Response {
    let mut response = serve_playback(&app, &path_id, query.as_deref(), &method, &request).await;
    cors(&app.settings, &request, &mut response);
    response
}

async fn serve_playback(
    app: &App,
    path_id: &str,
    query: Option<&str>,
    method: &Method,
    request: &HeaderMap,
) -> Response {
    let now = app.settings.clock.now();
    let grant = match query_token(query)
        .ok_or(grants::Refusal::Token(crate::token::TokenError::Malformed))
        .and_then(|t| app.grants.check(t, &app.settings.playback_key, now))
    {
        Ok(grant) => grant,
        Err(e) => {
            tracing::info!(error = %e, "playback refused");
            return plain(StatusCode::FORBIDDEN, "forbidden");
        }
    };
    let Ok(id) = RecordingId::parse(path_id, "recording_id") else {
        return plain(StatusCode::FORBIDDEN, "forbidden");
    };
    if id != grant.recording {
        tracing::info!(path = %id, token = %grant.recording, "playback token is for another recording");
        return plain(StatusCode::FORBIDDEN, "forbidden");
    }
    let keys = &grant.keys;
    // Asked on every request (each Range request of a player is one), after
    // the token and before the store: a recording being deleted is gone
    // for every link, whatever its token says; see `tombstones`.
    let revocation = match app.store.watch(keys) {
        Ok(revocation) => revocation,
        Err(Unservable::Deleted) => return plain(StatusCode::GONE, "recording deleted"),
        Err(Unservable::Unsettled) => return unsettled(),
    };
    // A body also ends when its link does: a revoked permission reaches
    // the player within a link's short life, whatever it has in flight.
    let left = (grant.expires_at - now).to_std().unwrap_or_default();
    let revocation = revocation.until(std::time::Instant::now() + left);
    let remaining = (grant.expires_at - now).num_seconds().max(0);
    if method == Method::GET
        && let Some(url) = app
            .store
            .playback_redirect(keys, redirect_validity(remaining))
            .await
    {
        return match url {
            Ok(url) => redirect(&url),
            Err(e) => failure(e),
        };
    }
    let max_age = app
        .settings
        .cache_max_age_secs
        .min(u64::try_from(remaining).unwrap_or(0));
    // Remembered metadata only serves answers whose bytes are then read
    // under If-Match (see `storage::info_cache`); a HEAD, 304 or 416 answer,
    // or a recording changed since, is answered from metadata read afresh.
    let mut remembered_ok = method == Method::GET;
    for _ in 0..2 {
        let playback = match app.store.playback_info(keys, remembered_ok).await {
            Ok(Some(playback)) => playback,
            Ok(None) => return plain(StatusCode::NOT_FOUND, "recording not found"),
            Err(e) => return failure(e),
        };
        match answer(app, keys, &playback, max_age, method, request, &revocation).await {
            Answer::Done(response) => return response,
            Answer::LookAfresh => remembered_ok = false,
        }
    }
    // Metadata read afresh is never refused, so this is not reached.
    plain(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
}

/// How long a redirect's URL stays valid: while the token is, and at most
/// [`MAX_REDIRECT_SECS`]. The bytes then go from the store to the player
/// without media-svc: a URL handed out before a recording is deleted (or
/// before the user's permission is revoked) keeps working until it expires
/// or the object is gone, so it is kept short. A player keeps using the URL
/// for the seeks that follow; one that outlives it gets 403 from the store
/// and asks media-svc again (the web page renews its link then). At least a
/// second, so a token about to expire still plays.
fn redirect_validity(token_remaining_secs: i64) -> std::time::Duration {
    let secs = u64::try_from(token_remaining_secs).unwrap_or(0);
    std::time::Duration::from_secs(secs.clamp(1, MAX_REDIRECT_SECS))
}

/// The longest a presigned playback URL is valid (see [`redirect_validity`]).
pub const MAX_REDIRECT_SECS: u64 = 60;

/// `307` (the player repeats the same GET, `Range` included, at `url`),
/// never cached: the URL expires within a minute.
fn redirect(url: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(url) else {
        tracing::error!("the store's signer made a URL that is no header value");
        return plain(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
    };
    (
        StatusCode::TEMPORARY_REDIRECT,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

enum Answer {
    Done(Response),
    /// The remembered metadata cannot answer this: read it afresh.
    LookAfresh,
}

async fn answer(
    app: &App,
    keys: &RecordingKeys,
    playback: &PlaybackInfo,
    max_age: u64,
    method: &Method,
    request: &HeaderMap,
    revocation: &Revocation,
) -> Answer {
    let info = &playback.info;
    let etag = format!("\"{}\"", info.sha256);
    let mut base = HeaderMap::new();
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    base.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
    base.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        base.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={max_age}")) {
        base.insert(header::CACHE_CONTROL, v);
    }

    if matches_any(request.get(header::IF_NONE_MATCH), &etag) {
        if playback.is_remembered() {
            return Answer::LookAfresh;
        }
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().extend(base);
        response.headers_mut().remove(header::CONTENT_TYPE);
        return Answer::Done(response);
    }
    let range_header = request
        .get(header::RANGE)
        .map(|v| v.to_str().unwrap_or("?"));
    // If-Range: the range only applies to the version the client has.
    let if_range_ok = request
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let selection = if if_range_ok {
        select(range_header, info.size_bytes)
    } else {
        Selection::Whole
    };
    let (status, bytes) = match selection {
        Selection::Whole => (StatusCode::OK, 0..info.size_bytes),
        Selection::Partial(r) => (StatusCode::PARTIAL_CONTENT, r),
        Selection::Unsatisfiable => {
            if playback.is_remembered() {
                return Answer::LookAfresh;
            }
            let mut response = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", info.size_bytes)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            response
                .headers_mut()
                .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return Answer::Done(response);
        }
    };
    body_response(app, keys, playback, method, status, bytes, base, revocation).await
}

#[allow(clippy::too_many_arguments)]
async fn body_response(
    app: &App,
    keys: &RecordingKeys,
    playback: &PlaybackInfo,
    method: &Method,
    status: StatusCode,
    bytes: std::ops::Range<u64>,
    mut headers: HeaderMap,
    revocation: &Revocation,
) -> Answer {
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(bytes.end - bytes.start),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!(
            "bytes {}-{}/{}",
            bytes.start,
            bytes.end - 1,
            playback.info.size_bytes
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_RANGE, v);
        }
    }
    // What the server sends itself (see `server`).
    let mut out_of_band = None;
    let mut send_out_of_band = |body: OutOfBand| {
        let fallback = body.fallback_body();
        out_of_band = Some(body);
        fallback
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match app.store.read_playback(keys, playback, bytes).await {
            // Every body stops at its next piece once the recording is buried.
            Ok(PlaybackBytes::Bytes(stream)) => Body::from_stream(revocation.clone().guard(stream)),
            Ok(PlaybackBytes::File(file)) => send_out_of_band(OutOfBand {
                file,
                revocation: revocation.clone(),
            }),
            Ok(PlaybackBytes::Changed) => return Answer::LookAfresh,
            Err(Error::NotFound(_)) => {
                return Answer::Done(plain(StatusCode::NOT_FOUND, "recording not found"));
            }
            Err(e) => return Answer::Done(failure(e)),
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    if let Some(body) = out_of_band {
        // The server writes this body itself, never polling the response's:
        // the request layer counts its bytes from here.
        response.extensions_mut().insert(SentOutOfBand(body.len()));
        response.extensions_mut().insert(body);
    }
    Answer::Done(response)
}

/// `If-None-Match`: `*` or a list of entity tags, weak ones compared weakly.
fn matches_any(header: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(value) = header.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// 503 while the deletions queued at archive-svc are not known yet (a
/// start-up): a player retries, and gets its answer in a moment.
fn unsettled() -> Response {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 503 with `Retry-After`: the store failed (or did not answer in time).
fn failure(e: Error) -> Response {
    if let Some(repeated) = PLAYBACK_FAILED.admit("playback") {
        tracing::error!(error = %e, repeated, "playback failed");
    }
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(archive_common::error::RETRY_AFTER.as_secs()),
    );
    response
}

/// While the store is down every playback fails alike: one line per interval.
static PLAYBACK_FAILED: archive_common::log_limit::LogLimit =
    archive_common::log_limit::LogLimit::new(archive_common::log_limit::EVERY);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_found_among_parameters() {
        assert_eq!(query_token(Some("token=abc.def")), Some("abc.def"));
        assert_eq!(query_token(Some("x=1&token=t&y=2")), Some("t"));
        assert_eq!(query_token(Some("notoken=t")), None);
        assert_eq!(query_token(None), None);
    }

    #[tokio::test]
    async fn a_file_body_read_by_someone_else_has_the_range() {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"0123456789").unwrap();
        let range = crate::storage::FileRange::new(file, 2..7);
        let body = OutOfBand {
            file: range,
            revocation: Revocation::never(),
        }
        .fallback_body();
        let body = axum::body::to_bytes(body, 100).await.unwrap();
        assert_eq!(&body[..], b"23456");
    }

    #[test]
    fn a_redirect_is_valid_while_the_token_is_and_a_minute_at_most() {
        let secs = |remaining| redirect_validity(remaining).as_secs();
        assert_eq!(secs(45), 45);
        assert_eq!(secs(1), 1);
        // A token in its last second still gets a URL that works for one.
        assert_eq!(secs(0), 1);
        assert_eq!(secs(-3), 1);
        assert_eq!(secs(90), MAX_REDIRECT_SECS);
        assert_eq!(secs(30 * 24 * 3600), MAX_REDIRECT_SECS);
    }

    #[test]
    fn if_none_match() {
        let etag = "\"abc\"";
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert!(matches_any(Some(&v("\"abc\"")), etag));
        assert!(matches_any(Some(&v("\"x\", W/\"abc\"")), etag));
        assert!(matches_any(Some(&v("*")), etag));
        assert!(!matches_any(Some(&v("\"abd\"")), etag));
        assert!(!matches_any(None, etag));
    }
}

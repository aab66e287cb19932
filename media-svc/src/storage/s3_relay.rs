//! Playback GETs to an S3-compatible server on a plain-HTTP endpoint (an
//! in-cluster MinIO, a loopback test server), made on connections media-svc
//! owns, so the HTTP endpoint can move the audio from that socket to the
//! player's with `splice(2)` instead of copying it through user space
//! (`http::relay`). Through object_store every relayed byte was received
//! into a buffer and written out again: ~1.4 ms of media-svc's CPU per MB,
//! all of the gap to a direct S3 GET in the playback benchmark.
//! object_store's HTTP client does not hand out its sockets, so the request
//! is written here: a presigned URL from object_store's own signer (the
//! credentials and signature stay object_store's), one `GET` with `Range`
//! and `If-Match`, and the response head parsed with `httparse`.
//!
//! Only the bytes of a playback answer come this way. Anything unexpected
//! before the first byte reaches the player — a connection refused, a
//! status other than those below — is an error the caller answers by asking
//! object_store instead (with its retries), so the relay can only make
//! playback cheaper, never less available. A store that does not answer in
//! time is the exception: asking object_store would only wait once more, so
//! that is the caller's answer (503). TLS endpoints (AWS itself) are not
//! relayed: their bytes must be decrypted anyway.

use std::{
    ops::Range,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::http::{StatusCode, header};
use bytes::{Bytes, BytesMut};
use object_store::{aws::AmazonS3, path::Path, signer::Signer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::http::wire::{self, ResponseBody, ResponseHead};
/// Idle keep-alive connections kept for the next GET.
const MAX_IDLE_CONNECTIONS: usize = 32;
/// Validity of each presigned URL: only for the request made with it now.
const SIGNATURE_TTL: Duration = Duration::from_secs(60);

/// Makes playback GETs to one S3 endpoint over plain HTTP.
#[derive(Debug)]
pub struct S3Relay {
    signer: Arc<AmazonS3>,
    timeouts: Timeouts,
    idle: Mutex<Vec<TcpStream>>,
}

/// How long the relay waits on the store (the S3 settings' own).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For a new connection.
    pub connect: Duration,
    /// For the answer's head, and for each next piece of its body.
    pub read: Duration,
}

/// Why a relayed GET did not produce a body; the caller then asks object_store.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("signing the request: {0}")]
    Sign(#[from] object_store::Error),
    #[error("the presigned URL has no host")]
    NoHost,
    #[error("talking to the S3 server: {0}")]
    Io(#[from] std::io::Error),
    #[error("no answer from the S3 server within {0:?}")]
    Timeout(Duration),
    #[error("the S3 server's answer is not usable here: {0}")]
    Answer(String),
}

/// What the S3 server answered.
#[derive(Debug)]
pub enum Answer {
    Body(RelayedBody),
    NotFound,
    /// `If-Match` failed, or the range no longer fits: the object changed.
    Changed,
}

/// A 200/206 answer whose head has been read: the rest of the body is
/// still in the socket.
#[derive(Debug)]
pub struct RelayedBody {
    stream: TcpStream,
    /// Body bytes that arrived with the head.
    pub(crate) leftover: Bytes,
    /// Which bytes of the object the body holds.
    pub(crate) range: Range<u64>,
    /// The object's size.
    pub(crate) total: u64,
    pub(crate) e_tag: Option<String>,
    /// Body bytes read from the socket so far.
    consumed: u64,
    /// Longest wait for more of the body.
    idle: Duration,
    /// Where the connection goes back when the body was read to its end
    /// (`None` when the server closes it).
    pool: Option<Arc<S3Relay>>,
}

impl RelayedBody {
    /// The socket the rest of the body is read from.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Longest wait for more of the body.
    pub(crate) fn idle(&self) -> Duration {
        self.idle
    }

    /// Bytes of the body, leftover included.
    pub(crate) fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// Bytes of the body still in the socket.
    pub(crate) fn remaining(&self) -> u64 {
        self.range.end - self.range.start - self.leftover.len() as u64 - self.consumed
    }

    /// `n` more bytes of the body were taken from the socket.
    pub(crate) fn advance(&mut self, n: u64) {
        self.consumed += n;
    }

    /// The body was read to its end: the connection may serve another GET.
    pub(crate) fn finished(self) {
        if let Some(relay) = self.pool {
            relay.keep(self.stream);
        }
    }

    /// The whole body, leftover then socket, as a stream of chunks (for a
    /// reader that cannot splice).
    pub(crate) fn into_stream(
        mut self,
    ) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let leftover = std::mem::take(&mut self.leftover);
        // `remaining` no longer counts the leftover taken here.
        self.consumed += leftover.len() as u64;
        let first = futures::stream::iter((!leftover.is_empty()).then_some(Ok(leftover)));
        let rest = futures::stream::try_unfold(self, |mut body| async move {
            let remaining = body.remaining();
            if remaining == 0 {
                body.finished();
                return Ok(None);
            }
            let want = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(256 * 1024);
            let mut buf = BytesMut::with_capacity(want);
            let n = body.stream.read_buf(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the S3 server closed the connection before the end of the body",
                ));
            }
            body.advance(n as u64);
            Ok(Some((buf.freeze(), body)))
        });
        futures::StreamExt::chain(first, rest)
    }
}

impl S3Relay {
    /// A relay to `signer`'s endpoint when it is plain HTTP (`None` for TLS
    /// endpoints and AWS itself).
    pub fn new(signer: Arc<AmazonS3>, endpoint: Option<&str>, timeouts: Timeouts) -> Option<Self> {
        let plain = endpoint.is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
        plain.then(|| Self {
            signer,
            timeouts,
            idle: Mutex::default(),
        })
    }

    fn keep(&self, stream: TcpStream) {
        let mut idle = self.idle.lock().expect("idle connections");
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(stream);
        }
    }

    fn reuse(&self) -> Option<TcpStream> {
        self.idle.lock().expect("idle connections").pop()
    }

    /// `GET` of `range` (the whole object when `None`) of `location`, only
    /// if its ETag is still `if_match` when one is given.
    pub async fn get(
        self: &Arc<Self>,
        location: &Path,
        range: Option<Range<u64>>,
        if_match: Option<&str>,
    ) -> Result<Answer, RelayError> {
        let url = self
            .signer
            .signed_url(axum::http::Method::GET, location, SIGNATURE_TTL)
            .await?;
        let host = url.host_str().ok_or(RelayError::NoHost)?;
        // The Host header is signed: written as the signer saw it.
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut request = format!("GET {}", url.path());
        if let Some(query) = url.query() {
            request.push('?');
            request.push_str(query);
        }
        request.push_str(" HTTP/1.1\r\nHost: ");
        request.push_str(&authority);
        if let Some(r) = &range {
            request.push_str(&format!("\r\nRange: bytes={}-{}", r.start, r.end - 1));
        }
        if let Some(tag) = if_match {
            request.push_str("\r\nIf-Match: ");
            request.push_str(tag);
        }
        request.push_str("\r\n\r\n");

        let port = url.port_or_known_default().unwrap_or(80);
        // A kept connection the server has meanwhile closed fails at once:
        // then the GET is made once more on a new one.
        if let Some(stream) = self.reuse() {
            match self.exchange(stream, &request, range.as_ref()).await {
                Err(RelayError::Io(_)) => {}
                answer => return answer,
            }
        }
        let connect = TcpStream::connect((host, port));
        let stream = tokio::time::timeout(self.timeouts.connect, connect)
            .await
            .map_err(|_| RelayError::Timeout(self.timeouts.connect))??;
        stream.set_nodelay(true)?;
        self.exchange(stream, &request, range.as_ref()).await
    }

    async fn exchange(
        self: &Arc<Self>,
        mut stream: TcpStream,
        request: &str,
        range: Option<&Range<u64>>,
    ) -> Result<Answer, RelayError> {
        let exchange = async {
            stream.write_all(request.as_bytes()).await?;
            read_head(&mut stream).await
        };
        let (head, leftover) = tokio::time::timeout(self.timeouts.read, exchange)
            .await
            .map_err(|_| RelayError::Timeout(self.timeouts.read))??;
        match head.status {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {}
            StatusCode::NOT_FOUND => return Ok(Answer::NotFound),
            StatusCode::PRECONDITION_FAILED | StatusCode::RANGE_NOT_SATISFIABLE => {
                return Ok(Answer::Changed);
            }
            other => return Err(RelayError::Answer(format!("status {other}"))),
        }
        let ResponseBody::Length(length) = head.body else {
            return Err(RelayError::Answer(format!(
                "a body framed as {:?}",
                head.body
            )));
        };
        let header = |name| head.headers.get(name).and_then(|v| v.to_str().ok());
        let (body_range, total) = match (
            head.status,
            header(header::CONTENT_RANGE).and_then(content_range),
        ) {
            (StatusCode::PARTIAL_CONTENT, Some((range, total)))
                if range.end - range.start == length =>
            {
                (range, total)
            }
            (StatusCode::PARTIAL_CONTENT, _) => {
                return Err(RelayError::Answer(
                    "206 without a usable Content-Range".into(),
                ));
            }
            _ => (0..length, length),
        };
        if let Some(asked) = range
            && *asked != body_range
        {
            return Err(RelayError::Answer(format!(
                "asked for bytes {asked:?}, got {body_range:?}"
            )));
        }
        if leftover.len() as u64 > length {
            return Err(RelayError::Answer("more bytes than Content-Length".into()));
        }
        Ok(Answer::Body(RelayedBody {
            stream,
            leftover,
            range: body_range,
            total,
            e_tag: header(header::ETAG).map(str::to_owned),
            pool: head.keep_alive.then(|| Arc::clone(self)),
            consumed: 0,
            idle: self.timeouts.read,
        }))
    }
}

/// Reads a response head; returns it and the body bytes that came with it.
async fn read_head(stream: &mut TcpStream) -> Result<(ResponseHead, Bytes), RelayError> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        match wire::parse_response(&buf) {
            Ok(Some((head, len))) => {
                let _ = buf.split_to(len);
                return Ok((head, buf.freeze()));
            }
            Ok(None) => {}
            Err(e) => return Err(RelayError::Answer(format!("response head refused: {e:?}"))),
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(RelayError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the S3 server closed the connection before its answer",
            )));
        }
    }
}

/// `bytes 100-199/1000` → (100..200, 1000).
fn content_range(value: &str) -> Option<(Range<u64>, u64)> {
    let (unit, rest) = value.split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last, total): (u64, u64, u64) =
        (first.parse().ok()?, last.parse().ok()?, total.parse().ok()?);
    (first <= last && last < total).then_some((first..last + 1, total))
}

/// A relayed answer, taken once: by the playback server, which splices it,
/// or by whoever else polls the response body (see `http::sendfile::OutOfBand`).
#[derive(Debug, Clone)]
pub struct RelayHandle {
    body: Arc<Mutex<Option<RelayedBody>>>,
    len: u64,
}

impl RelayHandle {
    pub(crate) fn new(body: RelayedBody) -> Self {
        Self {
            len: body.len(),
            body: Arc::new(Mutex::new(Some(body))),
        }
    }

    /// Bytes of the body.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn take(&self) -> Option<RelayedBody> {
        self.body.lock().expect("relayed body").take()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use futures::TryStreamExt;
    use object_store::aws::AmazonS3Builder;
    use tokio::net::TcpListener;

    use super::*;

    /// One scripted answer of [`FakeS3`]: the bytes written, in pieces,
    /// and whether the connection is closed afterwards.
    pub(crate) struct Script {
        pub(crate) pieces: Vec<Vec<u8>>,
        pub(crate) close: bool,
    }

    /// An HTTP server that answers each request head with the next script
    /// and tells what it was asked, on which connection.
    pub(crate) struct FakeS3 {
        pub(crate) endpoint: String,
        pub(crate) asked: tokio::sync::mpsc::UnboundedReceiver<(usize, String)>,
    }

    pub(crate) async fn fake_s3(scripts: Vec<Script>) -> FakeS3 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, asked) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut scripts = scripts.into_iter();
            let mut connection = 0;
            'accept: while let Ok((mut socket, _)) = listener.accept().await {
                connection += 1;
                loop {
                    let Some(head) = read_request(&mut socket).await else {
                        continue 'accept;
                    };
                    let _ = tx.send((connection, head));
                    let Some(script) = scripts.next() else {
                        return;
                    };
                    for piece in script.pieces {
                        if socket.write_all(&piece).await.is_err() {
                            continue 'accept;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    if script.close {
                        continue 'accept;
                    }
                }
            }
        });
        FakeS3 { endpoint, asked }
    }

    /// The text of the next request head (requests have no body here).
    async fn read_request(socket: &mut TcpStream) -> Option<String> {
        let mut buf = BytesMut::new();
        loop {
            if let Some((_, len)) = wire::parse_request(&buf).ok()? {
                return Some(String::from_utf8_lossy(&buf[..len]).into_owned());
            }
            if socket.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    pub(crate) fn relay_to(endpoint: &str) -> Arc<S3Relay> {
        Arc::new(relay_at(endpoint))
    }

    pub(crate) fn relay_at(endpoint: &str) -> S3Relay {
        let s3 = AmazonS3Builder::new()
            .with_bucket_name("b")
            .with_region("us-east-1")
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_access_key_id("id")
            .with_secret_access_key("secret")
            .build()
            .unwrap();
        let timeouts = Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_secs(5),
        };
        S3Relay::new(Arc::new(s3), Some(endpoint), timeouts).unwrap()
    }

    pub(crate) fn answer(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\n");
        for h in headers {
            out.push_str(h);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 256) as u8).collect()
    }

    async fn collect(body: RelayedBody) -> Vec<u8> {
        let parts: Vec<Bytes> = body.into_stream().try_collect().await.unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn a_range_is_asked_for_signed_and_kept_alive() {
        let object = data(100);
        let first = answer(
            "206 Partial Content",
            &[
                "Content-Length: 10",
                "Content-Range: bytes 10-19/100",
                "ETag: \"v1\"",
            ],
            &object[10..13],
        );
        let whole_head = answer("200 OK", &["Content-Length: 100", "ETag: \"v1\""], &[]);
        let mut fake = fake_s3(vec![
            Script {
                pieces: vec![first, object[13..20].to_vec()],
                close: false,
            },
            Script {
                pieces: vec![whole_head, object[..50].to_vec(), object[50..].to_vec()],
                close: false,
            },
        ])
        .await;
        let relay = relay_to(&fake.endpoint);
        let path = Path::from("tenants/10009/a.mp3");

        let Answer::Body(body) = relay
            .get(&path, Some(10..20), Some("\"v1\""))
            .await
            .unwrap()
        else {
            panic!("no body")
        };
        assert_eq!((body.range.clone(), body.total), (10..20, 100));
        assert_eq!(body.e_tag.as_deref(), Some("\"v1\""));
        assert_eq!(collect(body).await, object[10..20]);
        let (connection, head) = fake.asked.recv().await.unwrap();
        assert_eq!(connection, 1);
        let authority = fake.endpoint.trim_start_matches("http://");
        assert!(head.starts_with("GET /b/tenants/10009/a.mp3?"), "{head}");
        assert!(head.contains("X-Amz-Signature="), "{head}");
        assert!(
            head.contains(&format!("\r\nHost: {authority}\r\n")),
            "{head}"
        );
        assert!(head.contains("\r\nRange: bytes=10-19\r\n"), "{head}");
        assert!(head.contains("\r\nIf-Match: \"v1\"\r\n"), "{head}");

        // The whole object, without Range, on the same connection.
        let Answer::Body(body) = relay.get(&path, None, None).await.unwrap() else {
            panic!("no body")
        };
        assert_eq!((body.range.clone(), body.total), (0..100, 100));
        assert_eq!(collect(body).await, object);
        let (connection, head) = fake.asked.recv().await.unwrap();
        assert_eq!(connection, 1, "the kept connection was not reused");
        assert!(
            !head.contains("Range:") && !head.contains("If-Match:"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn statuses_map_to_answers_and_errors() {
        let scripts = [
            ("404 Not Found", vec!["Content-Length: 0"]),
            ("412 Precondition Failed", vec!["Content-Length: 0"]),
            ("416 Range Not Satisfiable", vec!["Content-Length: 0"]),
            ("503 Slow Down", vec!["Content-Length: 0"]),
            // Another range than asked for.
            (
                "206 Partial Content",
                vec!["Content-Length: 10", "Content-Range: bytes 0-9/100"],
            ),
            // A chunked body is not relayed.
            ("200 OK", vec!["Transfer-Encoding: chunked"]),
        ]
        .map(|(status, headers)| Script {
            pieces: vec![answer(status, &headers, &[])],
            close: true,
        });
        let fake = fake_s3(scripts.into_iter().collect()).await;
        let relay = relay_to(&fake.endpoint);
        let path = Path::from("k");
        let get = || relay.get(&path, Some(10..20), None);
        assert!(matches!(get().await, Ok(Answer::NotFound)));
        assert!(matches!(get().await, Ok(Answer::Changed)));
        assert!(matches!(get().await, Ok(Answer::Changed)));
        assert!(matches!(get().await, Err(RelayError::Answer(m)) if m.contains("503")));
        assert!(matches!(get().await, Err(RelayError::Answer(m)) if m.contains("asked for")));
        assert!(matches!(get().await, Err(RelayError::Answer(m)) if m.contains("Encoded")));
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced() {
        let object = data(30);
        // Keep-alive promised, then closed by the server after the answer.
        let ok = || answer("200 OK", &["Content-Length: 30"], &object);
        let mut fake = fake_s3(vec![
            Script {
                pieces: vec![ok()],
                close: true,
            },
            Script {
                pieces: vec![ok()],
                close: true,
            },
        ])
        .await;
        let relay = relay_to(&fake.endpoint);
        let path = Path::from("k");
        for _ in 0..2 {
            let Answer::Body(body) = relay.get(&path, None, None).await.unwrap() else {
                panic!("no body")
            };
            assert_eq!(collect(body).await, object);
        }
        assert_eq!(fake.asked.recv().await.unwrap().0, 1);
        assert_eq!(fake.asked.recv().await.unwrap().0, 2);
    }

    #[tokio::test]
    async fn connection_close_is_not_kept_and_a_short_body_is_an_error() {
        let object = data(40);
        let mut fake = fake_s3(vec![
            Script {
                pieces: vec![answer(
                    "200 OK",
                    &["Content-Length: 40", "Connection: close"],
                    &object,
                )],
                close: true,
            },
            Script {
                pieces: vec![answer("200 OK", &["Content-Length: 40"], &object[..25])],
                close: true,
            },
        ])
        .await;
        let relay = relay_to(&fake.endpoint);
        let path = Path::from("k");
        let Answer::Body(body) = relay.get(&path, None, None).await.unwrap() else {
            panic!("no body")
        };
        assert_eq!(collect(body).await, object);
        assert!(relay.reuse().is_none(), "a closed connection was kept");
        let Answer::Body(body) = relay.get(&path, None, None).await.unwrap() else {
            panic!("no body")
        };
        let read: Result<Vec<Bytes>, _> = body.into_stream().try_collect().await;
        assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(relay.reuse().is_none(), "a half-read connection was kept");
        assert_eq!(fake.asked.recv().await.unwrap().0, 1);
        assert_eq!(fake.asked.recv().await.unwrap().0, 2);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("bytes 0-0/1"), Some((0..1, 1)));
        assert_eq!(content_range("bytes 100-199/1000"), Some((100..200, 1000)));
        for bad in [
            "bytes 5-4/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes */10",
            "bytes 0-1",
        ] {
            assert_eq!(content_range(bad), None, "{bad}");
        }
    }
}

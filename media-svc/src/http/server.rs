//! The playback endpoint's HTTP/1.1 server: accepts connections, reads
//! request heads (`wire`), calls the axum [`Router`] for every request (so
//! routing, handlers and any tower layers work as under `axum::serve`) and
//! writes the answer itself. It exists for one reason: a response carrying a
//! `storage::FileRange` (a local recording) is sent with `sendfile(2)` (see
//! `sendfile`), which hyper cannot do; every other body is written from
//! memory as hyper would, frame by frame, never buffered whole. A tower
//! layer that wraps response bodies (to count bytes, say) sees a sendfile
//! answer's body dropped unread: count those from the `SentOutOfBand`
//! extension or from the response's `Content-Length`.
//!
//! What it speaks: HTTP/1.0 and 1.1 with keep-alive and pipelining; request
//! bodies only with `Content-Length` (up to 64 KiB; a chunked one is 411);
//! response bodies with a length, chunked, or until close for HTTP/1.0.
//! A connection waits at most [`IDLE_TIMEOUT`] for the next request head.
//! On shutdown it stops accepting, closes idle connections, lets answers in
//! progress finish and returns when every connection has closed.

use std::{future::poll_fn, io, time::Duration};

use archive_common::shutdown::CancellationToken;
use axum::{
    Router,
    body::{Body, HttpBody},
    http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header},
};
use bytes::{Buf, BytesMut};
use futures::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};
use tokio_util::task::TaskTracker;
use tower::Service;

use super::{
    sendfile::{OutOfBand, send_head},
    wire::{self, Framing, RequestBody, RequestHead},
};

/// How long a connection may take to send the next request head (nginx's
/// keep-alive default).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// The largest request body taken (playback requests have none).
const MAX_REQUEST_BODY_BYTES: u64 = 64 * 1024;
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// After refusing a request, unread bytes are drained this long before the
/// socket closes, so the refusal is not lost to a reset.
const LINGER: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> io::Result<()> {
    // Turns every route into its service once, not per request.
    let router = router.with_state(());
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                // TCP_NODELAY: the first bytes of a seek answer should not wait for a delayed ACK.
                let _ = stream.set_nodelay(true);
                // A token of its own: waiting on the shared one locks it, per request.
                let connection = Connection::new(stream, router.clone(), shutdown.child_token());
                connections.spawn(connection.run());
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::error!(error = %e, "accepting a playback connection failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Errors of one connection that is gone before it was accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

struct Connection {
    stream: TcpStream,
    router: Router,
    shutdown: CancellationToken,
    /// Bytes read and not yet used: the next request head (or more).
    input: BytesMut,
    /// The response head being written.
    head: Vec<u8>,
    /// Whether a refused request may have left bytes unread.
    linger: bool,
}

impl Connection {
    fn new(stream: TcpStream, router: Router, shutdown: CancellationToken) -> Self {
        Self {
            stream,
            router,
            shutdown,
            input: BytesMut::with_capacity(READ_BUFFER_BYTES),
            head: Vec::with_capacity(512),
            linger: false,
        }
    }

    async fn run(mut self) {
        loop {
            let keep_open = match self.next_request().await {
                Ok(Some(request)) => self.answer(request).await,
                Ok(None) => break,
                Err(e) => self.refuse(e.status()).await,
            };
            match keep_open {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "playback connection ended");
                    return;
                }
            }
        }
        let _ = self.stream.shutdown().await;
        if self.linger {
            let mut scratch = [0; 4096];
            let drain = async { while matches!(self.stream.read(&mut scratch).await, Ok(1..)) {} };
            let _ = tokio::time::timeout(LINGER, drain).await;
        }
    }

    /// Reads until a request head is complete; `None` when the client
    /// closed, went idle too long, or the server is shutting down between requests.
    async fn next_request(&mut self) -> Result<Option<RequestHead>, wire::HeadError> {
        let deadline = Instant::now() + IDLE_TIMEOUT;
        loop {
            if !self.input.is_empty()
                && let Some((head, len)) = wire::parse_request(&self.input)?
            {
                self.input.advance(len);
                return Ok(Some(head));
            }
            let idle = self.input.is_empty();
            let read = tokio::select! {
                biased;
                () = self.shutdown.cancelled(), if idle => return Ok(None),
                read = tokio::time::timeout_at(deadline, read_more(&mut self.stream, &mut self.input)) => read,
            };
            match read {
                Ok(Ok(1..)) => {}
                // Closed, failed or idle too long: nothing to answer.
                _ => return Ok(None),
            }
        }
    }

    /// Answers one request; whether the connection stays open.
    async fn answer(&mut self, head: RequestHead) -> io::Result<bool> {
        let RequestHead {
            request,
            body,
            keep_alive,
            expects_continue,
        } = head;
        let length = match body {
            RequestBody::Encoded => return self.refuse(StatusCode::LENGTH_REQUIRED).await,
            RequestBody::Length(n) if n > MAX_REQUEST_BODY_BYTES => {
                return self.refuse(StatusCode::PAYLOAD_TOO_LARGE).await;
            }
            RequestBody::Length(n) => n as usize,
        };
        let body = if length == 0 {
            Body::empty()
        } else {
            if expects_continue && self.input.len() < length {
                send_head(&self.stream, b"HTTP/1.1 100 Continue\r\n\r\n", false).await?;
            }
            while self.input.len() < length {
                let read = tokio::time::timeout(
                    IDLE_TIMEOUT,
                    read_more(&mut self.stream, &mut self.input),
                );
                if !matches!(read.await, Ok(Ok(1..))) {
                    return Ok(false);
                }
            }
            Body::from(self.input.split_to(length).freeze())
        };
        let method = request.method().clone();
        let version = request.version();
        let request = request.map(|()| body);
        let response = match poll_fn(|cx| {
            <Router as Service<Request<Body>>>::poll_ready(&mut self.router, cx)
        })
        .await
        {
            Ok(()) => self.router.call(request).await,
            Err(never) => match never {},
        };
        let response = match response {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let close = !keep_alive
            || self.shutdown.is_cancelled()
            || wire::has_token(response.headers(), header::CONNECTION, "close");
        self.respond(response, &method, version, close).await
    }

    async fn respond(
        &mut self,
        response: Response<Body>,
        method: &Method,
        version: Version,
        mut close: bool,
    ) -> io::Result<bool> {
        let (mut parts, body) = response.into_parts();
        let out_of_band = parts.extensions.remove::<OutOfBand>();
        let exact = body.size_hint().exact();
        let framing = if method == Method::HEAD || wire::bodiless(parts.status) {
            if method == Method::HEAD
                && !parts.headers.contains_key(header::CONTENT_LENGTH)
                && let Some(n) = exact
            {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
            Framing::None
        } else if let Some(n) = wire::declared_length(&parts.headers).or(exact) {
            Framing::Length(n)
        } else if version == Version::HTTP_10 {
            close = true;
            Framing::UntilClose
        } else {
            Framing::Chunked
        };
        self.head.clear();
        let http10_keep_alive = version == Version::HTTP_10 && !close;
        wire::write_response_head(
            &mut self.head,
            parts.status,
            &parts.headers,
            framing,
            close,
            http10_keep_alive,
        );
        match (framing, out_of_band) {
            (Framing::None, _) => send_head(&self.stream, &self.head, false).await?,
            (Framing::Length(n), Some(body)) if body.len() == n => {
                // The head goes out on its own, as nginx sends it: held back
                // with MSG_MORE to share a segment with the file, a 64 KiB
                // seek cost a third more CPU (the benchmark's CPU column).
                send_head(&self.stream, &self.head, false).await?;
                body.send(&self.stream).await?;
            }
            (Framing::Length(n), _) => {
                send_head(&self.stream, &self.head, n > 0).await?;
                self.send_sized(body, n).await?;
            }
            (Framing::Chunked | Framing::UntilClose, _) => {
                send_head(&self.stream, &self.head, true).await?;
                self.send_unsized(body, framing == Framing::Chunked).await?;
            }
        }
        Ok(!close)
    }

    /// Writes exactly `length` bytes of `body`; a body of another length
    /// breaks the framing, so the connection is dropped.
    async fn send_sized(&mut self, body: Body, length: u64) -> io::Result<()> {
        let mut data = body.into_data_stream();
        let mut sent = 0u64;
        while sent < length {
            let chunk = match data.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Err(body_failed(e)),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the body is shorter than its Content-Length",
                    ));
                }
            };
            if chunk.len() as u64 > length - sent {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the body is longer than its Content-Length",
                ));
            }
            self.stream.write_all(&chunk).await?;
            sent += chunk.len() as u64;
        }
        Ok(())
    }

    async fn send_unsized(&mut self, body: Body, chunked: bool) -> io::Result<()> {
        let mut data = body.into_data_stream();
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(body_failed)?;
            if chunk.is_empty() {
                continue;
            }
            if chunked {
                let size = format!("{:x}\r\n", chunk.len());
                self.stream.write_all(size.as_bytes()).await?;
                self.stream.write_all(&chunk).await?;
                self.stream.write_all(b"\r\n").await?;
            } else {
                self.stream.write_all(&chunk).await?;
            }
        }
        if chunked {
            self.stream.write_all(b"0\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Answers a request this server does not take, and ends the connection.
    async fn refuse(&mut self, status: StatusCode) -> io::Result<bool> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        self.head.clear();
        wire::write_response_head(
            &mut self.head,
            status,
            &headers,
            Framing::Length(0),
            true,
            false,
        );
        self.linger = true;
        send_head(&self.stream, &self.head, false).await?;
        Ok(false)
    }
}

async fn read_more(stream: &mut TcpStream, input: &mut BytesMut) -> io::Result<usize> {
    input.reserve(READ_BUFFER_BYTES);
    stream.read_buf(input).await
}

fn body_failed(e: axum::Error) -> io::Error {
    tracing::warn!(error = %e, "a playback body failed mid-stream");
    io::Error::other(e)
}

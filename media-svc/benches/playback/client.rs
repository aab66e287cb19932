//! The load generator's HTTP/1.1 client: one keep-alive connection per
//! simulated player over a raw tokio `TcpStream`, the same code for every
//! server measured, so differences are the servers'. It reads each body into
//! one reusable buffer (discarding it) and notes the time to the first body
//! byte.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Socket reads go into a buffer this large.
const READ_BUFFER: usize = 256 * 1024;

/// What one request brought back.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: u16,
    /// Body bytes received (== Content-Length, or the request failed).
    pub(crate) body_bytes: u64,
    /// From writing the request to the first body byte (to the head for an empty body).
    pub(crate) ttfb: Duration,
    pub(crate) content_range: Option<String>,
    /// Where a redirect sends the request.
    pub(crate) location: Option<String>,
    /// Set only when asked to keep the body.
    pub(crate) body: Option<Vec<u8>>,
}

pub(crate) struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

impl Connection {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: vec![0; READ_BUFFER],
        }
    }

    /// Opens the connection now (so it is not part of a measured request).
    pub(crate) async fn connect(&mut self) -> std::io::Result<()> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        Ok(())
    }

    /// `GET path`, with `Range: bytes=a-b` (inclusive) when given.
    pub(crate) async fn get(
        &mut self,
        path: &str,
        range: Option<(u64, u64)>,
        keep_body: bool,
    ) -> Result<Fetched, String> {
        let result = self.exchange(path, range, keep_body).await;
        if result.is_err() {
            // The connection's state is unknown after a failure.
            self.stream = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        path: &str,
        range: Option<(u64, u64)>,
        keep_body: bool,
    ) -> Result<Fetched, String> {
        self.connect().await.map_err(|e| format!("connect: {e}"))?;
        let stream = self.stream.as_mut().expect("connected");
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some((first, last)) = range {
            request.push_str(&format!("Range: bytes={first}-{last}\r\n"));
        }
        request.push_str("\r\n");
        let started = Instant::now();
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;

        // The head, and whatever body bytes came with it.
        let mut filled = 0;
        let head_len = loop {
            let n = stream
                .read(&mut self.buf[filled..MAX_HEAD])
                .await
                .map_err(|e| format!("read head: {e}"))?;
            if n == 0 {
                return Err("connection closed before the response head".into());
            }
            filled += n;
            if let Some(end) = find_head_end(&self.buf[..filled]) {
                break end;
            }
            if filled == MAX_HEAD {
                return Err("response head too large".into());
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_len]).map_err(|_| "head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.split(' ');
        let version = parts.next().unwrap_or_default();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        let mut content_range = None;
        let mut location = None;
        let mut close = version != "HTTP/1.1";
        for line in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<u64>().ok();
            } else if name.eq_ignore_ascii_case("content-range") {
                content_range = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("location") {
                location = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err("chunked responses are not expected here".into());
            }
        }
        let length = length.ok_or("no Content-Length")?;
        let mut body = keep_body.then(Vec::new);
        let mut received = (filled - head_len) as u64;
        if received > length {
            return Err("more bytes than Content-Length".into());
        }
        if let Some(body) = body.as_mut() {
            body.extend_from_slice(&self.buf[head_len..filled]);
        }
        let mut ttfb = (received > 0 || length == 0).then(|| started.elapsed());
        while received < length {
            let want = usize::try_from(length - received)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            let n = stream
                .read(&mut self.buf[..want])
                .await
                .map_err(|e| format!("read body: {e}"))?;
            if n == 0 {
                return Err(format!("body ended at {received} of {length} bytes"));
            }
            ttfb.get_or_insert_with(|| started.elapsed());
            if let Some(body) = body.as_mut() {
                body.extend_from_slice(&self.buf[..n]);
            }
            received += n as u64;
        }
        if close {
            self.stream = None;
        }
        Ok(Fetched {
            status,
            body_bytes: received,
            ttfb: ttfb.unwrap_or_else(|| started.elapsed()),
            content_range,
            location,
            body,
        })
    }
}

/// One player: a connection to the server measured and, when that server
/// answers with a redirect (`307`) to `store`, a second one there on which
/// the same request is repeated, as a browser's `<audio>` does.
pub(crate) struct Player {
    server: Connection,
    store: Option<(String, Connection)>,
}

impl Player {
    pub(crate) fn new(server: SocketAddr, redirects_to: Option<SocketAddr>) -> Self {
        Self {
            server: Connection::new(server),
            store: redirects_to.map(|addr| (format!("http://{addr}"), Connection::new(addr))),
        }
    }

    /// Opens the connections now (so they are not part of a measured request).
    pub(crate) async fn connect(&mut self) -> std::io::Result<()> {
        self.server.connect().await?;
        if let Some((_, store)) = &mut self.store {
            store.connect().await?;
        }
        Ok(())
    }

    /// `GET path` (see [`Connection::get`]), following one redirect to the
    /// store; the time to first byte is then from the first request.
    pub(crate) async fn get(
        &mut self,
        path: &str,
        range: Option<(u64, u64)>,
        keep_body: bool,
    ) -> Result<Fetched, String> {
        let first = self.server.get(path, range, keep_body).await?;
        let Some((origin, store)) = self.store.as_mut().filter(|_| first.status == 307) else {
            return Ok(first);
        };
        let location = first.location.ok_or("a redirect without Location")?;
        let at = location
            .strip_prefix(origin.as_str())
            .ok_or_else(|| format!("redirected elsewhere: {location}"))?;
        let mut fetched = store.get(at, range, keep_body).await?;
        fetched.ttfb += first.ttfb;
        Ok(fetched)
    }
}

/// A raw request with an empty body and `Connection: close` (setup only, e.g. creating a bucket).
pub(crate) async fn simple(addr: SocketAddr, method: &str, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&raw[..raw.len().min(64)]).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("bad answer {head:?}"))
}

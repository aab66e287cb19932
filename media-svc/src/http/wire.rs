//! HTTP/1.1 message heads on the wire (RFC 9112) for the playback server
//! (see `server`): parsing a request head with `httparse`, deciding how its
//! body is framed and whether the connection stays open, and writing a
//! response head. No I/O here, so every rule is tested on bytes.

use std::{cell::RefCell, time::SystemTime};

use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version, header,
};
use chrono::{DateTime, Utc};

/// The largest message head read (a playback URL with its token is < 3 KiB).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers of one request at most (hyper's default too).
const MAX_HEADERS: usize = 100;

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestBody {
    Length(u64),
    /// `Transfer-Encoding` (chunked): not taken by this server.
    Encoded,
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct RequestHead {
    /// Method, URI, version and headers; the body comes separately.
    pub(crate) request: Request<()>,
    pub(crate) body: RequestBody,
    /// Whether the client allows the connection to stay open after the answer.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue`: the client waits before sending its body.
    pub(crate) expects_continue: bool,
}

/// Why a request head is refused; the connection is closed after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// 400.
    Malformed,
    /// 431: too many headers, or too long a head.
    TooLarge,
}

impl HeadError {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }
}

/// Parses the request head at the start of `buf`: `Ok(None)` while it is
/// incomplete, else the head and its length in bytes.
pub(crate) fn parse_request(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let Some(len) = head_length(parsed.parse(buf), buf.len())? else {
        return Ok(None);
    };
    let method = Method::from_bytes(parsed.method.unwrap_or_default().as_bytes())
        .map_err(|_| HeadError::Malformed)?;
    let uri: Uri = parsed
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| HeadError::Malformed)?;
    let version = version(parsed.version);
    let map = header_map(parsed.headers)?;
    let body = if map.contains_key(header::TRANSFER_ENCODING) {
        RequestBody::Encoded
    } else {
        RequestBody::Length(content_length(&map)?.unwrap_or(0))
    };
    let keep_alive = keep_alive(version, &map);
    let expects_continue = map
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = map;
    let head = RequestHead {
        request,
        body,
        keep_alive,
        expects_continue,
    };
    Ok(Some((head, len)))
}

/// The length of a complete head, `None` while more may come.
fn head_length(
    parsed: httparse::Result<usize>,
    buffered: usize,
) -> Result<Option<usize>, HeadError> {
    match parsed {
        Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
        Ok(httparse::Status::Partial) if buffered >= MAX_HEAD_BYTES => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(_) => Err(HeadError::Malformed),
    }
}

fn version(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    }
}

fn header_map(headers: &[httparse::Header<'_>]) -> Result<HeaderMap, HeadError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HeadError::Malformed)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HeadError::Malformed)?;
        map.append(name, value);
    }
    Ok(map)
}

/// HTTP/1.1 keeps a connection unless `Connection: close`; HTTP/1.0 only
/// with `Connection: keep-alive`.
fn keep_alive(version: Version, headers: &HeaderMap) -> bool {
    match version {
        Version::HTTP_10 => has_token(headers, header::CONNECTION, "keep-alive"),
        _ => !has_token(headers, header::CONNECTION, "close"),
    }
}

/// RFC 9112 §6.3: several `Content-Length`s (or a list) must agree; a
/// transfer coding, checked by the caller, wins over them.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, HeadError> {
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.to_str().map_err(|_| HeadError::Malformed)?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HeadError::Malformed);
            }
            let n: u64 = part.parse().map_err(|_| HeadError::Malformed)?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::Malformed);
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Whether the comma-separated header `name` holds `token` (case-insensitive).
pub(crate) fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// How a response's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body may follow (HEAD, 1xx, 204, 304); headers as the handler set them.
    None,
    Length(u64),
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 without a length).
    UntilClose,
}

/// Whether a response with `status` never has a body (RFC 9110 §6.4.1).
pub(crate) fn bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// The body length a handler declared in `Content-Length`, if valid.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Appends the response head to `out`. Connection management and framing
/// headers are this server's: the handler's are replaced.
pub(crate) fn write_response_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    close: bool,
    http10_keep_alive: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        let framing_header = name == header::CONNECTION
            || name == header::TRANSFER_ENCODING
            || (name == header::CONTENT_LENGTH && framing != Framing::None);
        if !framing_header {
            push_header(out, name.as_str(), value.as_bytes());
        }
    }
    if !headers.contains_key(header::DATE) {
        with_http_date(|date| push_header(out, "date", date.as_bytes()));
    }
    match framing {
        Framing::Length(n) => push_header(out, "content-length", n.to_string().as_bytes()),
        Framing::Chunked => push_header(out, "transfer-encoding", b"chunked"),
        Framing::None | Framing::UntilClose => {}
    }
    if close {
        push_header(out, "connection", b"close");
    } else if http10_keep_alive {
        push_header(out, "connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The `Date` value (IMF-fixdate), formatted once a second per thread.
fn with_http_date<R>(f: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut date = cell.borrow_mut();
        if date.0 != secs {
            let formatted = DateTime::<Utc>::from(now).format("%a, %d %b %Y %H:%M:%S GMT");
            *date = (secs, formatted.to_string());
        }
        f(&date.1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Option<(RequestHead, usize)>, HeadError> {
        parse_request(raw.as_bytes())
    }

    #[test]
    fn a_playback_request_head() {
        let raw = "GET /media/x?token=a.b HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\nNEXT";
        let (head, len) = parse(raw).unwrap().unwrap();
        assert_eq!(&raw[len..], "NEXT");
        assert_eq!(head.request.method(), Method::GET);
        assert_eq!(head.request.uri().path(), "/media/x");
        assert_eq!(head.request.uri().query(), Some("token=a.b"));
        assert_eq!(head.request.headers()["range"], "bytes=0-9");
        assert_eq!(head.body, RequestBody::Length(0));
        assert!(head.keep_alive && !head.expects_continue);
    }

    #[test]
    fn incomplete_malformed_and_oversized_heads() {
        assert!(parse("GET / HTTP/1.1\r\nHost: h\r\n").unwrap().is_none());
        assert!(parse("").unwrap().is_none());
        assert_eq!(
            parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").unwrap_err(),
            HeadError::Malformed
        );
        assert_eq!(
            parse("GET / HTTP/9.1\r\n\r\n").unwrap_err(),
            HeadError::Malformed
        );
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("x{i}: y\r\n"))
            .collect();
        assert_eq!(
            parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")).unwrap_err(),
            HeadError::TooLarge
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(parse(&long).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        let keep = |raw: &str| parse(raw).unwrap().unwrap().0.keep_alive;
        assert!(keep("GET / HTTP/1.1\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.0\r\n\r\n"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn request_bodies() {
        let body = |raw: &str| parse(raw).map(|p| p.unwrap().0.body);
        assert_eq!(
            body("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"),
            Ok(RequestBody::Length(12))
        );
        assert_eq!(
            body("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
            Ok(RequestBody::Length(3))
        );
        assert_eq!(
            body("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(
            body("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(
            body("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
            Ok(RequestBody::Encoded)
        );
        let (head, _) =
            parse("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
                .unwrap()
                .unwrap();
        assert!(head.expects_continue);
    }

    #[test]
    fn response_heads() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        let mut out = Vec::new();
        write_response_head(
            &mut out,
            StatusCode::PARTIAL_CONTENT,
            &headers,
            Framing::Length(10),
            false,
            false,
        );
        let head = String::from_utf8(out).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\ncontent-type: audio/mpeg\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-length: 10\r\n"), "{head}");
        assert!(!head.contains("99") && !head.contains("upgrade"), "{head}");
        assert!(
            head.contains("\r\ndate: ") && head.contains(" GMT\r\n"),
            "{head}"
        );
        assert!(head.ends_with("\r\n\r\n") && !head.contains("connection"));

        let mut out = Vec::new();
        write_response_head(
            &mut out,
            StatusCode::OK,
            &HeaderMap::new(),
            Framing::Chunked,
            true,
            false,
        );
        let head = String::from_utf8(out).unwrap();
        assert!(
            head.contains("\r\ntransfer-encoding: chunked\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");

        // A HEAD answer keeps the length the handler declared.
        let mut out = Vec::new();
        write_response_head(
            &mut out,
            StatusCode::OK,
            &headers,
            Framing::None,
            false,
            true,
        );
        let head = String::from_utf8(out).unwrap();
        assert!(head.contains("\r\ncontent-length: 99\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: keep-alive\r\n"), "{head}");
    }

    #[test]
    fn the_date_is_an_imf_fixdate() {
        let date = with_http_date(str::to_owned);
        assert_eq!(date.len(), "Sun, 06 Nov 1994 08:49:37 GMT".len(), "{date}");
        assert!(DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000")).is_ok());
    }
}

//! Property tests of the playback server's parsers: the request-head parser
//! (`wire`) and the `Range` parser (`range`) never panic on arbitrary bytes,
//! and what we write parses back to what was meant.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use proptest::prelude::*;

use super::{
    range::{Selection, select},
    wire::{Framing, RequestBody, parse_request, write_response_head},
};

/// Enough cases to find a parser's edge, few enough to run in about a second.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// A header value as clients send it: visible ASCII, inner spaces, no
/// leading or trailing whitespace (the parser trims it).
fn header_value() -> impl Strategy<Value = String> {
    "[!-~]([ !-~]{0,30}[!-~])?"
}

/// Method, target, version and extra headers of a request head.
fn request_parts() -> impl Strategy<Value = (Method, String, bool, Vec<(String, String)>)> {
    (
        prop::sample::select(vec![
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::OPTIONS,
        ]),
        "/[a-z0-9._~-]{0,20}(/[a-z0-9]{1,8}){0,3}(\\?[a-z]{1,6}=[A-Za-z0-9.]{0,20})?",
        any::<bool>(),
        prop::collection::vec(("x-[a-z0-9-]{1,12}", header_value()), 0..8),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_heads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_request(&bytes);
    }

    #[test]
    fn a_request_head_we_write_parses_back(
        (method, target, http10, headers) in request_parts(),
        length in prop::option::of(0u64..1 << 40),
        tail in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut raw = format!("{method} {target} HTTP/1.{}\r\n", if http10 { 0 } else { 1 });
        for (name, value) in &headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(n) = length {
            raw.push_str(&format!("Content-Length: {n}\r\n"));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.clone().into_bytes();
        bytes.extend(&tail);

        let (head, len) = parse_request(&bytes).unwrap().unwrap();
        prop_assert_eq!(len, raw.len());
        prop_assert_eq!(head.request.method(), &method);
        prop_assert_eq!(head.request.uri().to_string(), target);
        let version = if http10 { Version::HTTP_10 } else { Version::HTTP_11 };
        prop_assert_eq!(head.request.version(), version);
        prop_assert_eq!(head.keep_alive, !http10);
        prop_assert_eq!(head.body, RequestBody::Length(length.unwrap_or(0)));
        for (name, value) in &headers {
            let values = head.request.headers().get_all(name.as_str());
            prop_assert!(values.iter().any(|v| v == value.as_str()), "{}: {}", name, value);
        }
        // Any shorter prefix is a head still arriving, never an error.
        let cut = len * 7 / 10;
        prop_assert!(parse_request(&bytes[..cut]).unwrap().is_none());
    }

    #[test]
    fn a_response_head_we_write_is_one_http_parsers_read(
        status in 200u16..600,
        headers in prop::collection::vec(("x-[a-z0-9-]{1,12}", header_value()), 0..8),
        length in 0u64..1 << 40,
        close in any::<bool>(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let mut map = HeaderMap::new();
        for (name, value) in &headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut out = Vec::new();
        write_response_head(&mut out, status, &map, Framing::Length(length), close, false);

        let mut parsed_headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut parsed_headers);
        prop_assert_eq!(parsed.parse(&out).unwrap(), httparse::Status::Complete(out.len()));
        prop_assert_eq!(parsed.code, Some(status.as_u16()));
        let got = |name: &str| -> Vec<&[u8]> {
            parsed.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value).collect()
        };
        let length = length.to_string();
        prop_assert_eq!(got("content-length"), vec![length.as_bytes()]);
        prop_assert_eq!(got("connection").is_empty(), !close);
        for (name, value) in &headers {
            prop_assert!(got(name).contains(&value.as_bytes()), "{}: {}", name, value);
        }
    }

    #[test]
    fn range_headers_never_panic_and_stay_inside_the_file(header in ".{0,40}", size in any::<u64>()) {
        if let Selection::Partial(r) = select(Some(&header), size) {
            prop_assert!(r.start < r.end && r.end <= size, "{:?} of {}", r, size);
        }
    }

    #[test]
    fn a_range_we_format_selects_those_bytes(size in 1u64..1 << 40, a in any::<u64>(), b in any::<u64>()) {
        let (first, last) = (a % size, b % size);
        let (first, last) = (first.min(last), first.max(last));
        prop_assert_eq!(select(Some(&format!("bytes={first}-{last}")), size), Selection::Partial(first..last + 1));
        prop_assert_eq!(select(Some(&format!("bytes={first}-")), size), Selection::Partial(first..size));
        let suffix = last + 1;
        prop_assert_eq!(select(Some(&format!("bytes=-{suffix}")), size), Selection::Partial(size - suffix..size));
        // Past the end is unsatisfiable; several ranges are served whole.
        prop_assert_eq!(select(Some(&format!("bytes={size}-")), size), Selection::Unsatisfiable);
        prop_assert_eq!(select(Some(&format!("bytes={first}-{last},0-0")), size), Selection::Whole);
    }
}

//! The raw HTTP/1.1 client of `test-support`, addressed as these tests
//! address media-svc's playback endpoint: a socket address and a path.

use std::net::SocketAddr;

pub use test_support::http::HttpResponse;

/// `method path` on `addr`, exactly as written (malformed headers included).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    test_support::http::request(method, &format!("http://{addr}{path}"), headers).await
}

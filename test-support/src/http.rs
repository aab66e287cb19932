//! A minimal HTTP/1.1 client over a plain TCP stream, enough to check status
//! lines, headers and bodies of the suite's HTTP endpoints exactly as sent.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `method url` with extra headers; `url` is `http://host:port/path?query`.
pub async fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> HttpResponse {
    send(method, url, headers, None).await
}

/// `POST url` with a JSON body.
pub async fn post_json(url: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    send("POST", url, headers, Some(body)).await
}

/// `method url` with extra headers and, when given, a JSON body (a PUT or
/// DELETE with one).
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let text = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = text.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// What [`get_with_a_pause`] saw: the status, the declared length and how
/// many body bytes came in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PausedRead {
    pub status: u16,
    pub length: u64,
    pub received: u64,
}

/// `GET url`, its body read only as far as `first` bytes; then, once
/// `between` has run, to its end (or a generous timeout, which fails the
/// test: the answer hangs). The receive buffer is small, so little is in
/// flight at the pause.
pub async fn get_with_a_pause(
    url: &str,
    first: u64,
    between: impl std::future::Future<Output = ()>,
) -> PausedRead {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let mut stream = socket.connect(host.parse().unwrap()).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = vec![0; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the head");
        raw.extend_from_slice(&buf[..n]);
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("a Content-Length");
    let mut received = (raw.len() - head_end) as u64;
    while received < first {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the body ended before the pause");
        received += n as u64;
    }
    between.await;
    let rest = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut rest = 0;
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return rest,
                Ok(n) => rest += n as u64,
            }
        }
    })
    .await
    .expect("the answer ends");
    PausedRead {
        status,
        length,
        received: received + rest,
    }
}

//! The playback endpoint's own HTTP/1.1 server over the local filesystem
//! store, where bodies go out with sendfile(2): byte-exact whole files and
//! ranges on one keep-alive connection, pipelining, HTTP/1.0, request bodies
//! and malformed requests, a client that leaves mid-body, and shutdown.

#![allow(unused_crate_dependencies)]

mod common;

use std::{net::SocketAddr, time::Duration};

use media_svc::{Config, storage};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use common::{
    fixture,
    server::{Server, config},
};

/// media-svc over the local filesystem store in `dir`.
async fn fs_server(dir: &std::path::Path) -> Server {
    let config = Config {
        media_root: dir.join("media"),
        ..config()
    };
    let objects = storage::open(&config).unwrap();
    Server::start_with(config, objects).await
}

/// One response read off a keep-alive connection, framed by its Content-Length.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A client connection that keeps what it read past one response.
struct Client {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            pending: Vec::new(),
        }
    }

    async fn send(&mut self, raw: &str) {
        self.stream.write_all(raw.as_bytes()).await.unwrap();
    }

    async fn fill(&mut self) -> usize {
        let mut buf = vec![0; 64 * 1024];
        let n = self.stream.read(&mut buf).await.unwrap();
        self.pending.extend_from_slice(&buf[..n]);
        n
    }

    /// Reads one response; `head_only` for answers to HEAD.
    async fn answer(&mut self, head_only: bool) -> Answer {
        let end = loop {
            if let Some(i) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.fill().await > 0, "closed before a response head");
        };
        let head = String::from_utf8(self.pending.drain(..end).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut answer = Answer {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = if head_only {
            0
        } else {
            answer.header("content-length").unwrap().parse().unwrap()
        };
        while self.pending.len() < length {
            assert!(self.fill().await > 0, "closed mid-body");
        }
        answer.body = self.pending.drain(..length).collect();
        answer
    }

    /// Whether the server closed the connection (after what was pending).
    async fn closed(&mut self) -> bool {
        let mut buf = [0; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

fn get(path: &str, range: Option<&str>) -> String {
    let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: media\r\n{range}\r\n")
}

/// About 1.8 MB: several sendfile calls' worth.
fn recording() -> Vec<u8> {
    fixture("tel-8k-cbr16-mono.mp3").repeat(100)
}

#[tokio::test]
async fn local_files_are_sent_byte_exact_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = fs_server(dir.path()).await;
    let bytes = recording();
    let size = bytes.len();
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, chrono::Duration::seconds(60));
    let mut client = Client::connect(server.http).await;

    client.send(&get(&path, None)).await;
    let whole = client.answer(false).await;
    assert_eq!(whole.status, 200, "{}", whole.head);
    assert_eq!(whole.header("content-type"), Some("audio/mpeg"));
    assert!(whole.header("date").is_some());
    assert!(whole.body == bytes, "whole body differs");

    let cases = [
        ("bytes=0-0", 0, 1),
        ("bytes=0-", 0, size),
        ("bytes=1000-70999", 1000, 71_000),
        ("bytes=-500", size - 500, size),
        ("bytes=-99999999", 0, size),
        ("bytes=1799990-", 1_799_990, size),
        ("bytes=1700000-99999999", 1_700_000, size),
    ];
    for (range, start, end) in cases {
        // Twice: the second answer comes from remembered metadata.
        for _ in 0..2 {
            client.send(&get(&path, Some(range))).await;
            let part = client.answer(false).await;
            assert_eq!(part.status, 206, "{range}");
            let want = format!("bytes {start}-{}/{size}", end - 1);
            assert_eq!(part.header("content-range"), Some(want.as_str()), "{range}");
            assert!(part.body == bytes[start..end], "{range}: body differs");
        }
    }

    // Pipelined: three requests in one write, three answers in order.
    let ranges = ["bytes=10-19", "bytes=-3", "bytes=500000-565535"];
    let all: String = ranges.iter().map(|r| get(&path, Some(r))).collect();
    client.send(&all).await;
    for (range, (start, end)) in ranges
        .iter()
        .zip([(10, 20), (size - 3, size), (500_000, 565_536)])
    {
        let part = client.answer(false).await;
        assert!(part.body == bytes[start..end], "pipelined {range}");
    }

    // HEAD: the length of the body, no body; the next answer is framed right.
    client
        .send(&format!("HEAD {path} HTTP/1.1\r\nHost: media\r\n\r\n"))
        .await;
    let head = client.answer(true).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(size.to_string().as_str())
    );
    client.send(&get(&path, Some("bytes=5-9"))).await;
    assert!(client.answer(false).await.body == bytes[5..10]);

    // A 416 and a 403 on the same connection, then audio again.
    client
        .send(&get(&path, Some(&format!("bytes={size}-"))))
        .await;
    let refused = client.answer(false).await;
    assert_eq!(refused.status, 416);
    assert_eq!(
        refused.header("content-range"),
        Some(format!("bytes */{size}").as_str())
    );
    client.send(&get(&format!("/media/{id}"), None)).await;
    assert_eq!(client.answer(false).await.status, 403);
    client.send(&get(&path, Some("bytes=-1"))).await;
    assert!(client.answer(false).await.body == bytes[size - 1..]);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_mid_body_costs_nothing_but_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = fs_server(dir.path()).await;
    // Larger than loopback's socket buffers (4 MiB each way at most), so the
    // server is still sending when the client goes.
    let bytes = fixture("tel-8k-cbr16-mono.mp3").repeat(700);
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, chrono::Duration::seconds(60));

    for _ in 0..3 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(server.http).await.unwrap();
        stream.write_all(get(&path, None).as_bytes()).await.unwrap();
        let mut some = vec![0; 8192];
        stream.read_exact(&mut some).await.unwrap();
        assert!(some.starts_with(b"HTTP/1.1 200 OK\r\n"));
        drop(stream);
    }
    // The server still answers, byte-exact.
    let mut client = Client::connect(server.http).await;
    client.send(&get(&path, None)).await;
    assert!(client.answer(false).await.body == bytes);
    drop(client);
    // And no connection task was left waiting on the ones that left: shutdown waits for all.
    server.stop().await;
}

#[tokio::test]
async fn http_10_and_connection_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = fs_server(dir.path()).await;
    let bytes = fixture("cbr128-44k.mp3");
    let id = server.upload("10009", &bytes).await;
    let path = server.playback_path("10009", &id, chrono::Duration::seconds(60));

    let mut client = Client::connect(server.http).await;
    client
        .send(&format!(
            "GET {path} HTTP/1.0\r\nConnection: keep-alive\r\nRange: bytes=0-99\r\n\r\n"
        ))
        .await;
    let kept = client.answer(false).await;
    assert_eq!(kept.header("connection"), Some("keep-alive"));
    assert!(kept.body == bytes[..100]);
    client.send(&format!("GET {path} HTTP/1.0\r\n\r\n")).await;
    let last = client.answer(false).await;
    assert!(last.body == bytes);
    assert_eq!(last.header("connection"), Some("close"));
    assert!(client.closed().await);

    let mut client = Client::connect(server.http).await;
    client
        .send(&format!(
            "GET {path} HTTP/1.1\r\nConnection: close\r\nRange: bytes=-10\r\n\r\n"
        ))
        .await;
    assert!(client.answer(false).await.body == bytes[bytes.len() - 10..]);
    assert!(client.closed().await);
    server.stop().await;
}

#[tokio::test]
async fn request_bodies_and_malformed_requests() {
    let server = Server::start(config()).await;
    let mut client = Client::connect(server.http).await;
    // A body with a length is read (405: the route takes GET/HEAD), and the
    // connection goes on with the request after it.
    client
        .send(
            "POST /media/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /nowhere HTTP/1.1\r\n\r\n",
        )
        .await;
    assert_eq!(client.answer(false).await.status, 405);
    assert_eq!(client.answer(false).await.status, 404);
    // Expect: 100-continue is answered before the body is sent.
    client
        .send("PUT /media/x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        .await;
    let interim = client.answer(true).await;
    assert_eq!(interim.status, 100);
    client.send("abc").await;
    assert_eq!(client.answer(false).await.status, 405);

    for (raw, status) in [
        (
            "POST /media/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            411,
        ),
        (
            "POST /media/x HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n",
            413,
        ),
        ("GET /media/x HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        ("GET /a b c HTTP/1.1\r\n\r\n", 400),
        ("\u{1}\u{2}\u{3}\r\n\r\n", 400),
    ] {
        let mut client = Client::connect(server.http).await;
        client.send(raw).await;
        let refused = client.answer(false).await;
        assert_eq!(refused.status, status, "{raw:?}");
        assert_eq!(refused.header("connection"), Some("close"), "{raw:?}");
        assert!(client.closed().await, "{raw:?}");
    }
    let mut client = Client::connect(server.http).await;
    client
        .send(&format!("GET /{} HTTP/1.1\r\n", "a".repeat(70_000)))
        .await;
    assert_eq!(client.answer(false).await.status, 431);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections() {
    let server = Server::start(config()).await;
    let mut client = Client::connect(server.http).await;
    client.send("GET /nowhere HTTP/1.1\r\n\r\n").await;
    assert_eq!(client.answer(false).await.status, 404);
    // The connection is idle and open; stopping must not wait for it.
    let started = std::time::Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(client.closed().await);
}

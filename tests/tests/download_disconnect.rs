//! A client that drops a zip download stops the gateway's work. A gateway
//! reaches media-svc through a TCP proxy that counts the bytes media-svc
//! sends; media-svc's open recording files are counted in this process's
//! file descriptors (the suite runs here). After a client reads a little of
//! a ~100 MB export and hangs up, the bytes from media-svc stop well short of
//! the export and no recording file stays open — where a gateway that only
//! stalled would keep an upstream read (and its file) open forever.

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use archive_common::shutdown::CancellationToken;
use archive_proto::v1 as pb;
use common::{authed, client_at, extra_gateway, recordings, start_suite};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A loopback proxy to `upstream`; counts the bytes upstream sends back.
async fn counting_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = server.set_nodelay(true);
                let _ = client.set_nodelay(true);
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let to_server = tokio::io::copy(&mut client_read, &mut server_write);
                let to_client = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = server_read.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<_, std::io::Error>(());
                        }
                        counter.fetch_add(n as u64, Ordering::SeqCst);
                        client_write.write_all(&buf[..n]).await?;
                    }
                };
                let _ = tokio::join!(to_server, to_client);
            });
        }
    });
    (addr, served)
}

/// Recording files this process (media-svc, in the suite) holds open.
fn open_media_files(media_dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(media_dir))
        .count()
}

/// Waits until the proxy's count has not moved for a second; the count.
async fn settled(served: &AtomicU64) -> u64 {
    let mut last = served.load(Ordering::SeqCst);
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = served.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("media-svc kept sending");
}

/// Sends `GET url`; returns the stream after the status line and headers,
/// and the body bytes that came with them.
async fn get(url: &str) -> (TcpStream, u64) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the gateway closed before its headers");
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(
                head.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&head[..end])
            );
            return (stream, (head.len() - end - 4) as u64);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_download_stops_reading_media() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let media_dir = data.path().join("media").canonicalize().unwrap();
    let (proxy, served) = counting_proxy(suite.endpoints.media).await;
    let stop = CancellationToken::new();
    let gw =
        extra_gateway::start(&suite, None, Some(format!("http://{proxy}")), stop.clone()).await;

    // 16 recordings of 6 MB: far more than socket buffers and HTTP/2 windows hold.
    let secret = &suite.keys;
    let archive_url = format!("http://{}", suite.endpoints.archive);
    let media_url = format!("http://{}", suite.endpoints.media);
    let ids = recordings::ingest_recorded_calls(&archive_url, secret, "drop", "4791", 16).await;
    let mp3 = recordings::mp3_of(6_000_000);
    for id in &ids {
        recordings::upload(&media_url, secret, id, &mp3).await;
    }
    let export = client_at(gw.grpc)
        .await
        .create_export(authed(
            &suite,
            "paal",
            pb::CreateExportRequest {
                case_id: Default::default(),
                reason_code: Default::default(),
                request_id: Default::default(),
                recording_ids: ids.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let payload = (mp3.len() * ids.len()) as u64;
    assert!(export.size_bytes > payload);

    // Read a little, then hang up.
    let before = settled(&served).await;
    let (mut stream, mut body) = get(&export.download_url).await;
    let mut buf = vec![0u8; 16 * 1024];
    while body < 256 * 1024 {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        body += n as u64;
    }
    drop(stream);
    let after = settled(&served).await - before;
    println!(
        "media-svc sent {after} bytes of a {} byte export before the gateway stopped",
        export.size_bytes
    );
    assert!(
        after < payload / 3,
        "media-svc sent {after} of {payload} bytes after the client left"
    );
    let mut open = usize::MAX;
    for _ in 0..50 {
        open = open_media_files(&media_dir);
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "no upstream read is left open");

    // The same download read to its end moves every recording's bytes,
    // so the count above measured the work, not an idle proxy.
    let (mut stream, mut body) = get(&export.download_url).await;
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        body += n as u64;
    }
    assert_eq!(body, export.size_bytes);
    let whole = settled(&served).await - before - after;
    assert!(
        whole >= payload,
        "a whole download moves every byte ({whole} < {payload})"
    );

    stop.cancel();
    suite.stop().await.unwrap();
}

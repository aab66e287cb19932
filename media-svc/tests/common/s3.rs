//! A real S3-compatible server on loopback for the S3 half of the suites:
//! `moto_server` (PyPI `moto[server]`) started per test on a free port, or an
//! already running server named by `ARCHIVE_TEST_S3_ENDPOINT`. Without one the
//! S3 tests are skipped with a message, unless `ARCHIVE_REQUIRE_S3=1` (CI).

use std::{
    net::{SocketAddr, ToSocketAddrs},
    process::{Child, Command, Stdio},
    time::Duration,
};

use media_svc::{Config, S3Config, S3Playback, StoreKind, storage};

use super::{Backend, http_client::send};

pub const REQUIRE_S3_ENV: &str = "ARCHIVE_REQUIRE_S3";
pub const ENDPOINT_ENV: &str = "ARCHIVE_TEST_S3_ENDPOINT";

pub struct S3Server {
    child: Option<Child>,
    pub endpoint: String,
    pub bucket: String,
}

fn skip(reason: String) -> Option<S3Server> {
    if std::env::var(REQUIRE_S3_ENV).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_S3_ENV}=1 but no S3-compatible server: {reason}");
    }
    eprintln!("S3 half SKIPPED: {reason} (install with `pip install 'moto[server]'`)");
    None
}

/// The address of `http://host:port`.
pub fn address(endpoint: &str) -> SocketAddr {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    host.to_socket_addrs().unwrap().next().unwrap()
}

impl S3Server {
    pub async fn start_or_skip() -> Option<Self> {
        let (child, endpoint) = match std::env::var(ENDPOINT_ENV) {
            Ok(endpoint) => (None, endpoint),
            Err(_) => {
                let port = {
                    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    l.local_addr().unwrap().port()
                };
                let spawned = Command::new("moto_server")
                    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                match spawned {
                    Ok(child) => (Some(child), format!("http://127.0.0.1:{port}")),
                    Err(e) => return skip(format!("cannot start moto_server: {e}")),
                }
            }
        };
        let mut server = Self {
            child,
            endpoint,
            bucket: format!("media-{}", uuid::Uuid::new_v4().simple()),
        };
        let addr = address(&server.endpoint);
        let mut up = false;
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !up {
            return skip(format!("nothing answers at {}", server.endpoint));
        }
        // moto takes unsigned requests; creating the bucket needs no SDK.
        let created = send(
            addr,
            "PUT",
            &format!("/{}", server.bucket),
            &[("Content-Length", "0")],
        )
        .await;
        assert_eq!(
            created.status,
            200,
            "create bucket: {}",
            String::from_utf8_lossy(&created.body)
        );
        server.child = server.child.take();
        Some(server)
    }

    pub fn s3_config(&self) -> S3Config {
        S3Config {
            bucket: Some(self.bucket.clone()),
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            path_style: true,
            allow_http: true,
            playback: S3Playback::Stream,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            session_token: None,
            // The command line's timeouts: the outage tests hold them to
            // their promise.
            ..S3Config::default()
        }
    }

    /// Sends `signal` (`-STOP`, `-CONT`, `-KILL`) to the moto_server this
    /// started; `false` when the server is not one this started.
    pub fn signal(&self, signal: &str) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {signal}");
        true
    }

    /// A media-svc config with this server as its store.
    pub fn config(&self, base: Config) -> Config {
        Config {
            store: StoreKind::S3,
            s3: self.s3_config(),
            ..base
        }
    }

    pub fn backend(&self) -> Backend {
        let config = self.config(Config::new(
            "./unused",
            super::unused_identity(),
            "playback",
        ));
        Backend {
            name: "s3".into(),
            objects: storage::open(&config).expect("open the S3 store"),
            raw_files: Box::new(Vec::new),
            part_bytes: storage::S3_MIN_PART_BYTES,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

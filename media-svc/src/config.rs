//! media-svc's configuration: command-line flags with environment fallbacks.
//! The gateway's embedded mode builds it in code (see [`Config::new`]).

use archive_common::identity::IdentityConfig;
use std::{net::SocketAddr, path::PathBuf};

/// Where recordings are kept.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A directory on the local filesystem (`media_root`), the embedded default.
    Fs,
    /// Process memory: lost on exit. For tests and demos.
    Memory,
    /// An S3-compatible object store (the `s3_*` settings).
    S3,
}

/// How playback GETs of recordings on S3 are answered.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum S3Playback {
    /// media-svc sends the bytes, streamed through object_store's client as
    /// they arrive (a ranged GET). `relay`, the name of a former private S3
    /// client's mode, means the same: that client measured no faster.
    #[default]
    #[value(alias = "relay")]
    Stream,
    /// After the token check, `307` to a URL presigned for the audio object
    /// (valid while the token is, at most 60 s): the player fetches the
    /// bytes from the store itself, which must be reachable by players. A
    /// URL handed out keeps working until it expires or the object is gone,
    /// whatever is deleted or revoked meanwhile.
    Redirect,
}

#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "media-svc",
    about = "Recording bytes: MP3 validation, object storage, streaming"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "MEDIA_LISTEN", default_value = "127.0.0.1:50052")]
    pub listen: SocketAddr,

    /// Address the HTTP playback endpoint listens on.
    #[arg(long, env = "MEDIA_HTTP_LISTEN", default_value = "127.0.0.1:8082")]
    pub http_listen: SocketAddr,

    /// Prometheus metrics (`GET /metrics`), on a port apart from the API's.
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9092")]
    pub metrics_listen: SocketAddr,

    /// This service's key and the suite's trust file.
    #[command(flatten)]
    pub identity: IdentityConfig,

    /// HMAC key of playback tokens; the gateway mints them with the same key.
    #[arg(long, env = "ARCHIVE_PLAYBACK_KEY", hide_env_values = true)]
    pub playback_key: String,

    /// Which object store holds the recordings.
    #[arg(long, env = "MEDIA_STORE", value_enum, default_value = "fs")]
    pub store: StoreKind,

    /// Directory of the `fs` store (created if missing).
    #[arg(long, env = "MEDIA_ROOT", default_value = "./media")]
    pub media_root: PathBuf,

    /// Largest accepted upload, in bytes.
    #[arg(long, env = "MEDIA_MAX_UPLOAD_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// Size of the parts of a multipart upload: the memory one upload holds.
    /// S3 requires at least 5 MiB for all parts but the last.
    #[arg(long, env = "MEDIA_UPLOAD_PART_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub upload_part_bytes: usize,

    /// A recording file without metadata older than this is the leftover of a
    /// crashed upload and may be replaced; younger, it is an upload in progress.
    #[arg(long, env = "MEDIA_STALE_UPLOAD_SECS", default_value_t = 300)]
    pub stale_upload_secs: u64,

    /// Origin allowed to fetch recordings cross-origin (the gateway's web page),
    /// e.g. `https://archive.example.com`. Unset: no CORS headers.
    #[arg(long, env = "MEDIA_CORS_ORIGIN")]
    pub cors_origin: Option<String>,

    /// Upper bound of `Cache-Control: private, max-age` on playback responses;
    /// never beyond the token's own expiry.
    #[arg(long, env = "MEDIA_CACHE_MAX_AGE_SECS", default_value_t = 300)]
    pub cache_max_age_secs: u64,
    /// audit-svc's URL (`http://host:port`): stored and deleted files are
    /// recorded there, and an upload or delete is answered only once it is.
    /// Unset: not recorded.
    #[arg(long, env = "MEDIA_AUDIT_URL")]
    pub audit_url: Option<String>,
    /// archive-svc's gRPC URL (`http://host:port`). Each stored upload is
    /// reported there (its recording turns playable) before the upload is
    /// answered; an upload of a recording the archive does not have is
    /// refused and its file removed. And the recording files queued for
    /// deletion are listed there: media-svc serves no recording after a
    /// start until it has read that list and made every recording on it
    /// unservable (readiness stays NOT_SERVING, playback answers 503
    /// meanwhile), and reads it again every `--pending-deletions-interval-secs`.
    /// Unset: uploads are not reported (recordings stay "not available yet"),
    /// and a recording deleted while media-svc was down plays until
    /// archive-svc's outbox reaches it.
    #[arg(long, env = "MEDIA_ARCHIVE_URL")]
    pub archive_url: Option<String>,

    /// Seconds between two reads of archive-svc's pending deletions after
    /// the first (with `--archive-url`).
    #[arg(
        long,
        env = "MEDIA_PENDING_DELETIONS_INTERVAL_SECS",
        default_value_t = 30
    )]
    pub pending_deletions_interval_secs: u64,

    #[command(flatten)]
    pub s3: S3Config,
}

/// The S3-compatible store. Credentials come from the environment: the
/// standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
/// when set, otherwise the rest of the AWS chain (web identity, instance metadata).
#[derive(clap::Args, Debug, Clone)]
pub struct S3Config {
    /// Bucket holding the recordings.
    #[arg(long = "s3-bucket", env = "MEDIA_S3_BUCKET")]
    pub bucket: Option<String>,

    /// Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`; unset for AWS.
    #[arg(long = "s3-endpoint", env = "MEDIA_S3_ENDPOINT")]
    pub endpoint: Option<String>,

    #[arg(
        long = "s3-region",
        env = "MEDIA_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint`.
    #[arg(long = "s3-path-style", env = "MEDIA_S3_PATH_STYLE")]
    pub path_style: bool,

    /// Allow a plain-HTTP endpoint (loopback test servers).
    #[arg(long = "s3-allow-http", env = "MEDIA_S3_ALLOW_HTTP")]
    pub allow_http: bool,

    /// How a playback GET's bytes reach the player.
    #[arg(
        long = "s3-playback",
        env = "MEDIA_S3_PLAYBACK",
        value_enum,
        default_value = "stream"
    )]
    pub playback: S3Playback,

    /// Longest wait for a connection to the store.
    #[arg(
        long = "s3-connect-timeout-secs",
        env = "MEDIA_S3_CONNECT_TIMEOUT_SECS",
        default_value_t = 2
    )]
    pub connect_timeout_secs: u64,

    /// Longest wait for the store's answer to start (request sent, upload
    /// parts included), and then for each next piece of its body: a hung
    /// store fails a request after this, however long the body would run.
    #[arg(
        long = "s3-read-timeout-secs",
        env = "MEDIA_S3_READ_TIMEOUT_SECS",
        default_value_t = 4
    )]
    pub read_timeout_secs: u64,

    /// Limit of one whole request, body included; 0 (the default): none, so
    /// a long download is not cut (the read timeout still ends a stall).
    #[arg(
        long = "s3-timeout-secs",
        env = "MEDIA_S3_TIMEOUT_SECS",
        default_value_t = 0
    )]
    pub timeout_secs: u64,

    /// Retries of a failed request (with backoff) before giving up.
    #[arg(
        long = "s3-max-retries",
        env = "MEDIA_S3_MAX_RETRIES",
        default_value_t = 2
    )]
    pub max_retries: usize,

    /// No retry starts later than this after a request's first attempt: with
    /// the read timeout, what bounds how long a hung store holds a request.
    #[arg(
        long = "s3-retry-timeout-secs",
        env = "MEDIA_S3_RETRY_TIMEOUT_SECS",
        default_value_t = 6
    )]
    pub retry_timeout_secs: u64,

    #[arg(
        long = "s3-access-key-id",
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    pub access_key_id: Option<String>,

    #[arg(
        long = "s3-secret-access-key",
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,

    #[arg(
        long = "s3-session-token",
        env = "AWS_SESSION_TOKEN",
        hide_env_values = true
    )]
    pub session_token: Option<String>,
}

/// The command line's defaults, for building a config in code.
impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: None,
            endpoint: None,
            region: "us-east-1".into(),
            path_style: false,
            allow_http: false,
            playback: S3Playback::Stream,
            connect_timeout_secs: 2,
            read_timeout_secs: 4,
            timeout_secs: 0,
            max_retries: 2,
            retry_timeout_secs: 6,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
        }
    }
}

impl Config {
    /// The defaults with a filesystem store under `media_root`, for building a config in code.
    pub fn new(
        media_root: impl Into<PathBuf>,
        identity: IdentityConfig,
        playback_key: impl Into<String>,
    ) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50052)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            identity,
            playback_key: playback_key.into(),
            store: StoreKind::Fs,
            media_root: media_root.into(),
            max_upload_bytes: 512 * 1024 * 1024,
            upload_part_bytes: 5 * 1024 * 1024,
            stale_upload_secs: 300,
            cors_origin: None,
            cache_max_age_secs: 300,
            audit_url: None,
            archive_url: None,
            pending_deletions_interval_secs: 30,
            s3: S3Config::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn flags_parse_with_defaults() {
        let c = Config::try_parse_from([
            "media-svc",
            "--identity-key-file",
            "k.pem",
            "--trust-file",
            "t.json",
            "--playback-key",
            "k",
        ])
        .unwrap();
        let identity = IdentityConfig::new("k.pem", "t.json");
        assert_eq!(c.identity, identity);
        assert_eq!(c.listen.port(), 50052);
        assert_eq!(c.http_listen.port(), 8082);
        assert_eq!(c.store, StoreKind::Fs);
        assert_eq!(c.max_upload_bytes, 512 * 1024 * 1024);
        let built = Config::new("./media", identity, "k");
        assert_eq!(built.media_root, c.media_root);
        assert_eq!(built.s3.region, c.s3.region);
        assert_eq!(built.s3.max_retries, c.s3.max_retries);
        assert_eq!(built.s3.timeout_secs, c.s3.timeout_secs);
        assert_eq!(built.s3.connect_timeout_secs, c.s3.connect_timeout_secs);
        assert_eq!(built.s3.read_timeout_secs, c.s3.read_timeout_secs);
        assert_eq!(built.s3.retry_timeout_secs, c.s3.retry_timeout_secs);
        // A hung store fails a request within ~10 s: the last retry starts
        // before the retry timeout and waits at most the read timeout.
        assert!(c.s3.retry_timeout_secs + c.s3.read_timeout_secs <= 10);
        assert_eq!(c.s3.playback, S3Playback::Stream);
        assert_eq!(built.s3.playback, S3Playback::Stream);
        assert_eq!(c.archive_url, None);
        assert_eq!(
            built.pending_deletions_interval_secs,
            c.pending_deletions_interval_secs
        );
    }

    #[test]
    fn s3_playback_is_one_of_three() {
        let parse = |mode: &str| {
            Config::try_parse_from([
                "media-svc",
                "--identity-key-file",
                "k.pem",
                "--trust-file",
                "t.json",
                "--playback-key",
                "k",
                "--s3-playback",
                mode,
            ])
            .map(|c| c.s3.playback)
        };
        assert_eq!(parse("redirect").unwrap(), S3Playback::Redirect);
        assert_eq!(parse("stream").unwrap(), S3Playback::Stream);
        assert_eq!(parse("relay").unwrap(), S3Playback::Stream);
        let refused = parse("proxy").unwrap_err().to_string();
        assert!(refused.contains("--s3-playback"), "{refused}");
    }
}

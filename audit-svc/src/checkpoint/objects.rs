//! Where checkpoints are kept: a local directory or (feature `s3`) an S3
//! bucket, as `checkpoints/<tenant, url-safe>/<sequence, 20 digits>.json`
//! under the configured location. Names sort by sequence, so the newest is
//! the last listed; writes never replace an object (create-only), so two
//! replicas signing the same head leave the first one's checkpoint.
//!
//! In S3 the bucket should have Object Lock with a default retention (every
//! object is then locked with no extra request headers) and its own
//! credentials, not the database's: whoever can rewrite the trail must not
//! be able to rewrite or delete its checkpoints.

use std::sync::Arc;

use object_store::{
    ObjectStore, PutMode, PutPayload, local::LocalFileSystem, path::Path as ObjectPath,
};
use tokio_stream::StreamExt;

use super::config::S3Options;
use crate::Error;

#[derive(Clone)]
pub struct CheckpointStore {
    objects: Arc<dyn ObjectStore>,
    /// `<prefix>/checkpoints`.
    root: ObjectPath,
    /// The configured location, for logs and messages.
    location: String,
}

impl std::fmt::Debug for CheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointStore")
            .field("location", &self.location)
            .finish()
    }
}

impl CheckpointStore {
    /// `location`: a directory (a path or `file://…`, created if missing) or
    /// `s3://bucket/prefix` (feature `s3`).
    pub fn open(location: &str, s3: &S3Options) -> Result<Self, Error> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            return open_s3(location, bucket, prefix, s3);
        }
        let dir = location.strip_prefix("file://").unwrap_or(location);
        if dir.is_empty() || location.contains("://") && !location.starts_with("file://") {
            return Err(Error::Checkpoints(format!(
                "checkpoint store {location:?}: use a directory, file:///dir or s3://bucket/prefix"
            )));
        }
        Self::local(std::path::Path::new(dir))
    }

    /// A local directory (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Checkpoints(format!("checkpoint store {}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self::with(Arc::new(fs), "", dir.display().to_string()))
    }

    /// Any object store, checkpoints under `prefix` (tests, other backends).
    pub fn with(objects: Arc<dyn ObjectStore>, prefix: &str, location: String) -> Self {
        let mut root = ObjectPath::from(prefix);
        root = root.child("checkpoints");
        Self {
            objects,
            root,
            location,
        }
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn dir(&self, tenant: &str) -> ObjectPath {
        self.root.child(tenant_segment(tenant))
    }

    fn path(&self, tenant: &str, sequence: u64) -> ObjectPath {
        self.dir(tenant).child(format!("{sequence:020}.json"))
    }

    /// The sequences of `tenant`'s checkpoints, ascending; with `after`,
    /// only those after it (listing from there, not from the start).
    pub async fn list(&self, tenant: &str, after: Option<u64>) -> Result<Vec<u64>, Error> {
        let dir = self.dir(tenant);
        let mut listing = match after {
            Some(after) => self
                .objects
                .list_with_offset(Some(&dir), &self.path(tenant, after)),
            None => self.objects.list(Some(&dir)),
        };
        let mut sequences = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            // Only `<dir>/<20 digits>.json`: nothing nested, nothing else.
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let parsed = name
                .strip_suffix(".json")
                .filter(|digits| digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u64>().ok());
            if let Some(sequence) = parsed
                && meta.location == dir.child(name)
                && after.is_none_or(|after| sequence > after)
            {
                sequences.push(sequence);
            }
        }
        sequences.sort_unstable();
        Ok(sequences)
    }

    /// The stored bytes of checkpoint `sequence`, `None` if there is none.
    pub async fn get(&self, tenant: &str, sequence: u64) -> Result<Option<Vec<u8>>, Error> {
        match self.objects.get(&self.path(tenant, sequence)).await {
            Ok(result) => Ok(Some(result.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes checkpoint `sequence` unless one is there; answers whether it
    /// was written (false: another writer was first, which is harmless).
    pub async fn put(&self, tenant: &str, sequence: u64, line: String) -> Result<bool, Error> {
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        let path = self.path(tenant, sequence);
        match self
            .objects
            .put_opts(&path, PutPayload::from(bytes), PutMode::Create.into())
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// `tenant` as one path segment that is the same in a URL, on S3 and on any
/// filesystem: ASCII letters, digits and `-` are kept, every other byte is
/// `_` and two upper-case hex digits (`_` itself too, so no two tenants
/// share a segment). Tenant `10009` is `10009`; `a.b` is `a_2Eb`.
pub fn tenant_segment(tenant: &str) -> String {
    let mut out = String::with_capacity(tenant.len());
    for b in tenant.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    if out.is_empty() {
        // An empty tenant never has a trail; keep the segment non-empty anyway.
        out.push('_');
    }
    out
}

#[cfg(feature = "s3")]
fn open_s3(
    location: &str,
    bucket: &str,
    prefix: &str,
    options: &S3Options,
) -> Result<CheckpointStore, Error> {
    use std::time::Duration;

    use object_store::{
        BackoffConfig, ClientOptions, RetryConfig,
        aws::{AmazonS3Builder, Checksum, S3ConditionalPut},
    };

    if bucket.is_empty() {
        return Err(Error::Checkpoints(format!(
            "checkpoint store {location:?}: no bucket"
        )));
    }
    let timeout = Duration::from_secs(30);
    // Credentials, region and the rest from the standard AWS_* variables.
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_virtual_hosted_style_request(!options.path_style)
        .with_allow_http(options.allow_http)
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(options.allow_http)
                .with_timeout(timeout)
                .with_connect_timeout(Duration::from_secs(5)),
        )
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: timeout * 4,
        })
        // Create-only writes (If-None-Match: *): a checkpoint is never replaced.
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        // A bucket with Object Lock requires an integrity checksum on every PUT.
        .with_checksum_algorithm(Checksum::SHA256);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&options.access_key_id, &options.secret_access_key) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = &options.session_token {
            builder = builder.with_token(token);
        }
    }
    let s3 = builder.build()?;
    Ok(CheckpointStore::with(
        Arc::new(s3),
        prefix.trim_matches('/'),
        location.to_owned(),
    ))
}

#[cfg(not(feature = "s3"))]
fn open_s3(location: &str, _: &str, _: &str, _: &S3Options) -> Result<CheckpointStore, Error> {
    Err(Error::Checkpoints(format!(
        "checkpoint store {location:?}: this build has no S3 support (cargo feature `s3`)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_segments_are_url_safe_and_distinct() {
        assert_eq!(tenant_segment("10009"), "10009");
        assert_eq!(tenant_segment("acme-EU"), "acme-EU");
        assert_eq!(tenant_segment("a.b"), "a_2Eb");
        assert_eq!(tenant_segment("a_2Eb"), "a_5F2Eb");
        assert_eq!(tenant_segment(".."), "_2E_2E");
        assert_eq!(tenant_segment("ø/x"), "_C3_B8_2Fx");
        assert_eq!(tenant_segment(""), "_");
    }

    #[tokio::test]
    async fn a_directory_keeps_checkpoints_by_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(
            &format!("file://{}", dir.path().display()),
            &S3Options::default(),
        )
        .unwrap();
        assert!(store.list("10009", None).await.unwrap().is_empty());
        assert!(store.get("10009", 5).await.unwrap().is_none());
        for sequence in [12, 5, 100] {
            assert!(
                store
                    .put("10009", sequence, format!("line {sequence}"))
                    .await
                    .unwrap()
            );
        }
        assert!(store.put("a.b", 1, "other".into()).await.unwrap());
        // Create-only: the first write stays.
        assert!(!store.put("10009", 12, "again".into()).await.unwrap());
        assert_eq!(store.get("10009", 12).await.unwrap().unwrap(), b"line 12\n");
        assert_eq!(store.list("10009", None).await.unwrap(), [5, 12, 100]);
        assert_eq!(store.list("10009", Some(5)).await.unwrap(), [12, 100]);
        assert_eq!(
            store.list("10009", Some(100)).await.unwrap(),
            [] as [u64; 0]
        );
        assert_eq!(store.list("a.b", None).await.unwrap(), [1]);
        // Other files in the directory are not checkpoints.
        let tenant_dir = dir.path().join("checkpoints/10009");
        std::fs::write(tenant_dir.join("notes.txt"), "x").unwrap();
        std::fs::write(tenant_dir.join("7.json"), "x").unwrap();
        assert_eq!(store.list("10009", None).await.unwrap(), [5, 12, 100]);
        assert!(tenant_dir.join("00000000000000000012.json").exists());
        assert!(CheckpointStore::open("http://x", &S3Options::default()).is_err());
    }
}

//! Recordings in an object store (local filesystem, memory or S3 — anything
//! `object_store` speaks): metadata look-ups, uploads, ranged reads and
//! deletes, always by the keys of [`RecordingKeys`].

mod backend;
mod upload;

use std::{ops::Range, sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use object_store::{GetOptions, GetRange, ObjectStore, path::Path};

pub use backend::open;
pub use upload::{Upload, Uploaded};

use crate::{Config, Error, StoreKind, info::MediaInfo, keys::RecordingKeys};

/// The smallest part S3 accepts in a multipart upload (but for the last).
pub const S3_MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// Bounds on uploads.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_upload_bytes: u64,
    pub part_bytes: usize,
    /// See [`Config::stale_upload_secs`].
    pub stale_after: Duration,
}

impl UploadLimits {
    pub fn from_config(config: &Config) -> Self {
        let min_part = match config.store {
            // S3 refuses smaller parts (all but the last).
            StoreKind::S3 => S3_MIN_PART_BYTES,
            StoreKind::Fs | StoreKind::Memory => 1,
        };
        Self {
            max_upload_bytes: config.max_upload_bytes,
            part_bytes: config.upload_part_bytes.max(min_part),
            stale_after: Duration::from_secs(config.stale_upload_secs),
        }
    }
}

/// The recordings of every tenant in one object store.
#[derive(Clone)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
    limits: UploadLimits,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore")
            .field("objects", &self.objects.to_string())
            .field("limits", &self.limits)
            .finish()
    }
}

/// A byte stream of a recording; errors are store failures mid-stream.
pub type ByteStream = BoxStream<'static, Result<Bytes, Error>>;

impl MediaStore {
    pub fn new(objects: Arc<dyn ObjectStore>, limits: UploadLimits) -> Self {
        Self { objects, limits }
    }

    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// The recording's metadata, `None` when it does not exist (or is not complete).
    pub async fn info(&self, keys: &RecordingKeys) -> Result<Option<MediaInfo>, Error> {
        let bytes = match self.objects.get(&keys.sidecar).await {
            Ok(found) => found.bytes().await,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bytes = match bytes {
            Ok(b) => b,
            // Deleted between the request and the read.
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        MediaInfo::from_json(&bytes)
            .map(Some)
            .map_err(|e| Error::CorruptSidecar {
                id: keys.id().to_string(),
                reason: e.to_string(),
            })
    }

    /// The recording's metadata, or NOT_FOUND.
    pub async fn require_info(&self, keys: &RecordingKeys) -> Result<MediaInfo, Error> {
        self.info(keys)
            .await?
            .ok_or_else(|| Error::NotFound(keys.id().to_string()))
    }

    /// Starts an upload; see [`Upload`].
    pub async fn begin_upload(&self, keys: RecordingKeys) -> Result<Upload, Error> {
        Upload::begin(self.clone(), keys).await
    }

    /// Streams `range` (already checked against the recording's size) of the file.
    pub async fn read(&self, keys: &RecordingKeys, range: Range<u64>) -> Result<ByteStream, Error> {
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        match self.objects.get_opts(&keys.audio, options).await {
            Ok(found) => Ok(found.into_stream().map(|r| r.map_err(Error::from)).boxed()),
            Err(object_store::Error::NotFound { .. }) => {
                Err(Error::NotFound(keys.id().to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the recording: metadata first, so it is invisible at once and a
    /// crash in between leaves only an invisible file that the next delete or
    /// upload clears. Returns whether there was anything to delete.
    pub async fn delete(&self, keys: &RecordingKeys) -> Result<bool, Error> {
        let had_info = self.remove(&keys.sidecar).await?;
        let had_audio = self.remove(&keys.audio).await?;
        Ok(had_info || had_audio)
    }

    async fn remove(&self, path: &Path) -> Result<bool, Error> {
        // Stores differ on deleting a missing object (S3 says nothing), so ask first.
        match self.objects.head(path).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        match self.objects.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the store answers (for readiness).
    pub async fn ping(&self) -> Result<(), Error> {
        match self.objects.head(&Path::from("health/ping")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

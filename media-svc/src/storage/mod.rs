//! Recordings in an object store (local filesystem, memory or S3 — anything
//! `object_store` speaks): metadata look-ups, uploads, ranged reads and
//! deletes, always by the keys of [`RecordingKeys`].

mod backend;
mod buffers;
mod file_read;
mod info_cache;
mod local;
mod open_files;
#[cfg(test)]
mod playback_tests;
#[cfg(feature = "s3")]
mod s3_http;
mod upload;

use std::{ops::Range, sync::Arc, time::Duration};

use archive_common::{Clock, SystemClock};
use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, path::Path};

pub use backend::open;
#[cfg(feature = "s3")]
pub use backend::redirect;
pub use file_read::{FILE_PIECE_BYTES, FileRange};
pub use info_cache::{INFO_CACHE_ENTRIES, INFO_TTL};
pub use upload::{Upload, Uploaded};

use self::info_cache::{InfoCache, Remembered};
use crate::{
    Config, Error, StoreKind,
    info::MediaInfo,
    keys::RecordingKeys,
    tombstones::{Revocation, Tombstones, Unservable},
};

/// How often the store is asked whether the recordings of the bodies on
/// their way were deleted meanwhile (see [`MediaStore::spawn_recheck`]).
pub const RECHECK_EVERY: Duration = Duration::from_secs(10);
/// Objects asked about at once then.
const RECHECK_CONCURRENCY: usize = 8;

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
    /// Metadata for playback; see `info_cache`.
    playback: Arc<InfoCache>,
    /// What must not be served; see `tombstones`.
    tombstones: Arc<Tombstones>,
    /// How often a body on its way makes sure its recording still exists.
    recheck_every: Duration,
    /// Decides stored-at times, the age of a crashed upload and how long
    /// metadata is remembered.
    clock: Arc<dyn Clock>,
    /// Signs the URLs playback GETs are redirected to (S3 redirect mode).
    #[cfg(feature = "s3")]
    redirect: Option<Arc<dyn object_store::signer::Signer>>,
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

/// What playback answers from: the metadata, and the version of the audio
/// object it describes when it was remembered from an earlier read.
#[derive(Debug, Clone)]
pub struct PlaybackInfo {
    pub info: MediaInfo,
    version: Option<String>,
}

impl PlaybackInfo {
    /// Whether the metadata was remembered (not read just now).
    pub fn is_remembered(&self) -> bool {
        self.version.is_some()
    }
}

/// The answer of [`MediaStore::read_playback`].
pub enum PlaybackBytes {
    Bytes(ByteStream),
    /// The range of a local file, open and checked, not read yet (the HTTP
    /// endpoint sends it with `sendfile(2)`).
    File(FileRange),
    /// The audio object is no longer the one the remembered metadata
    /// describes: look the metadata up afresh.
    Changed,
}

/// What reading the audio object found.
enum AudioRead {
    Found {
        /// The bytes of the object the answer holds.
        range: Range<u64>,
        /// The object's size and version (ETag).
        size: u64,
        version: Option<String>,
        bytes: PlaybackBytes,
    },
    /// `If-Match` failed: the object is not the version remembered.
    Changed,
    NotFound,
}

fn byte_stream(found: object_store::GetResult) -> ByteStream {
    match found.payload {
        // The local store: read in large pieces (see `file_read`).
        GetResultPayload::File(file, _) => file_read::stream(file, found.range),
        GetResultPayload::Stream(stream) => stream.map(|r| r.map_err(Error::from)).boxed(),
    }
}

impl MediaStore {
    pub fn new(objects: Arc<dyn ObjectStore>, limits: UploadLimits) -> Self {
        Self::with_clock(objects, limits, Arc::new(SystemClock))
    }

    pub fn with_clock(
        objects: Arc<dyn ObjectStore>,
        limits: UploadLimits,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            objects,
            limits,
            playback: Arc::new(InfoCache::new(INFO_TTL, INFO_CACHE_ENTRIES, clock.clone())),
            tombstones: Arc::new(Tombstones::settled()),
            recheck_every: RECHECK_EVERY,
            clock,
            #[cfg(feature = "s3")]
            redirect: None,
        }
    }

    /// Serves nothing until the deletions queued at archive-svc are known
    /// (see `tombstones`, `pending`).
    pub fn unsettled(mut self) -> Self {
        self.tombstones = Arc::new(Tombstones::unsettled());
        self
    }

    /// What must not be served, asked before every read.
    pub fn tombstones(&self) -> &Arc<Tombstones> {
        &self.tombstones
    }

    /// Bodies on their way have their recording looked for every `every`.
    pub fn with_recheck(mut self, every: Duration) -> Self {
        self.recheck_every = every;
        self
    }

    /// The check before a body of the recording is sent ([`Tombstones::watch`]);
    /// see [`MediaStore::spawn_recheck`] for a body that goes on long.
    pub fn watch(&self, keys: &RecordingKeys) -> Result<Revocation, Unservable> {
        self.tombstones.watch(keys)
    }

    /// A recording deleted through another replica was buried there, not
    /// here; its object is gone from the store, so every new request is 404
    /// here too, but a body already on its way would go on. So every
    /// [`RECHECK_EVERY`] the store is asked whether the objects of the
    /// bodies on their way for that long are still there, and the bodies of
    /// one that is not stop. Until `shutdown`.
    pub fn spawn_recheck(&self, shutdown: archive_common::shutdown::CancellationToken) {
        let (store, every) = (self.clone(), self.recheck_every);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let keys = store.tombstones.streaming_for(every);
                futures::stream::iter(keys)
                    .for_each_concurrent(RECHECK_CONCURRENCY, |key| {
                        let store = &store;
                        async move {
                            let Ok(path) = Path::parse(&key) else { return };
                            // A store that does not answer says nothing: the next round.
                            if let Err(object_store::Error::NotFound { .. }) =
                                store.objects.head(&path).await
                            {
                                tracing::info!(
                                    key,
                                    "a recording deleted elsewhere: its bodies on their way stop"
                                );
                                store.tombstones.stop_streams(&key);
                            }
                        }
                    })
                    .await;
            }
        });
    }

    /// Playback GETs are answered with a redirect to a URL `signer` signs.
    #[cfg(feature = "s3")]
    pub fn with_redirect(mut self, signer: Option<Arc<dyn object_store::signer::Signer>>) -> Self {
        self.redirect = signer;
        self
    }

    /// Where a playback GET of the recording is sent instead of being
    /// answered here, when playback is redirected to the store: a URL of the
    /// audio object presigned for GET and valid for `valid_for`. The store
    /// is not asked anything: it answers that URL itself (404 once the
    /// recording is deleted, 206 for a range, its own headers).
    pub async fn playback_redirect(
        &self,
        keys: &RecordingKeys,
        valid_for: Duration,
    ) -> Option<Result<String, Error>> {
        #[cfg(feature = "s3")]
        {
            let signed = self
                .redirect
                .as_ref()?
                .signed_url(axum::http::Method::GET, &keys.audio, valid_for)
                .await;
            Some(signed.map(String::from).map_err(Error::from))
        }
        #[cfg(not(feature = "s3"))]
        {
            let _ = (keys, valid_for);
            None
        }
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
            Ok(found) => Ok(byte_stream(found)),
            Err(object_store::Error::NotFound { .. }) => {
                Err(Error::NotFound(keys.id().to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The metadata playback answers from: remembered when `remembered_ok`
    /// and known, else read now. `None` when the recording does not exist.
    pub async fn playback_info(
        &self,
        keys: &RecordingKeys,
        remembered_ok: bool,
    ) -> Result<Option<PlaybackInfo>, Error> {
        if remembered_ok && let Some(r) = self.playback.get(keys.audio.as_ref()) {
            return Ok(Some(PlaybackInfo {
                info: r.info,
                version: Some(r.version),
            }));
        }
        Ok(self.info(keys).await?.map(|info| PlaybackInfo {
            info,
            version: None,
        }))
    }

    /// Streams `range` (checked against `playback.info`) of the file; a
    /// remembered `playback` is read only if the audio is still that version.
    /// Metadata read afresh is remembered with the version read.
    pub async fn read_playback(
        &self,
        keys: &RecordingKeys,
        playback: &PlaybackInfo,
        range: Range<u64>,
    ) -> Result<PlaybackBytes, Error> {
        if range.is_empty() {
            return Ok(PlaybackBytes::Bytes(futures::stream::empty().boxed()));
        }
        // A whole recording of a remembered version (If-Match pins its size)
        // is asked for without a Range: an S3 server then sends the object
        // as it is instead of cutting a range out of it.
        let whole = playback.version.is_some() && range == (0..playback.info.size_bytes);
        let mut options = GetOptions {
            range: (!whole).then(|| GetRange::Bounded(range.clone())),
            if_match: playback.version.clone(),
            ..GetOptions::default()
        };
        // The local store answers with the open file; others ignore this.
        options.extensions.insert(local::HandOverFile);
        let read = match self.objects.get_opts(&keys.audio, options).await {
            Ok(found) => AudioRead::Found {
                range: found.range.clone(),
                size: found.meta.size,
                version: found.meta.e_tag.clone(),
                bytes: match found.payload {
                    GetResultPayload::File(file, _) => {
                        PlaybackBytes::File(FileRange::new(file, found.range))
                    }
                    // S3 and memory: the body streamed as it arrives.
                    GetResultPayload::Stream(stream) => {
                        PlaybackBytes::Bytes(stream.map(|r| r.map_err(Error::from)).boxed())
                    }
                },
            },
            Err(object_store::Error::Precondition { .. }) => AudioRead::Changed,
            Err(object_store::Error::NotFound { .. }) => AudioRead::NotFound,
            Err(e) => return Err(e.into()),
        };
        let key = keys.audio.as_ref();
        match read {
            AudioRead::Found { range, .. } if whole && range != (0..playback.info.size_bytes) => {
                // If-Match held, yet the size is not the remembered one: a
                // store without strong ETags. Look again rather than mis-frame.
                self.playback.forget(key);
                Ok(PlaybackBytes::Changed)
            }
            AudioRead::Found {
                size,
                version,
                bytes,
                ..
            } => {
                self.remember(key, playback, size, version);
                Ok(bytes)
            }
            AudioRead::Changed => {
                self.playback.forget(key);
                Ok(PlaybackBytes::Changed)
            }
            AudioRead::NotFound => {
                self.playback.forget(key);
                Err(Error::NotFound(keys.id().to_string()))
            }
        }
    }

    /// Remembers metadata read afresh with the version of the audio just
    /// read. A size that disagrees means the file changed between the two
    /// reads: answer this once, but do not remember the pair.
    fn remember(&self, key: &str, playback: &PlaybackInfo, size: u64, version: Option<String>) {
        if playback.version.is_none()
            && size == playback.info.size_bytes
            && let Some(version) = version
        {
            let remembered = Remembered {
                info: playback.info.clone(),
                version,
            };
            self.playback.put(key, remembered);
        }
    }

    /// Deletes the recording. It is buried first (see `tombstones`): no
    /// byte of it is served from here on, whether the store deletes it now
    /// or fails to (then it stays buried, and the caller retries). Then the
    /// metadata, so a crash in between leaves only an invisible file that
    /// the next delete or upload clears. Returns whether there was anything
    /// to delete.
    pub async fn delete(&self, keys: &RecordingKeys) -> Result<bool, Error> {
        self.tombstones.bury(keys);
        self.playback.forget(keys.audio.as_ref());
        let had_info = self.remove(&keys.sidecar).await?;
        let had_audio = self.remove(&keys.audio).await?;
        // Gone from the store: it answers "not found" for the recording now.
        self.tombstones.unbury(keys);
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

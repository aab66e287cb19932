//! One upload, chunk by chunk: validate the MP3, hash (SHA-256, CRC-32) and
//! stream into a multipart upload of a staging object, all at once, holding
//! at most one part in memory. Only a complete, valid file is committed:
//! copied to its key if nothing is there yet, then made visible by writing
//! its metadata. Anything else — bad bytes, a broken client stream, a
//! dropped future — aborts and leaves nothing visible.

use std::{sync::Arc, time::Duration};

use object_store::{ObjectStore, PutMode, PutOptions, WriteMultipart, path::Path};
use sha2::{Digest, Sha256};

use super::MediaStore;
use crate::{Error, info::MediaInfo, keys::RecordingKeys, mp3::Mp3Validator};

/// Uploads of parts that may run concurrently before `write` waits.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// What a finished upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub info: MediaInfo,
    /// False when the same bytes were already stored.
    pub created: bool,
}

enum Target {
    /// A new recording: bytes go to a staging object.
    New {
        writer: Option<WriteMultipart>,
        staging: Path,
        validator: Mp3Validator,
    },
    /// The recording exists: the bytes are only compared with it.
    Existing(MediaInfo),
}

/// An upload in progress; see [`MediaStore::begin_upload`].
pub struct Upload {
    store: MediaStore,
    keys: RecordingKeys,
    target: Target,
    sha256: Sha256,
    crc32: crc32fast::Hasher,
    size: u64,
    /// Set once the staging object is complete, so `Drop` knows to delete it.
    staged: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("keys", &self.keys)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(super) async fn begin(store: MediaStore, keys: RecordingKeys) -> Result<Self, Error> {
        let target = match store.info(&keys).await? {
            Some(existing) => Target::Existing(existing),
            None => {
                let staging = keys.staging();
                let upload = store.objects.put_multipart(&staging).await?;
                Target::New {
                    writer: Some(WriteMultipart::new_with_chunk_size(
                        upload,
                        store.limits.part_bytes,
                    )),
                    staging,
                    validator: Mp3Validator::new(),
                }
            }
        };
        Ok(Self {
            store,
            keys,
            target,
            sha256: Sha256::new(),
            crc32: crc32fast::Hasher::new(),
            size: 0,
            staged: false,
        })
    }

    /// Takes the next bytes of the file. On an error the upload is over; drop
    /// it (or call [`Upload::abort`]) and nothing is stored.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if chunk.is_empty() {
            return Ok(());
        }
        let size = self.size + chunk.len() as u64;
        let limit = self.store.limits.max_upload_bytes;
        if size > limit {
            return Err(Error::TooLarge { limit });
        }
        self.size = size;
        self.sha256.update(chunk);
        self.crc32.update(chunk);
        match &mut self.target {
            Target::Existing(existing) => {
                if size > existing.size_bytes {
                    return Err(Error::AlreadyExists(self.keys.id().to_string()));
                }
            }
            Target::New {
                writer, validator, ..
            } => {
                validator.feed(chunk)?;
                let writer = writer.as_mut().expect("writer present until finish");
                writer.write(chunk);
                writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await?;
            }
        }
        Ok(())
    }

    /// Ends the file: validates it, completes the upload and commits it.
    pub async fn finish(mut self) -> Result<Uploaded, Error> {
        let size = self.size;
        let sha256: [u8; 32] = std::mem::take(&mut self.sha256).finalize().into();
        let crc32 = std::mem::take(&mut self.crc32).finalize();
        let id = self.keys.id();
        let (writer, staging, validator) = match &mut self.target {
            Target::Existing(existing) => {
                return if existing.same_content(size, &hex::encode(sha256)) {
                    Ok(Uploaded {
                        info: existing.clone(),
                        created: false,
                    })
                } else {
                    Err(Error::AlreadyExists(id.to_string()))
                };
            }
            Target::New {
                writer,
                staging,
                validator,
            } => (
                writer.take().expect("writer present until finish"),
                staging.clone(),
                std::mem::take(validator),
            ),
        };
        let mp3 = match validator.finish() {
            Ok(mp3) => mp3,
            Err(e) => {
                abort(writer).await;
                return Err(e.into());
            }
        };
        writer.finish().await?;
        self.staged = true;
        let info = MediaInfo::new(id, &mp3, size, sha256, crc32, self.store.clock.now());
        let outcome = commit(&self.store, &self.keys, &staging, info).await;
        if delete_quietly(&self.store.objects, &staging).await {
            self.staged = false;
        }
        outcome
    }

    /// Abandons the upload, removing whatever was written.
    pub async fn abort(mut self) {
        if let Target::New {
            writer, staging, ..
        } = &mut self.target
        {
            if let Some(w) = writer.take() {
                abort(w).await;
            }
            if self.staged && delete_quietly(&self.store.objects, staging).await {
                self.staged = false;
            }
        }
    }
}

/// Moves the staged file to its key, unless one is there, and publishes it.
async fn commit(
    store: &MediaStore,
    keys: &RecordingKeys,
    staging: &Path,
    info: MediaInfo,
) -> Result<Uploaded, Error> {
    let objects = &store.objects;
    let audio = &keys.audio;
    // Two attempts: the second after clearing a crashed upload's leftover file.
    for _ in 0..2 {
        match objects.copy_if_not_exists(staging, audio).await {
            Ok(()) => return publish(store, keys, info).await,
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        // A file is there. With metadata, it is a finished recording.
        if let Some(existing) = store.info(keys).await? {
            return compare(existing, &info);
        }
        // Without, it is an upload committing right now, or one that
        // crashed between copy and metadata long enough ago to be replaced.
        let meta = match objects.head(audio).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let age = store.clock.now() - meta.last_modified;
        if age.to_std().unwrap_or(Duration::ZERO) < store.limits.stale_after {
            return Err(Error::UploadInProgress(info.recording_id));
        }
        tracing::warn!(key = %audio, "replacing the file of an interrupted upload");
        match objects.delete(audio).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::UploadInProgress(info.recording_id))
}

/// Writes the metadata that makes the recording visible.
async fn publish(
    store: &MediaStore,
    keys: &RecordingKeys,
    info: MediaInfo,
) -> Result<Uploaded, Error> {
    let put = store
        .objects
        .put_opts(
            &keys.sidecar,
            info.to_json().into(),
            PutOptions::from(PutMode::Create),
        )
        .await;
    match put {
        Ok(_) => Ok(Uploaded {
            info,
            created: true,
        }),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let existing = store.require_info(keys).await?;
            compare(existing, &info)
        }
        Err(e) => Err(e.into()),
    }
}

impl Drop for Upload {
    /// A dropped upload (the client went away mid-stream) cleans up after
    /// itself in the background.
    fn drop(&mut self) {
        let Target::New {
            writer, staging, ..
        } = &mut self.target
        else {
            return;
        };
        let writer = writer.take();
        let staging = self.staged.then(|| staging.clone());
        if writer.is_none() && staging.is_none() {
            return;
        }
        let objects = Arc::clone(&self.store.objects);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(w) = writer {
                    abort(w).await;
                }
                if let Some(path) = staging {
                    delete_quietly(&objects, &path).await;
                }
            });
        }
    }
}

fn compare(existing: MediaInfo, ours: &MediaInfo) -> Result<Uploaded, Error> {
    if existing.same_content(ours.size_bytes, &ours.sha256) {
        Ok(Uploaded {
            info: existing,
            created: false,
        })
    } else {
        Err(Error::AlreadyExists(ours.recording_id.clone()))
    }
}

async fn abort(writer: WriteMultipart) {
    if let Err(e) = writer.abort().await {
        tracing::warn!(error = %e, "aborting a multipart upload failed");
    }
}

/// Deletes a staging object; failures are logged (a lifecycle rule sweeps them).
async fn delete_quietly(objects: &Arc<dyn ObjectStore>, path: &Path) -> bool {
    match objects.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => true,
        Err(e) => {
            tracing::warn!(key = %path, error = %e, "deleting a staging object failed");
            false
        }
    }
}

//! The local filesystem store: object_store's `LocalFileSystem` for
//! everything but reads, which it serves in fewer blocking-pool hops. Its own
//! `get` opens the file in one hop and reads it in another (8 KiB at a time);
//! a playback seek or a metadata read then paid two thread hand-offs (four
//! without remembered metadata), which dominated a 64 KiB answer. Here one
//! hop opens the file, checks the preconditions and reads the first piece,
//! so a small range or a sidecar is read in one hop, and the rest of a large
//! one follows piece by piece (see `file_read`). ETags are computed as
//! `LocalFileSystem` computes them, so both agree on versions.
//!
//! A read that carries the [`HandOverFile`] extension (HTTP playback) gets
//! the open, checked file itself (`GetResultPayload::File`) with nothing
//! read, so the bytes can go to the socket with `sendfile(2)`; that open and
//! `fstat` run on the calling thread, as a web server's do: they are
//! metadata look-ups in the kernel's caches, cheaper than the thread
//! hand-off that dominated a 64 KiB seek. Playback files stay open between
//! requests (see `open_files`): a seek then costs a `dup` instead of a path
//! walk, an open and the last close of the file.

use std::{
    fs::{File, Metadata},
    io::{self, Read, Seek, SeekFrom},
    ops::Range,
    path::PathBuf,
    sync::Arc,
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    Attributes, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
    local::LocalFileSystem, path::Path,
};

use super::{
    buffers,
    file_read::{FILE_PIECE_BYTES, pieces},
    open_files::OpenFiles,
};

const STORE: &str = "LocalFileSystem";

/// In [`GetOptions::extensions`]: answer with the open file
/// (`GetResultPayload::File`), checked against the options, instead of a stream.
/// The file may share its offset with other requests' (it is a `dup` of a
/// kept one): read it only at explicit offsets (`pread`, `sendfile`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HandOverFile;

#[derive(Debug)]
pub(crate) struct LocalStore {
    inner: LocalFileSystem,
    /// The directory `inner` maps object paths under.
    root: Option<PathBuf>,
    /// Files handed over for playback, kept open for the next seek.
    open: OpenFiles,
}

impl LocalStore {
    pub(crate) fn new(inner: LocalFileSystem) -> Self {
        let root = inner
            .path_to_filesystem(&Path::from("x"))
            .ok()
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
        Self {
            inner,
            root,
            open: OpenFiles::default(),
        }
    }

    /// Forgets the open file of `location`: it is about to change or go.
    fn changing(&self, location: &Path) {
        if let Ok(path) = self.file_path(location) {
            self.open.forget(&path);
        }
    }

    /// Where `location` is on disk. `LocalFileSystem` goes through a `file:`
    /// URL (a tenth of a seek's CPU); for the characters recording keys use,
    /// which that mapping leaves alone, joining to the root is the same path.
    fn file_path(&self, location: &Path) -> Result<PathBuf> {
        let key = location.as_ref();
        let plain = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        match &self.root {
            Some(root) if plain => Ok(root.join(key)),
            _ => self.inner.path_to_filesystem(location),
        }
    }
}

impl std::fmt::Display for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

fn generic(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: source.into(),
    }
}

/// The ETag `LocalFileSystem` gives a file: inode, mtime (µs) and size.
fn etag(metadata: &Metadata) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("{inode:x}-{mtime:x}-{:x}", metadata.len())
}

struct Opened {
    file: File,
    meta: ObjectMeta,
    range: Range<u64>,
    first: Bytes,
}

fn not_found(path: &std::path::Path, source: io::Error) -> object_store::Error {
    object_store::Error::NotFound {
        path: path.display().to_string(),
        source: source.into(),
    }
}

fn open(path: &std::path::Path) -> Result<File> {
    File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => not_found(path, e),
        _ => generic(e),
    })
}

/// Opens `path` and checks `options` against it: the file, its metadata and the range asked for.
fn open_checked(
    path: &std::path::Path,
    location: Path,
    options: &GetOptions,
) -> Result<(File, ObjectMeta, Range<u64>)> {
    let file = open(path)?;
    let metadata = file.metadata().map_err(generic)?;
    checked(file, &metadata, path, location, options)
}

/// Checks `options` against the open `file` (`metadata` is its own).
fn checked(
    file: File,
    metadata: &Metadata,
    path: &std::path::Path,
    location: Path,
    options: &GetOptions,
) -> Result<(File, ObjectMeta, Range<u64>)> {
    if metadata.is_dir() {
        return Err(not_found(
            path,
            io::Error::new(io::ErrorKind::NotFound, "is a directory"),
        ));
    }
    let meta = ObjectMeta {
        location,
        last_modified: metadata
            .modified()
            .map(DateTime::<Utc>::from)
            .map_err(generic)?,
        size: metadata.len(),
        e_tag: Some(etag(metadata)),
        version: None,
    };
    options.check_preconditions(&meta)?;
    let range = match &options.range {
        Some(r) => r.as_range(meta.size).map_err(generic)?,
        None => 0..meta.size,
    };
    Ok((file, meta, range))
}

/// Opens `path`, checks `options` against it and reads the first piece of the range.
fn open_and_read(path: PathBuf, location: Path, options: &GetOptions) -> Result<Opened> {
    let (mut file, meta, range) = open_checked(&path, location, options)?;
    let first_len = (range.end - range.start).min(FILE_PIECE_BYTES as u64);
    let mut first = buffers::take(first_len as usize);
    if first_len > 0 {
        file.seek(SeekFrom::Start(range.start)).map_err(generic)?;
        (&mut file)
            .take(first_len)
            .read_to_end(&mut first)
            .map_err(generic)?;
        if (first.len() as u64) < first_len {
            return Err(generic("the file is shorter than its metadata says"));
        }
    }
    Ok(Opened {
        file,
        meta,
        range,
        first: buffers::freeze(first),
    })
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.changing(location);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.changing(location);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head || options.version.is_some() {
            return self.inner.get_opts(location, options).await;
        }
        let path = self.file_path(location)?;
        let location = location.clone();
        if options.extensions.get::<HandOverFile>().is_some() {
            let (file, metadata) = match self.open.get(&path) {
                Some(kept) => kept,
                None => {
                    let file = open(&path)?;
                    let metadata = file.metadata().map_err(generic)?;
                    if metadata.is_file() {
                        self.open.keep(&path, &file);
                    }
                    (file, metadata)
                }
            };
            let (file, meta, range) = checked(file, &metadata, &path, location, &options)?;
            return Ok(GetResult {
                payload: GetResultPayload::File(file, path),
                meta,
                range,
                attributes: Attributes::default(),
            });
        }
        let opened = tokio::task::spawn_blocking(move || open_and_read(path, location, &options))
            .await
            .map_err(generic)??;
        let Opened {
            file,
            meta,
            range,
            first,
        } = opened;
        let rest = range.end - range.start - first.len() as u64;
        let rest_at = range.start + first.len() as u64;
        let head = futures::stream::iter((!first.is_empty()).then_some(Ok(first)));
        let stream = head
            .chain(pieces(Arc::new(file), rest_at, rest).map_err(generic))
            .boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    async fn get_range(&self, location: &Path, range: Range<u64>) -> Result<Bytes> {
        self.inner.get_range(location, range).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    async fn head(&self, location: &Path) -> Result<ObjectMeta> {
        self.inner.head(location).await
    }

    async fn delete(&self, location: &Path) -> Result<()> {
        self.changing(location);
        self.inner.delete(location).await
    }

    fn delete_stream<'a>(
        &'a self,
        locations: BoxStream<'a, Result<Path>>,
    ) -> BoxStream<'a, Result<Path>> {
        let locations = locations.inspect(|location| {
            if let Ok(location) = location {
                self.changing(location);
            }
        });
        self.inner.delete_stream(locations.boxed())
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        self.changing(to);
        self.inner.copy(from, to).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.changing(from);
        self.changing(to);
        self.inner.rename(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        self.changing(to);
        self.inner.copy_if_not_exists(from, to).await
    }

    async fn rename_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        self.changing(from);
        self.changing(to);
        self.inner.rename_if_not_exists(from, to).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::{GetRange, PutPayload};

    use super::*;

    fn stores() -> (tempfile::TempDir, LocalStore, LocalFileSystem) {
        let dir = tempfile::tempdir().unwrap();
        let ours = LocalStore::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let theirs = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        (dir, ours, theirs)
    }

    #[tokio::test]
    async fn reads_agree_with_local_file_system() {
        let (_dir, ours, theirs) = stores();
        let location = Path::from("a/b.mp3");
        let data: Vec<u8> = (0..3 * FILE_PIECE_BYTES + 17)
            .map(|i| (i % 253) as u8)
            .collect();
        ours.put(&location, PutPayload::from(data.clone()))
            .await
            .unwrap();
        let ranges = [
            None,
            Some(GetRange::Bounded(10..20)),
            Some(GetRange::Bounded(5..2 * FILE_PIECE_BYTES as u64 + 9)),
            Some(GetRange::Offset(FILE_PIECE_BYTES as u64)),
            Some(GetRange::Suffix(100)),
        ];
        for range in ranges {
            let options = || GetOptions {
                range: range.clone(),
                ..GetOptions::default()
            };
            let a = ours.get_opts(&location, options()).await.unwrap();
            let b = theirs.get_opts(&location, options()).await.unwrap();
            assert_eq!((&a.meta, &a.range), (&b.meta, &b.range), "{range:?}");
            let want = b.bytes().await.unwrap();
            assert_eq!(a.bytes().await.unwrap(), want, "{range:?}");
        }
    }

    #[tokio::test]
    async fn preconditions_and_missing_files_answer_like_local_file_system() {
        let (_dir, ours, _) = stores();
        let location = Path::from("x.json");
        ours.put(&location, PutPayload::from_static(b"{}"))
            .await
            .unwrap();
        let etag = ours.head(&location).await.unwrap().e_tag.unwrap();
        let matching = GetOptions {
            if_match: Some(etag.clone()),
            ..GetOptions::default()
        };
        let got = ours.get_opts(&location, matching).await.unwrap();
        assert_eq!(got.meta.e_tag.as_deref(), Some(etag.as_str()));
        assert_eq!(got.bytes().await.unwrap(), Bytes::from_static(b"{}"));
        let stale = GetOptions {
            if_match: Some("1-2-3".into()),
            ..GetOptions::default()
        };
        assert!(matches!(
            ours.get_opts(&location, stale).await,
            Err(object_store::Error::Precondition { .. })
        ));
        assert!(matches!(
            ours.get(&Path::from("nope.json")).await,
            Err(object_store::Error::NotFound { .. })
        ));
        assert!(matches!(
            ours.get(&Path::from("")).await,
            Err(object_store::Error::NotFound { .. }) | Err(object_store::Error::Generic { .. })
        ));
    }

    /// The whole file a playback read is handed, as text.
    async fn handed_over(store: &LocalStore, location: &Path) -> Result<String> {
        let mut options = GetOptions::default();
        options.extensions.insert(HandOverFile);
        let got = store.get_opts(location, options).await?;
        let GetResultPayload::File(file, _) = got.payload else {
            panic!("not handed over");
        };
        let mut bytes = vec![0; (got.range.end - got.range.start) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, got.range.start)
            .map_err(generic)?;
        Ok(String::from_utf8(bytes).unwrap())
    }

    #[tokio::test]
    async fn a_kept_open_file_never_outlives_its_deletion_or_replacement() {
        let (dir, ours, theirs) = stores();
        let location = Path::from("t/kept.mp3");
        ours.put(&location, PutPayload::from_static(b"one"))
            .await
            .unwrap();
        assert_eq!(handed_over(&ours, &location).await.unwrap(), "one");
        assert_eq!(handed_over(&ours, &location).await.unwrap(), "one");

        // Deleted through the store, and through another store on the same files.
        ours.delete(&location).await.unwrap();
        assert!(matches!(
            handed_over(&ours, &location).await,
            Err(object_store::Error::NotFound { .. })
        ));
        ours.put(&location, PutPayload::from_static(b"two"))
            .await
            .unwrap();
        assert_eq!(handed_over(&ours, &location).await.unwrap(), "two");
        theirs.delete(&location).await.unwrap();
        assert!(matches!(
            handed_over(&ours, &location).await,
            Err(object_store::Error::NotFound { .. })
        ));

        // Replaced behind the store's back (a rename over it).
        theirs
            .put(&location, PutPayload::from_static(b"three"))
            .await
            .unwrap();
        assert_eq!(handed_over(&ours, &location).await.unwrap(), "three");
        let elsewhere = dir.path().join("four");
        std::fs::write(&elsewhere, "four").unwrap();
        std::fs::rename(&elsewhere, dir.path().join("t/kept.mp3")).unwrap();
        assert_eq!(handed_over(&ours, &location).await.unwrap(), "four");
    }

    #[tokio::test]
    async fn a_handed_over_file_is_checked_like_a_read() {
        let (_dir, ours, theirs) = stores();
        let location = Path::from("t/r.mp3");
        let data: Vec<u8> = (0..100_000).map(|i| (i % 241) as u8).collect();
        ours.put(&location, PutPayload::from(data.clone()))
            .await
            .unwrap();
        let etag = theirs.head(&location).await.unwrap().e_tag.unwrap();
        let hand_over = |range: GetRange, if_match: &str| {
            let mut options = GetOptions {
                range: Some(range),
                if_match: Some(if_match.to_owned()),
                ..GetOptions::default()
            };
            options.extensions.insert(HandOverFile);
            options
        };
        let got = ours
            .get_opts(&location, hand_over(GetRange::Suffix(1000), &etag))
            .await
            .unwrap();
        assert_eq!(got.range, 99_000..100_000);
        assert_eq!(got.meta.e_tag.as_deref(), Some(etag.as_str()));
        let GetResultPayload::File(file, _) = got.payload else {
            panic!("a stream, not the file");
        };
        let mut tail = vec![0; 1000];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut tail, 99_000).unwrap();
        assert_eq!(tail, data[99_000..]);
        assert!(matches!(
            ours.get_opts(&location, hand_over(GetRange::Offset(0), "1-2-3"))
                .await,
            Err(object_store::Error::Precondition { .. })
        ));
        assert!(matches!(
            ours.get_opts(
                &Path::from("t/none.mp3"),
                hand_over(GetRange::Offset(0), &etag)
            )
            .await,
            Err(object_store::Error::NotFound { .. })
        ));
    }

    #[test]
    fn file_paths_agree_with_local_file_system() {
        let (_dir, ours, theirs) = stores();
        for key in [
            "tenants/10009/recordings/0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f.mp3",
            "tenants/10009/recordings/0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f.json",
            "staging/t/x/y.mp3",
            "a b/ü%.mp3",
            "x#1",
        ] {
            let location = Path::from(key);
            let want = theirs.path_to_filesystem(&location).ok();
            assert_eq!(ours.file_path(&location).ok(), want, "{key}");
        }
    }
}
